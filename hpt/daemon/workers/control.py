"""hptadm's control socket with ``workers = N``: the main process serves it, and runs each request in
every worker, in turn and one request at a time. Each worker has the control plane of a single hptd
(``hpt.daemon.control``) over its own targets and LUs, so a change (a target, a LUN, an account, a
reload) is validated and applied by each, to the same configuration. A change is first checked by
every worker (built and discarded: ``Control.checking``) and applied only when none refuses it, so a
LUN in use on one worker is refused whole, not deleted from the others. The main process combines the
answers (``COMBINE``, one row per method that needs more than the first worker's answer) and follows
the portals the workers now serve with its listening sockets."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hpt.daemon.control.methods import HANDLERS
from hpt.daemon.control.rpc import INTERNAL_ERROR, NOT_FOUND, Method, Params, RpcError
from hpt.daemon.workers.channel import Message

if TYPE_CHECKING:
    from hpt.daemon.config import PortalConfig
    from hpt.daemon.control import Control
    from hpt.daemon.workers.supervisor import Workers

log = logging.getLogger("hpt.daemon.workers")

#: One worker's answer: its result, or the error it raised.
Answer = Any
Combine = Callable[[list[Answer]], Any]

#: Methods whose change goes through ``Control.change`` or ``Control.reload``: checked by every worker
#: before any applies it.
CHANGES = frozenset({"target.new", "target.delete", "target.update", "target.bind", "target.unbind",
                     "lun.new", "lun.delete", "lun.update", "account.new", "account.delete",
                     "account.bind", "account.unbind", "portal.new", "portal.delete", "sys.reload"})
#: Methods that change nothing: the main process need not follow their portals.
READ_ONLY = frozenset({"target.show", "lun.stat", "account.show", "portal.show", "session.show",
                       "connection.show", "sys.show", "sys.dump"})


# -- in a worker ---------------------------------------------------------------------------------
def run_control(served: dict[str, Method], m: Message, ctl: Control) -> Message:
    """Run the request ``m`` names with this worker's control plane (``m["check"]``: only check the
    change): its result or its error."""
    method = served.get(m["method"])
    if method is None:
        return {"rpc": RpcError(NOT_FOUND, f"no method {m['method']!r}").as_dict()}
    try:
        if m.get("check"):
            with ctl.checking():
                return {"result": method(Params(m["params"]))}
        return {"result": method(Params(m["params"]))}
    except RpcError as err:
        return {"rpc": err.as_dict()}


def portal_list(portals: list[PortalConfig]) -> list[dict[str, Any]]:
    return [{"host": pc.host, "port": pc.port, "group": pc.group, "transport": pc.transport,
             "address": pc.address} for pc in portals]


# -- combining the workers' answers in the main process -------------------------------------------
def _errors(answers: list[Answer]) -> list[RpcError]:
    return [a for a in answers if isinstance(a, RpcError)]


def _same(answers: list[Answer]) -> Any:
    """Every worker must agree: the first error if any (a change one worker refused after another made
    it leaves them apart, which is logged), else the first worker's result."""
    errors = _errors(answers)
    if errors:
        if len(errors) < len(answers):
            log.error("workers disagree on a control request: %s", errors[0].message)
        raise errors[0]
    return answers[0]


def _found(answers: list[Answer]) -> list[Any]:
    """The results of the workers that found what was named; NOT_FOUND only if none did."""
    errors = _errors(answers)
    if any(e.code != NOT_FOUND for e in errors):
        raise next(e for e in errors if e.code != NOT_FOUND)
    results = [a for a in answers if not isinstance(a, RpcError)]
    if not results:
        raise errors[0]
    return results


def _concat(answers: list[Answer]) -> list[Any]:
    """Sessions and connections: each lives in one worker."""
    return [item for result in _found(answers) for item in result]


def _closed(answers: list[Answer]) -> dict[str, list[int]]:
    return {"closed": [x for result in _found(answers) for x in result["closed"]]}


def _targets(answers: list[Answer]) -> list[dict[str, Any]]:
    """The first worker's targets, each with the sessions of every worker."""
    first, *others = _found(answers)
    for target in first:
        for other in others:
            target["sessions"] += next((t["sessions"] for t in other if t["name"] == target["name"]), [])
    return first


def _counters(answers: list[Answer]) -> list[dict[str, Any]]:
    """Each LU's counters summed over the workers."""
    first, *others = _found(answers)
    for lu in first:
        for other in others:
            theirs = next((o for o in other if (o["name"], o["lun"]) == (lu["name"], lu["lun"])), None)
            for key, value in (theirs or {}).get("counters", {}).items():
                if isinstance(value, int | float):
                    lu["counters"][key] = lu["counters"].get(key, 0) + value
    return first


def _system(answers: list[Answer]) -> dict[str, Any]:
    """hptd as a whole: the main process's pid, the sessions of every worker."""
    _same(answers)  # any worker's error is the answer
    first = dict(answers[0])
    first["sessions"] = sum(a["sessions"] for a in answers)
    first["pid"] = os.getpid()
    first["workers"] = len(answers)
    return first


COMBINE: dict[str, Combine] = {
    "target.show": _targets, "lun.stat": _counters, "sys.show": _system,
    "session.show": _concat, "connection.show": _concat,
    "session.delete": _closed, "connection.delete": _closed,
}  # fmt: skip


def methods_of(workers: Workers, shutdown: Callable[[], None]) -> dict[str, Method]:
    """Every control method, run in every worker and combined; ``sys.stop`` then stops hptd."""
    served = {name: partial(_everywhere, workers, name) for name in HANDLERS}
    served["sys.stop"] = partial(_stop, workers, shutdown)
    return served


def _everywhere(workers: Workers, name: str, p: Params) -> Any:
    if name in CHANGES:  # every worker checks it first: the first refusal is the answer, nothing changed
        errors = _errors(workers.control(name, p.values, follow=False, check=True))
        if errors:
            raise errors[0]
    answers = workers.control(name, p.values, follow=name not in READ_ONLY, keep=name in CHANGES)
    return COMBINE.get(name, _same)(answers)


def _stop(workers: Workers, shutdown: Callable[[], None], p: Params) -> Any:
    """As one hptd: refused while sessions are logged in (in any worker), unless ``force``."""
    result = _same(workers.control("sys.stop", p.values, follow=False))
    shutdown()
    return result


def answer_of(reply: Message) -> Answer:
    """A worker's reply to ``control`` as its result or error."""
    if "rpc" in reply:
        err = reply["rpc"]
        return RpcError(err["code"], err["message"], err.get("data"))
    return reply["result"]


def internal(err: Exception) -> RpcError:
    return RpcError(INTERNAL_ERROR, f"a worker could not answer: {err}")
