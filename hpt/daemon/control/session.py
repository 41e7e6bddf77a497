"""``session.*`` and ``connection.*``: iSCSI sessions and their connections, listed and closed
(tgtadm ``--mode session`` and ``--mode connection``; a session's sid is its TSIH, RFC 7143 11.13.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from hpt.daemon.control.rpc import NOT_FOUND, Params, RpcError
from hpt.daemon.control.views import connection_view, session_view

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control
    from hpt.iscsi.connection import Connection
    from hpt.iscsi.session import Session

T = TypeVar("T")


def _narrow(items: list[T], p: Params, key: str, ident: Callable[[T], int], what: str) -> list[T]:
    """``items`` whose ``ident`` is the parameter ``key``, when it is given; NOT_FOUND if none is."""
    if not p.has(key):
        return items
    wanted = p.get(key, int)
    found = [item for item in items if ident(item) == wanted]
    if not found:
        raise RpcError(NOT_FOUND, f"can't find the {what} {wanted}")
    return found


def _sessions(ctl: Control, p: Params) -> list[Session]:
    """The sessions of the target named by ``tid``/``name`` (every session without one), by ``sid``."""
    if p.has("tid") or p.has("name"):
        sessions = ctl.server.sessions_of(ctl.target_name(p))
    else:
        sessions = ctl.server.sessions.all()
    return _narrow(sessions, p, "sid", lambda s: s.tsih, "session")


def show(ctl: Control, p: Params) -> list[dict[str, Any]]:
    with ctl.lock:
        return [session_view(ctl, s) for s in _sessions(ctl, p)]


def delete(ctl: Control, p: Params) -> dict[str, Any]:
    """Close a session's connections (its I_T nexus is then lost, SAM-5 6.3.4)."""
    p.get("sid", int)
    with ctl.lock:
        sessions = _sessions(ctl, p)
        for session in sessions:
            session.close("closed by the administrator")
        return {"closed": [s.tsih for s in sessions]}


def _connections(ctl: Control, p: Params) -> list[Connection]:
    sessions = _sessions(ctl, p)
    conns = [c for _, c in ctl.server.connections() if c.session in sessions]
    return _narrow(conns, p, "cid", lambda c: c.cid, "connection")


def connection_show(ctl: Control, p: Params) -> list[dict[str, Any]]:
    with ctl.lock:
        sessions = _sessions(ctl, p)
        return [connection_view(pc, c) | {"sid": c.session.tsih} for pc, c in ctl.server.connections()
                if c.session in sessions and c.session is not None]


def connection_delete(ctl: Control, p: Params) -> dict[str, Any]:
    p.get("sid", int)
    p.get("cid", int)
    with ctl.lock:
        conns = _connections(ctl, p)
        for conn in conns:
            conn.kill("closed by the administrator")
        return {"closed": [c.cid for c in conns]}
