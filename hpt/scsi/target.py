"""The SCSI target device: its logical units, LUN addressing and task management (SAM-5 4.6, 7).

A transport hands every command to :meth:`ScsiTarget.submit` and gets its result through a
completion callback, from whichever thread ends it. Task management is here, once for every
transport: the LU's task set aborts the commands in flight (running ones end unreported when their
store I/O ends), then the LU's part follows (unit attentions, reservations, mode pages). A transport
only drops what it still holds itself (commands waiting for their write data).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from functools import partial

from hpt.scsi.core.alua import AluaState, PortGroups
from hpt.scsi.core.command import Completion, Nexus, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    ASYMMETRIC_ACCESS_STATE_CHANGED,
    BUS_DEVICE_RESET_FUNCTION,
    COMMANDS_CLEARED_BY_ANOTHER_INITIATOR,
    I_T_NEXUS_LOSS,
    LUN_NOT_SUPPORTED,
    MODE_PARAMETERS_CHANGED,
    POWER_ON_OCCURRED,
    REPORTED_LUNS_DATA_CHANGED,
    Asc,
    Status,
)
from hpt.scsi.core.sense import SenseError, build_sense
from hpt.scsi.core.stream import streamable
from hpt.scsi.core.taskset import Task
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.spc.alua import TPGS_IMPLICIT
from hpt.scsi.spc.inquiry import absent_lun_inquiry
from hpt.scsi.spc.mode import control_tst, reset_mode_pages, take_shared_pages
from hpt.scsi.spc.report_luns import clear_luns_changed, lun_inventory
from hpt.scsi.spc.vpd import naa_of

log = logging.getLogger("hpt.scsi")


def _nothing() -> None:
    """No one waits for this task management function's aborts to end."""


def _every(task: Task) -> bool:
    return True

INQUIRY, REQUEST_SENSE, REPORT_LUNS = 0x12, 0x03, 0xA0
TST_SHARED = 0b000  # one task set for all I_T nexuses (control mode page TST)

class TmfResult(IntEnum):
    """SAM-5 7.1 service responses of the task management functions."""

    FUNCTION_COMPLETE = 0
    INCORRECT_LUN = 1


class ScsiTarget:
    """A SCSI target device: LUs by LUN, its target ports and their ALUA target port groups.

    ``relative_port_ids`` lists the relative target port identifiers (iSCSI: the portal group
    tags) through which the LUs are reached; ``port_groups`` holds their target port groups and
    states (one group per port, numbered as the port, unless ``port_group_id`` names one group for
    all); ``tpgs`` is 01b (implicit ALUA) or 11b (explicit too: SET TARGET PORT GROUPS).
    ``abort_hook(lun, initiator_ports)`` lets the transport abort the tasks of I_T nexuses
    that a PERSISTENT RESERVE OUT PREEMPT AND ABORT removed.
    """

    def __init__(self, name: str, relative_port_ids: Iterable[int] = (1,),
                 port_group_id: int | None = None) -> None:
        self.name = name
        self.relative_port_ids = list(relative_port_ids)
        self.target_port_name = f"{name},t,0x{self.relative_port_ids[0]:04x}"
        self.port_groups = PortGroups(self.relative_port_ids, port_group_id)
        self.tpgs = TPGS_IMPLICIT
        self.abort_hook: Callable[[int, set[str]], None] | None = None
        # the targets whose LUs an EXTENDED COPY through this one may reach (the daemon's); None: its own
        self.copy_domain: Callable[[], Iterable[ScsiTarget]] | None = None
        self._lus: dict[int, LogicalUnit] = {}

    # -- logical units -------------------------------------------------------------------------
    def add_lu(self, lu: LogicalUnit) -> None:
        """Add a LU; the others report REPORTED LUNS DATA HAS CHANGED (SPC-5 6.33)."""
        if lu.lun in self._lus:
            raise ValueError(f"target {self.name}: LUN {lu.lun} exists")
        lu.target = self
        shared = lu.pr.shared
        if shared is not None:  # what the LU's other processes (workers, gateways) change, done here too
            shared.handlers["mode"] = partial(self._take_mode_pages, lu)
            shared.handlers["reset"] = partial(self._reset_elsewhere, lu)
            for key, handler in lu.profile.shared.items():  # the device type's own (a sanitize in progress)
                shared.handlers[key] = partial(handler, lu)
        others = list(self._lus.values())
        self._lus = {**self._lus, lu.lun: lu}  # replaced, never mutated: execute() reads it unlocked
        self._luns_changed(others)

    def remove_lu(self, lun: int, *, close: bool = False, timeout: float = 30.0) -> LogicalUnit | None:
        """Take a LU away: new commands find no LU; with ``close`` the commands in flight are drained
        (waited for, up to ``timeout`` seconds) and its store is closed."""
        lus = dict(self._lus)
        lu = lus.pop(lun, None)
        if lu is not None:
            self._lus = lus
            self._luns_changed(lus.values())
            if close:
                lu.close(timeout)
        return lu

    def _luns_changed(self, lus: Iterable[LogicalUnit]) -> None:
        for lu in lus:
            lu.ua.establish(REPORTED_LUNS_DATA_CHANGED)

    def lu(self, lun: int) -> LogicalUnit | None:
        return self._lus.get(lun)

    def lu_map(self) -> Mapping[int, LogicalUnit]:
        """LUN -> LU as it is now: replaced, never changed, whenever a LU comes or goes (so a caller
        that keeps something per LU sees by identity when to build it anew)."""
        return self._lus

    def luns(self) -> list[int]:
        return sorted(self._lus)

    def find_lu(self, naa: int) -> LogicalUnit | None:
        """The LU whose NAA designator (VPD page 83h) is ``naa``: one of this target's, else of a target
        of ``copy_domain`` (a copy manager's CSCD descriptor names its LUs so, SPC-4 6.4.5.7)."""
        targets = [self] if self.copy_domain is None else [self, *self.copy_domain()]
        for target in targets:
            for lu in target._lus.values():
                if naa_of(lu) == naa:
                    return lu
        return None

    # -- asymmetric logical unit access (SPC-5 5.16) -------------------------------------------
    def set_ports(self, relative_port_ids: Iterable[int], peer_groups: Iterable[int] | None = None) -> None:
        """Serve through these relative ports (one target port group each; kept groups keep their
        state); ``peer_groups``: the groups of the other gateways serving these LUs (None: unchanged)."""
        self.relative_port_ids = list(relative_port_ids)
        self.port_groups.set_ports(self.relative_port_ids, peer_groups)

    def set_alua_states(self, states: Mapping[int, AluaState], by: str | None = None) -> list[int]:
        """Set target port groups' states (KeyError: no such group); when one changed, every I_T
        nexus but ``by``'s (the initiator port of a SET TARGET PORT GROUPS) gets ASYMMETRIC ACCESS
        STATE CHANGED (5.16.2.6). Returns the groups that changed."""
        changed = self.port_groups.change(states)
        if changed:
            log.info("target %s: ALUA %s", self.name,
                     ", ".join(f"group {g} {states[g].name.lower()}" for g in changed))
            for lu in self._lus.values():  # as _luns_changed: no LU's lock, a handler holds its own
                lu.ua.establish(ASYMMETRIC_ACCESS_STATE_CHANGED, exclude=by)
        return changed

    # -- commands ------------------------------------------------------------------------------
    def submit(self, cmd: ScsiCommand, done: Completion) -> None:
        """Execute Command (SAM-5 5.1) on the LU its LUN names; ``done(result)`` follows, perhaps on
        another thread (``LogicalUnit.submit``)."""
        lu = self._lus.get(cmd.lun)
        if lu is not None:
            lu.submit(cmd, done)
            return
        done(self._absent_result(cmd))

    def streamable(self, lun: int, cdb: bytes | memoryview) -> bool:
        """Whether the command can move its data in pieces (``ScsiCommand.stream``: a READ or WRITE
        of a disk); a transport asks only for large transfers."""
        lu = self._lus.get(lun)
        return lu is not None and streamable(lu.table.lookup(cdb))

    def execute(self, cmd: ScsiCommand) -> ScsiResult:
        """Run one command and wait for its result (tests, tools)."""
        lu = self._lus.get(cmd.lun)
        return lu.execute(cmd) if lu is not None else self._absent_result(cmd)

    def _absent_result(self, cmd: ScsiCommand) -> ScsiResult:
        try:
            return self._absent_lun(cmd)
        except SenseError as err:
            return ScsiResult(Status.CHECK_CONDITION, err.encode())

    def _absent_lun(self, cmd: ScsiCommand) -> ScsiResult:
        """A LUN without a LU: INQUIRY, REPORT LUNS and REQUEST SENSE still work (SPC-5 4.5, 6.39)."""
        op = cmd.opcode
        if op == INQUIRY:
            return absent_lun_inquiry(cmd)
        if op == REPORT_LUNS:
            return self.report_luns(cmd)
        if op == REQUEST_SENSE:
            return cmd.reply(build_sense(LUN_NOT_SUPPORTED, bool(cmd.cdb[1] & 0x01)), cmd.cdb[4])
        raise SenseError(LUN_NOT_SUPPORTED)

    def report_luns(self, cmd: ScsiCommand) -> ScsiResult:
        """REPORT LUNS through any LUN; clears REPORTED LUNS DATA HAS CHANGED for the initiator port."""
        result = lun_inventory(cmd, self._lus)
        clear_luns_changed(self._lus.values(), cmd.nexus.initiator_port)
        return result

    # -- task management (SAM-5 7) -------------------------------------------------------------
    # Each function takes ``done``: called once every aborted command that was running at the store
    # has ended (at once when none was), so the transport answers the function only when nothing an
    # aborted command does can still happen. It is not called when the function fails (no such LU
    # or task): the return value says so.
    def _abort(self, lus: Iterable[LogicalUnit], match: Callable[[Task], bool], done: Callable[[], None]
               ) -> set[str]:
        """Abort matching tasks on ``lus``; returns the initiator ports whose tasks went."""
        lus = list(lus)
        ports: set[str] = set()
        pending = [len(lus) + 1]
        lock = threading.Lock()

        def one_done() -> None:
            with lock:
                pending[0] -= 1
                last = pending[0] == 0
            if last:
                done()

        for lu in lus:
            ports.update(t.key for t in lu.tasks.find(match))
            lu.tasks.abort(match, one_done)
        one_done()
        return ports

    def abort_task(self, lun: int, nexus: Nexus, tag: int, done: Callable[[], None] = _nothing) -> bool:
        """ABORT TASK (SAM-5 7.2): the nexus's task with this tag; False when the LU holds none."""
        lu = self._lus.get(lun)
        port = nexus.initiator_port
        if lu is None or not lu.tasks.find(lambda t: t.key == port and t.tag == tag):
            return False
        self._abort((lu,), lambda t: t.key == port and t.tag == tag, done)
        return True

    def abort_task_set(self, lun: int, nexus: Nexus, done: Callable[[], None] = _nothing) -> TmfResult:
        """ABORT TASK SET: the nexus's tasks on the LU go; no unit attention (SAM-5 7.3)."""
        lu = self._lus.get(lun)
        if lu is None:
            return TmfResult.INCORRECT_LUN
        port = nexus.initiator_port
        self._abort((lu,), lambda t: t.key == port, done)
        return TmfResult.FUNCTION_COMPLETE

    def clear_task_set(self, lun: int, nexus: Nexus, cleared_ports: Iterable[str] | None = None,
                       done: Callable[[], None] = _nothing) -> TmfResult:
        """CLEAR TASK SET (SAM-5 7.4): every task on the LU goes; with a shared task set (TST 000b) the
        other initiators whose commands were cleared (those the task set held, plus ``cleared_ports``
        from the transport; None: every other one) get COMMANDS CLEARED BY ANOTHER INITIATOR."""
        lu = self._lus.get(lun)
        if lu is None:
            return TmfResult.INCORRECT_LUN
        ports = self._abort((lu,), _every, done)
        if cleared_ports is not None:
            cleared_ports = set(cleared_ports) | ports
        with lu.lock:
            if control_tst(lu) != TST_SHARED:
                return TmfResult.FUNCTION_COMPLETE
            if cleared_ports is None:
                lu.ua.establish(COMMANDS_CLEARED_BY_ANOTHER_INITIATOR, exclude=nexus.initiator_port)
            else:
                for port in set(cleared_ports) - {nexus.initiator_port}:
                    lu.ua.establish(COMMANDS_CLEARED_BY_ANOTHER_INITIATOR, only=port)
        return TmfResult.FUNCTION_COMPLETE

    def lu_reset(self, lun: int, done: Callable[[], None] = _nothing) -> TmfResult:
        """LOGICAL UNIT RESET (SAM-5 6.3.3): every task goes, BUS DEVICE RESET FUNCTION OCCURRED to
        every nexus."""
        lu = self._lus.get(lun)
        if lu is None:
            return TmfResult.INCORRECT_LUN
        self._abort((lu,), _every, done)
        self._reset_lu(lu, BUS_DEVICE_RESET_FUNCTION)
        lu.pr.announce(BUS_DEVICE_RESET_FUNCTION)  # the other gateways' nexuses too, when shared
        return TmfResult.FUNCTION_COMPLETE

    def target_reset(self, cold: bool = False, done: Callable[[], None] = _nothing) -> TmfResult:
        """TARGET WARM/COLD RESET (RFC 7143 11.5.1): a hard reset of every LU (SAM-5 6.3.2); the
        unit attention is BUS DEVICE RESET FUNCTION OCCURRED (the target reset function, warm) or
        POWER ON OCCURRED (cold)."""
        asc = POWER_ON_OCCURRED if cold else BUS_DEVICE_RESET_FUNCTION
        lus = list(self._lus.values())
        self._abort(lus, _every, done)
        for lu in lus:
            self._reset_lu(lu, asc)
        return TmfResult.FUNCTION_COMPLETE

    @staticmethod
    def _take_mode_pages(lu: LogicalUnit, pages: dict[str, str]) -> None:
        """A MODE SELECT through another process serving the LU (SPC-5 6.13)."""
        if take_shared_pages(lu, pages):
            lu.ua.establish(MODE_PARAMETERS_CHANGED)

    @staticmethod
    def _reset_elsewhere(lu: LogicalUnit, _asc: object = None) -> None:
        """The mode pages and the device's own state back to their defaults: part of :meth:`_reset_lu`,
        and all there is to do here for a LOGICAL UNIT RESET through another process (``shared.py``
        did the reservations' part and the unit attention)."""
        reset_mode_pages(lu)
        if lu.profile.reset is not None:
            lu.profile.reset(lu, None)

    def _reset_lu(self, lu: LogicalUnit, asc: Asc) -> None:
        """SPC-2 reservations go, persistent ones stay, mode pages return to their defaults."""
        with lu.lock:
            lu.pr.reset()
            self._reset_elsewhere(lu)
            lu.ua.establish(asc)

    def nexus_lost(self, nexus: Nexus, done: Callable[[], None] = _nothing) -> None:
        """I_T nexus loss (SAM-5 6.3.4): its tasks go and its SPC-2 reservations are released before
        this returns; the initiator port's pending conditions give way to I_T NEXUS LOSS OCCURRED
        (LUICLR, SPC-5 7.7.7). ``done`` as for task management, once its aborted tasks have ended
        (the transport's answer, e.g. a Logout Response, RFC 7143 11.14: never before the release)."""
        port = nexus.initiator_port
        for lu in self._lus.values():
            with lu.lock:
                lu.pr.nexus_lost(port)
                if lu.profile.reset is not None:
                    lu.profile.reset(lu, port)
                lu.ua.nexus_lost(port, I_T_NEXUS_LOSS)
        self._abort(self._lus.values(), lambda t: t.key == port, done)

    def abort_preempted(self, lun: int, initiator_ports: set[str]) -> None:
        """PREEMPT AND ABORT removed these initiator ports' registrations: let the transport
        abort their tasks (SPC-5 5.13.11.5)."""
        lu = self._lus.get(lun)
        if lu is not None and initiator_ports:
            lu.tasks.abort(lambda t: t.key in initiator_ports, _nothing)
        if self.abort_hook is not None and initiator_ports:
            self.abort_hook(lun, initiator_ports)
