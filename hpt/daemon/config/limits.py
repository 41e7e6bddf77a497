"""``[limits]``: what one peer may take from the target (hpt.iscsi.limits.Limits)."""

from __future__ import annotations

from hpt.daemon.config.tables import Table
from hpt.iscsi.limits import Limits
from hpt.options import parse_size

#: key -> (lowest, highest) accepted; the defaults are Limits' own
LIMIT_RANGES = {
    "login_timeout": (1, 3600),
    "max_connections": (1, 1 << 20),
    "max_connections_per_address": (1, 1 << 20),
    "max_sessions_per_initiator": (1, 65535),
    "auth_delay": (0, 60),
    "auth_delay_max": (0, 600),
}
#: byte counts (an integer or a string such as "256M") -> (lowest, highest) accepted
MEMORY_RANGES = {
    "session_memory": (16 << 20, 1 << 40),
    "total_memory": (64 << 20, 1 << 40),
}


def _memory(table: Table, key: str, default: int) -> int:
    lo, hi = MEMORY_RANGES[key]
    if key not in table.data:
        return default
    try:
        value = parse_size(table.data[key])
    except ValueError as err:
        raise table.fail(key, str(err)) from None
    if not lo <= value <= hi:
        raise table.fail(key, f"must be {lo >> 20}M..{hi >> 40}T, got {value}")
    return value


def read_limits(root: Table) -> Limits:
    """The ``[limits]`` table (every key optional); ``auth_delay_max`` must not be below ``auth_delay``,
    nor ``total_memory`` below ``session_memory``."""
    table = root.table("limits", (*LIMIT_RANGES, *MEMORY_RANGES))
    default = Limits()
    values: dict[str, int] = {key: table.integer(key, int(getattr(default, key)), lo, hi)
                              for key, (lo, hi) in LIMIT_RANGES.items()}
    if values["auth_delay_max"] < values["auth_delay"]:
        raise table.fail("auth_delay_max", f"must be at least auth_delay ({values['auth_delay']})")
    for key in MEMORY_RANGES:
        values[key] = _memory(table, key, getattr(default, key))
    if values["total_memory"] < values["session_memory"]:
        raise table.fail("total_memory", f"must be at least session_memory ({values['session_memory']})")
    return Limits(**values)
