"""LU parameters: the keys every device type accepts, and :class:`LuParams` from resolved values.

A LUN's settings are these common keys (identification and access, SPC-5) plus the keys of its
device profile (``DeviceProfile.options``); both are :mod:`hpt.options` schemas, so a configuration
file, a test or a control plane resolve them the same way and :func:`lu_params` turns the values
into the parameters a :class:`~hpt.scsi.lu.LogicalUnit` runs with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from hpt.options import Option
from hpt.scsi.lu import LuParams

if TYPE_CHECKING:
    from hpt.options import Check
    from hpt.scsi.core.profile import DeviceProfile


def _ascii(limit: int) -> Check:
    """Printable ASCII of at most ``limit`` characters (SPC-5 4.3.1), as INQUIRY and VPD data hold."""

    def check(value: str, values: object) -> str | None:
        if len(value) > limit or not all(" " <= c <= "~" for c in value):
            return f'must be at most {limit} printable ASCII characters, got "{value}"'
        return None

    return check


def naa_error(text: str, values: object = None) -> str | None:
    """Why ``text`` is not an NAA designator (SPC-5 7.7.6.6.1): ``"0x"`` + 16 hex digits of NAA 2, 3
    or 5, or 32 of NAA 6; "" (derived) is fine."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    ok = not text or re.fullmatch(r"[0-9a-fA-F]+", digits) is not None and (
        (len(digits) == 16 and digits[0] in "235") or (len(digits) == 32 and digits[0] == "6")
    )
    return None if ok else f'must be "0x" + 16 hex digits (NAA 2, 3 or 5) or 32 (NAA 6), got "{text}"'


COMMON_OPTIONS = (
    Option("serial", str, "", "unit serial number (VPD page 80h)", check=_ascii(64)),
    Option("wwn", str, "", 'NAA designator (VPD page 83h): "0x" + 16 hex digits of NAA 2, 3 or 5, '
           "or 32 of NAA 6; \"\" lets the LU derive one", check=naa_error),
    Option("vendor", str, "HPT", "T10 vendor identification (SPC-5 6.7.2)", check=_ascii(8)),
    Option("product", str, None, "product identification; default: the device type's", check=_ascii(16)),
    Option("revision", str, "0001", "product revision level", check=_ascii(4)),
    Option("readonly", bool, False, "write-protected"),
    Option("removable", bool, False, "RMB bit: removable medium"),
    Option("queue_depth", int, 128,
           "commands the LU runs or holds at once; beyond: TASK SET FULL (SAM-5 5.3.3)",
           lo=1, hi=65536),
)

_FIELDS = frozenset(f.name for f in fields(LuParams)) - {"extra", "naa"}


def lu_params(profile: DeviceProfile, values: Mapping[str, Any]) -> LuParams:
    """The parameters of a LU of ``profile`` from the resolved values of :data:`COMMON_OPTIONS` and
    ``profile.options``; the profile's keys that are not LuParams fields go to ``extra``."""
    wwn = values.get("wwn", "")
    given: dict[str, Any] = {o.key: values[o.key] for o in COMMON_OPTIONS if o.key in _FIELDS}
    given["product"] = values.get("product") or profile.product
    given["naa"] = int(wwn, 16) if wwn else None
    extra: dict[str, Any] = {}
    for opt in profile.options:
        (given if opt.key in _FIELDS else extra)[opt.key] = values[opt.key]
    return LuParams(**given, extra=extra)
