"""``[limits]``: what one peer may take from the target (hpt.iscsi.limits.Limits)."""

from __future__ import annotations

from hpt.daemon.config.tables import Table
from hpt.iscsi.limits import Limits

#: key -> (lowest, highest) accepted; the defaults are Limits' own
LIMIT_RANGES = {
    "login_timeout": (1, 3600),
    "max_connections": (1, 1 << 20),
    "max_connections_per_address": (1, 1 << 20),
    "max_sessions_per_initiator": (1, 65535),
    "auth_delay": (0, 60),
    "auth_delay_max": (0, 600),
}


def read_limits(root: Table) -> Limits:
    """The ``[limits]`` table (every key optional); ``auth_delay_max`` must not be below ``auth_delay``."""
    table = root.table("limits", tuple(LIMIT_RANGES))
    default = Limits()
    values = {key: table.integer(key, int(getattr(default, key)), lo, hi)
              for key, (lo, hi) in LIMIT_RANGES.items()}
    if values["auth_delay_max"] < values["auth_delay"]:
        raise table.fail("auth_delay_max", f"must be at least auth_delay ({values['auth_delay']})")
    return Limits(**values)
