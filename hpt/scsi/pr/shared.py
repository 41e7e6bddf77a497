"""Persistent reservations shared by the gateways serving one LU (SPC-5 5.13 across hptd processes).

When the LU's store offers a shared object (``BackingStore.shared_state("pr")``: the rbd store's is a
RADOS object beside the image), the LU's registrations and reservation live there as JSON, with the
object's version. A PERSISTENT RESERVE OUT reads it, runs on that state and writes it back only if no
other gateway changed it meanwhile (compare-and-swap; else it runs again on the newer state), then
notifies every gateway and waits for each to have loaded the new state and queued the unit attentions
for its own I_T nexuses (REGISTRATIONS PREEMPTED, RESERVATIONS RELEASED ...): so when the command ends,
what it did is enforced through every gateway. PERSISTENT RESERVE IN reads the object first. The
conflict check of each command reads this process's copy, which the notifications keep current.
A LOGICAL UNIT RESET's unit attention reaches the other gateways' I_T nexuses the same way (SAM-5 6.3.3),
and so do the states a SET TARGET PORT GROUPS sets (SPC-5 6.46): explicit ALUA across the gateways,
and what the layers above share through :meth:`SharedReservations.share` (the mode pages a MODE SELECT
sets, SPC-5 6.13; the rest of a LU reset).
"""

from __future__ import annotations

import errno
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.alua import AluaState
from hpt.scsi.core.constants import Asc, SenseKey
from hpt.scsi.pr.persistent import Registration
from hpt.scsi.pr.persistent_store import apply_state, encode_state

if TYPE_CHECKING:
    from hpt.scsi.pr.reservations import Reservations
    from hpt.store.shared import SharedObject

log = logging.getLogger("hpt.scsi")
TRIES = 16  # compare-and-swap attempts of one PERSISTENT RESERVE OUT before it gives up


class SharedStateLost(OSError):
    """Other gateways kept changing the shared state: the command ends as if the cluster had not
    answered in time (ETIMEDOUT: LOGICAL UNIT COMMUNICATION TIME-OUT), and the initiator retries."""


def _ident(reg: Registration) -> dict[str, Any]:
    return {"name": reg.name, "isid": reg.isid, "rtpi": reg.rtpi, "all_tg_pt": reg.all_tg_pt}


class SharedReservations:
    """One LU's persistent reservation state kept in ``obj`` for every gateway (module docstring)."""

    def __init__(self, pr: Reservations, obj: SharedObject) -> None:
        self.pr, self.obj = pr, obj
        self.me = uuid.uuid4().hex  # this gateway, so it skips its own notifications
        self.version = 0
        self._data = b""
        self._events: list[dict[str, Any]] = []  # unit attentions for the other gateways' nexuses
        #: What the layers above share through this object, set by the target that has the LU:
        #: "mode" (the pages a MODE SELECT set elsewhere), "reset" (the rest of a LOGICAL UNIT RESET
        #: elsewhere: mode pages, the device's own state). Run under the LU's lock.
        self.handlers: dict[str, Callable[[Any], None]] = {}
        obj.watch(self._notified)
        with pr.lu.lock:
            self.refresh()

    def refresh(self) -> None:
        """Load the shared state if another gateway changed it (the caller holds the LU's lock)."""
        data, version = self.obj.read()
        if version != self.version:
            self.version, self._data = version, data
            self._apply(data)

    def _apply(self, data: bytes) -> None:
        try:
            doc = json.loads(data) if data else {"registrations": [], "reservation": None, "generation": 0}
            apply_state(self.pr, doc)
            self.pr.spc2_holder = doc.get("spc2")  # SPC-2 RESERVE's holder: shared, never persisted
        except (ValueError, KeyError, IndexError, TypeError) as err:
            log.error("%s: ignoring damaged persistent reservation state: %s", self.obj.name, err)

    def update(self, change: Callable[[], None]) -> None:
        """Run ``change`` (a PERSISTENT RESERVE OUT service action, under the LU's lock) on the current
        shared state and store the result; then notify the other gateways, with the LU's lock let go
        meanwhile (their handlers may be waiting for theirs while this one waits for them)."""
        for _ in range(TRIES):
            self.refresh()
            self._events = []
            try:
                change()
            except BaseException:  # a SenseError or conflict: the stored state stays, and so does ours
                self._apply(self._data)
                raise
            data = json.dumps(encode_state(self.pr) | {"spc2": self.pr.spc2_holder}, sort_keys=True).encode()
            if data == self._data:
                return
            version = self.obj.write(data, self.version)
            if version is not None:
                self.version, self._data = version, data
                break
        else:
            raise SharedStateLost(errno.ETIMEDOUT, f"{self.obj.name}: changed by other gateways {TRIES} "
                                                   "times in a row")
        self._send({"ua": self._events})

    def queue(self, asc: Asc, regs: list[Registration]) -> None:
        """Unit attention ``asc`` for the other gateways' I_T nexuses of ``regs`` (sent by ``update``)."""
        self._events.append({"asc": list(asc), "regs": [_ident(r) for r in regs]})

    def announce(self, asc: Asc) -> None:
        """A LOGICAL UNIT RESET: the other gateways release their SPC-2 reservations and give every I_T
        nexus the unit attention ``asc`` (SAM-5 6.3.3)."""
        self._send({"reset": list(asc)})

    def share_alua(self, states: Mapping[int, AluaState]) -> None:
        """A SET TARGET PORT GROUPS through this gateway: the others set the same states, and their I_T
        nexuses get ASYMMETRIC ACCESS STATE CHANGED (SPC-5 5.16.2.6, 6.46)."""
        self._send({"alua": {str(g): int(s) for g, s in states.items()}})

    def share(self, key: str, value: Any) -> None:
        """Tell the other gateways of a change a layer above the reservations made (``key``: one of
        :attr:`handlers`, e.g. "mode": the pages a MODE SELECT set); each runs its handler."""
        self._send({key: value})

    def _send(self, message: dict[str, Any]) -> None:
        payload = json.dumps({"from": self.me, **message}).encode()
        lock = self.pr.lu.lock
        owned = _release(lock)
        try:
            if not self.obj.notify(payload):
                log.warning("%s: a gateway did not acknowledge a change in time", self.obj.name)
        finally:
            if owned:
                lock.acquire()

    def _notified(self, payload: bytes) -> None:
        """Another gateway changed the state or reset the LU: load it and queue the unit attentions."""
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("from") == self.me:
            return
        pr = self.pr
        with pr.lu.lock:
            self.refresh()
            for event in message.get("ua", ()):
                regs = [_registration(r) for r in event["regs"]]
                for port in pr.ports_of(regs):
                    pr.lu.ua.establish(_asc(event["asc"]), only=port)
            if "reset" in message:
                pr.reset()
                pr.lu.ua.establish(_asc(message["reset"]))
            for key, handler in list(self.handlers.items()):
                if key in message:
                    handler(message[key])
        target = pr.lu.target
        if "alua" in message and target is not None:  # as the target does it: without the LU's lock
            states = {int(g): AluaState(s) for g, s in message["alua"].items()}
            target.set_alua_states({g: s for g, s in states.items() if g in target.port_groups.states})

    def close(self) -> None:
        self.obj.close()


def _registration(ident: dict[str, Any]) -> Registration:
    """A registration as ``_ident`` sent it (its key does not matter to whom it names)."""
    return Registration(0, ident["name"], ident["isid"], ident["rtpi"], ident["all_tg_pt"])


def _asc(raw: list[int]) -> Asc:
    key, asc, ascq = raw
    return Asc(SenseKey(key), asc, ascq)


def _release(lock: Any) -> bool:
    """Let go of ``lock`` (an RLock) if this thread holds it once; whether it did."""
    if not lock._is_owned():
        return False
    lock.release()
    if lock._is_owned():  # held more than once: keep it, as it was
        lock.acquire()
        return False
    return True


