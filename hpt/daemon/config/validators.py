"""Checks of single values: iSCSI names, iSCSI keys, portal addresses, networks, CHAP secrets, sizes,
interface names and world wide names. Each returns the value or says what is wrong, without knowing
where in the file the value was written."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import fields

from hpt.daemon.config.schema import DEFAULT_PORT, IpNetwork
from hpt.daemon.config.tables import did_you_mean
from hpt.iscsi.keys import KEYS, Kind
from hpt.iscsi.negotiation import TargetPolicy
from hpt.options import parse_size

__all__ = [
    "CHAP_SECRET_BYTES", "CONFIGURABLE_KEYS", "MAX_NAME_BYTES", "chap_secret_error", "derived_serial",
    "interface_error", "iscsi_key_problem", "iscsi_name_error", "parse_address", "parse_network",
    "parse_port_wwn", "parse_size",
]  # fmt: skip

CHAP_SECRET_BYTES = (12, 255)  # RFC 7143 12.1.3: at least 96 bits
MAX_NAME_BYTES = 223  # RFC 7143 4.2.7.1

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_IQN = re.compile(rf"iqn\.\d{{4}}-(?:0[1-9]|1[0-2])\.{_LABEL}(?:\.{_LABEL})*(?::[a-z0-9.:-]*)?")


def iscsi_name_error(name: str) -> str | None:
    """Why ``name`` is not an iSCSI name in iqn., eui. or naa. form (RFC 7143 4.2.7), or None."""
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    if name != name.lower() and not name.lower().startswith(("eui.", "naa.")):
        return f'iSCSI names are lowercase (did you mean "{name.lower()}"?)'
    if name.startswith("iqn."):
        if not _IQN.fullmatch(name):
            return (
                'expected "iqn.YYYY-MM.reversed.domain[:unique]" of lowercase letters, digits, "-", ".", ":"'
            )
        return None
    if name.lower().startswith("eui."):
        return None if re.fullmatch(r"eui\.[0-9A-Fa-f]{16}", name) else 'expected "eui." and 16 hex digits'
    if name.lower().startswith("naa."):
        ok = re.fullmatch(r"naa\.(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})", name)
        return None if ok else 'expected "naa." and 16 or 32 hex digits'
    return 'must start with "iqn.", "eui." or "naa."'


# -- iSCSI key overrides: the key table (hpt/iscsi/keys.py) names what TargetPolicy can take ---------

_POLICY_FIELDS = {f.name for f in fields(TargetPolicy)}
CONFIGURABLE_KEYS = tuple(k for k, kd in KEYS.items() if kd.field in _POLICY_FIELDS and k != "TargetAlias")


def iscsi_key_problem(name: str) -> str | None:
    """Why ``name`` cannot be set in an ``[iscsi]`` table, or None."""
    if name in CONFIGURABLE_KEYS:
        return None
    kd = KEYS.get(name)
    if name == "TargetAlias":
        return "set the target's alias key instead"
    if kd is None:
        return f"not an iSCSI key a target can configure{did_you_mean(name, CONFIGURABLE_KEYS)}"
    if kd.kind is Kind.OBSOLETE:
        return f"obsolete key ({kd.section})"
    return f"not configurable: it is negotiated or declared per login ({kd.section})"


# -- addresses --------------------------------------------------------------------------------------


def parse_address(text: str) -> tuple[str, int]:
    """``a.b.c.d[:port]`` or ``[v6][:port]`` -> (IP literal, port); ValueError says what is wrong."""
    m = re.fullmatch(r"\[([^\]]+)\](?::(.*))?", text)
    if m is not None:
        host, port = m[1], m[2]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f'"{host}" is not an IPv6 address') from None
    elif text.count(":") > 1:
        raise ValueError(f'IPv6 addresses go in brackets, e.g. "[{text}]:{DEFAULT_PORT}"')
    else:
        host, _, port = text.partition(":")
        port = port if ":" in text else None
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f'"{host}" is not an IPv4 address (give an IP literal)') from None
    if port is None:
        return host, DEFAULT_PORT
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f'port must be 1..65535, got "{port}"')
    return host, int(port)


def parse_network(text: str) -> IpNetwork:
    """A CIDR network (a bare address is one host); ValueError suggests the network meant."""
    try:
        return ipaddress.ip_network(text)
    except ValueError as err:
        hint = ""
        try:
            hint = f' (did you mean "{ipaddress.ip_network(text, strict=False)}"?)'
        except ValueError:
            pass
        raise ValueError(f'"{text}" is not a CIDR network: {err}{hint}') from None


# -- CHAP, LUNs, FCoE ports -------------------------------------------------------------------------


def chap_secret_error(secret: str) -> str | None:
    """Why ``secret`` cannot be a CHAP secret (RFC 7143 12.1.3: 96 bits at least), or None."""
    lo, hi = CHAP_SECRET_BYTES
    n = len(secret.encode())
    return None if lo <= n <= hi else f"must be {lo}..{hi} bytes (RFC 7143 12.1.3), got {n}"


def derived_serial(target_name: str, lun: int) -> str:
    """A stable unit serial number (VPD page 80h) from the target name and LUN."""
    return hashlib.sha256(f"{target_name}/{lun}".encode()).hexdigest()[:16]


def interface_error(name: str) -> str | None:
    """Why ``name`` cannot be a Linux network interface name (at most 15 characters), or None."""
    if not 0 < len(name) <= 15 or any(c in name for c in "/ \t:") or name in (".", ".."):
        return f'"{name}" is not a network interface name'
    return None


def parse_port_wwn(text: str) -> int:
    """A Fibre Channel world wide name (``"20:00:52:54:00:aa:00:01"``, ``"0x…"``, ``"naa.…"``)."""
    from hpt.fcoe.frame import parse_wwn

    try:
        return parse_wwn(text)
    except ValueError:
        raise ValueError(f'"{text}" is not a world wide name (e.g. "20:00:52:54:00:aa:00:01")') from None
