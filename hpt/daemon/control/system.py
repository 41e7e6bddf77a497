"""``sys.*``: the daemon as a whole: show, the running configuration as TOML (``hptadm --dump``),
reload, state, and stop (tgtadm ``--mode sys``)."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from hpt.daemon.control.rpc import IN_USE, INVALID_PARAMS, Params, RpcError
from hpt.daemon.control.target import STATES

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control


def _version() -> str:
    try:
        return version("hpt")
    except PackageNotFoundError:
        return "unknown"


def show(ctl: Control, p: Params) -> dict[str, Any]:
    srv = ctl.server
    with ctl.lock:
        names = [t.name for t in srv.config.targets]
        return {
            "version": _version(), "pid": os.getpid(),
            "state": "offline" if names and srv.offline >= set(names) else "ready",
            "config": str(ctl.source) if ctl.source else None,
            "portals": [{"address": pc.address, "transport": pc.transport, "group": pc.group}
                        for pc in srv.portal_configs],
            "targets": len(names), "sessions": len(srv.sessions.all()),
            "fcoe_ports": len(srv.fcoe_ports),
        }  # fmt: skip


def dump(ctl: Control, p: Params) -> str:
    with ctl.lock:
        return ctl.document.text("the running configuration of hptd (hptadm --dump)")


def reload(ctl: Control, p: Params) -> dict[str, list[str]]:
    return ctl.reload(force=p.get("force", bool, False))


def update(ctl: Control, p: Params) -> dict[str, Any]:
    """``state``: every target ready, or offline (refusing new logins)."""
    if p.get("param", str).lower() != "state":
        raise RpcError(INVALID_PARAMS, "the system has one setting, state (ready or offline)")
    value = p.get("value", str)
    if value not in STATES:
        raise RpcError(INVALID_PARAMS, f"state must be ready or offline, got {value}")
    with ctl.lock:
        names = {t.name for t in ctl.server.config.targets}
        if value == "offline":
            ctl.server.offline |= names
        else:
            ctl.server.offline -= names
    return {"state": value}


def stop(ctl: Control, p: Params) -> dict[str, Any]:
    """Stop hptd as SIGTERM does; refused while sessions are logged in, unless ``force``."""
    sessions = [s for s in ctl.server.sessions.all() if s.session_type == "Normal"]
    if sessions and not p.get("force", bool, False):
        raise RpcError(IN_USE, f"{len(sessions)} session(s) are logged in; use --force")
    if ctl.shutdown is not None:
        ctl.shutdown()
    return {"stopping": True}
