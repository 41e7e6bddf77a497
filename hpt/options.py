"""Option schemas: the keys a device profile or a store kind accepts, with their types and limits.

A device profile (``hpt.scsi.core.profile``) and a store kind (``hpt.store.registry``) each declare a
tuple of :class:`Option`. The daemon's configuration reader checks a LUN's TOML table against the
schemas of its ``type`` and its ``store`` and reports any problem with the key and its line; code that
builds LUs without a file (tests, plug-ins, the control plane) goes through :func:`resolve` to get the
same checks and defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()  # the default of an option that must be given

#: ``check(value, all_values)`` returns a problem ("must be ...") or None; a problem that belongs to
#: another key (a missing value another one needs) is raised as that key's OptionError.
Check = Callable[[Any, Mapping[str, Any]], "str | None"]

_SIZE_RE = re.compile(r"\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*")


class OptionError(ValueError):
    """A value an option does not accept; ``key`` names the option."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def parse_size(value: int | str) -> int:
    """Bytes from an integer or a string such as ``"4096"``, ``"512M"``, ``"1G"``, ``"2TiB"`` (binary)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f'must be a byte count or a string like "1G", got {show(value)}')
    if isinstance(value, int):
        size = value
    else:
        m = _SIZE_RE.fullmatch(value.upper())
        if m is None:
            raise ValueError(f'must be bytes or a number with a K/M/G/T suffix, got "{value}"')
        size = int(m[1]) << (10 * " KMGT".index(m[2] or " "))
    if size <= 0:
        raise ValueError(f"must be positive, got {show(value)}")
    return size


def show(value: object) -> str:
    """A value as a configuration file writes it: strings quoted, booleans lowercase."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


@dataclass(frozen=True, slots=True)
class Option:
    """One key: its type, default, limits and meaning.

    ``kind`` is ``bool``, ``int``, ``str``, ``"size"`` (bytes: an integer or ``"64M"``, see
    :func:`parse_size`) or ``"path"`` (a non-empty string naming a file, or "" when that is the default:
    none; a configuration file's reader takes relative paths from the file's directory). ``lo``/``hi``
    bound integers.
    """

    key: str
    kind: type | str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[Any, ...] = ()
    lo: int | None = None
    hi: int | None = None
    check: Check | None = None

    def convert(self, value: Any) -> Any:
        """The value in this option's type, or OptionError saying what is wrong."""
        kind = self.kind
        if kind == "size":
            try:
                value = parse_size(value)
            except ValueError as err:
                raise OptionError(self.key, str(err)) from None
        elif kind is bool:
            if not isinstance(value, bool):
                raise OptionError(self.key, f"must be true or false, got {show(value)}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise OptionError(self.key, f"must be an integer, got {show(value)}")
        elif kind in (str, "path") and not isinstance(value, str):
            raise OptionError(self.key, f"must be a string, got {show(value)}")
        elif kind == "path" and not value and self.default != "":
            raise OptionError(self.key, "must name a file, got an empty string")
        if self.choices and value not in self.choices:
            raise OptionError(self.key, f"must be {_alternatives(self.choices)}, got {show(value)}")
        if isinstance(value, int) and not isinstance(value, bool):
            self._check_range(value)
        return value

    def _check_range(self, value: int) -> None:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None and not lo <= value <= hi:
            raise OptionError(self.key, f"must be {lo}..{hi}, got {value}")
        if lo is not None and value < lo:
            raise OptionError(self.key, f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            raise OptionError(self.key, f"must be at most {hi}, got {value}")


def _alternatives(choices: tuple[Any, ...]) -> str:
    shown = [show(c) if isinstance(c, str) else str(c) for c in choices]
    if len(shown) == 2:
        return f"{shown[0]} or {shown[1]}"
    return "one of " + ", ".join(shown)


def resolve(schema: Iterable[Option], given: Mapping[str, Any], what: str = "") -> dict[str, Any]:
    """Check ``given`` against ``schema``: unknown keys, missing required ones, types, limits and
    cross-checks. Returns every option's value (defaults filled in). Raises OptionError.

    A value of None for an option whose default is None counts as not given, so resolved values
    resolve again to themselves. ``what`` (e.g. ``store = "ram"``) is named in unknown-key and
    required-key errors."""
    options = {o.key: o for o in schema}
    for key in given:
        if key not in options:
            known = ", ".join(sorted(options)) or "none"
            raise OptionError(key, f"unknown key{f' for {what}' if what else ''} (known: {known})")
    values: dict[str, Any] = {}
    for key, opt in options.items():
        if key in given and not (given[key] is None and opt.default is None):
            values[key] = opt.convert(given[key])
        elif opt.default is REQUIRED:
            raise OptionError(key, f"required{f' for {what}' if what else ''}")
        else:
            values[key] = opt.default
    for key, opt in options.items():
        if opt.check is not None and values[key] is not None:
            problem = opt.check(values[key], values)
            if problem:
                raise OptionError(key, problem)
    return values
