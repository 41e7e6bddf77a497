"""The control socket's methods, by name: one table, built here from the handler modules."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hpt.daemon.control import account, faults, lun, portal, session, system, target
from hpt.daemon.control.rpc import Method, Params

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control

Handler = Callable[["Control", Params], Any]

HANDLERS: dict[str, Handler] = {
    "target.show": target.show, "target.new": target.new, "target.delete": target.delete,
    "target.update": target.update, "target.bind": target.bind, "target.unbind": target.unbind,
    "lun.new": lun.new, "lun.delete": lun.delete, "lun.update": lun.update, "lun.stat": lun.stat,
    "lun.inject": faults.inject, "lun.clear": faults.clear,
    "account.show": account.show, "account.new": account.new, "account.delete": account.delete,
    "account.bind": account.bind, "account.unbind": account.unbind,
    "portal.show": portal.show, "portal.new": portal.new, "portal.delete": portal.delete,
    "session.show": session.show, "session.delete": session.delete,
    "connection.show": session.connection_show, "connection.delete": session.connection_delete,
    "sys.show": system.show, "sys.dump": system.dump, "sys.reload": system.reload,
    "sys.update": system.update, "sys.stop": system.stop,
}  # fmt: skip


def methods(ctl: Control, extra: dict[str, Handler] | None = None) -> dict[str, Method]:
    """Every method bound to ``ctl`` (``extra`` adds more, e.g. statistics)."""
    return {name: partial(handler, ctl) for name, handler in (HANDLERS | (extra or {})).items()}
