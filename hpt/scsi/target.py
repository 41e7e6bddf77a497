"""The SCSI target device: its logical units, LUN addressing and task management (SAM-5 4.6, 7).

A transport hands every command to :meth:`ScsiTarget.execute`, which runs it synchronously in
the caller's thread. The transport owns the tasks in flight; the task management methods here
do the logical unit's part (unit attentions, reservations, mode pages) after it has aborted them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from enum import IntEnum

from hpt.scsi.core.command import Nexus, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    BUS_DEVICE_RESET_FUNCTION,
    COMMANDS_CLEARED_BY_ANOTHER_INITIATOR,
    I_T_NEXUS_LOSS,
    LUN_NOT_SUPPORTED,
    POWER_ON_OCCURRED,
    REPORTED_LUNS_DATA_CHANGED,
    Asc,
    Status,
)
from hpt.scsi.core.sense import SenseError, build_sense
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.spc.alua import DEFAULT_PORT_GROUP, TPGS_IMPLICIT, AluaState
from hpt.scsi.spc.inquiry import absent_lun_inquiry
from hpt.scsi.spc.mode import control_tst, reset_mode_pages
from hpt.scsi.spc.report_luns import clear_luns_changed, lun_inventory

log = logging.getLogger("hpt.scsi")

INQUIRY, REQUEST_SENSE, REPORT_LUNS = 0x12, 0x03, 0xA0
TST_SHARED = 0b000  # one task set for all I_T nexuses (control mode page TST)

class TmfResult(IntEnum):
    """SAM-5 7.1 service responses of the task management functions."""

    FUNCTION_COMPLETE = 0
    INCORRECT_LUN = 1


class ScsiTarget:
    """A SCSI target device: LUs by LUN, its target port(s) and ALUA target port group.

    ``relative_port_ids`` lists the relative target port identifiers (iSCSI: the portal group
    tags) through which the LUs are reached; they all belong to target port group
    ``port_group_id`` in ALUA state ``alua_state`` (implicit ALUA, ``tpgs`` = 01b).
    ``abort_hook(lun, initiator_ports)`` lets the transport abort the tasks of I_T nexuses
    that a PERSISTENT RESERVE OUT PREEMPT AND ABORT removed.
    """

    def __init__(self, name: str, relative_port_ids: Iterable[int] = (1,),
                 port_group_id: int = DEFAULT_PORT_GROUP) -> None:
        self.name = name
        self.relative_port_ids = list(relative_port_ids)
        self.target_port_name = f"{name},t,0x{self.relative_port_ids[0]:04x}"
        self.port_group_id = port_group_id
        self.alua_state = AluaState.ACTIVE_OPTIMIZED
        self.tpgs = TPGS_IMPLICIT
        self.abort_hook: Callable[[int, set[str]], None] | None = None
        self._lus: dict[int, LogicalUnit] = {}

    # -- logical units -------------------------------------------------------------------------
    def add_lu(self, lu: LogicalUnit) -> None:
        """Add a LU; the others report REPORTED LUNS DATA HAS CHANGED (SPC-5 6.33)."""
        if lu.lun in self._lus:
            raise ValueError(f"target {self.name}: LUN {lu.lun} exists")
        lu.target = self
        others = list(self._lus.values())
        self._lus = {**self._lus, lu.lun: lu}  # replaced, never mutated: execute() reads it unlocked
        self._luns_changed(others)

    def remove_lu(self, lun: int) -> LogicalUnit | None:
        lus = dict(self._lus)
        lu = lus.pop(lun, None)
        if lu is not None:
            self._lus = lus
            self._luns_changed(lus.values())
        return lu

    def _luns_changed(self, lus: Iterable[LogicalUnit]) -> None:
        for lu in lus:
            lu.ua.establish(REPORTED_LUNS_DATA_CHANGED)

    def lu(self, lun: int) -> LogicalUnit | None:
        return self._lus.get(lun)

    def luns(self) -> list[int]:
        return sorted(self._lus)

    # -- commands ------------------------------------------------------------------------------
    def execute(self, cmd: ScsiCommand) -> ScsiResult:
        """Run one command on the LU its LUN names (SAM-5 5.1)."""
        lu = self._lus.get(cmd.lun)
        if lu is not None:
            return lu.execute(cmd)
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
    def abort_task_set(self, lun: int, nexus: Nexus) -> TmfResult:
        """ABORT TASK SET: the transport aborted the nexus's tasks; no unit attention (SAM-5 7.3)."""
        return TmfResult.FUNCTION_COMPLETE if lun in self._lus else TmfResult.INCORRECT_LUN

    def clear_task_set(self, lun: int, nexus: Nexus, cleared_ports: Iterable[str] | None = None) -> TmfResult:
        """CLEAR TASK SET (SAM-5 7.4): with a shared task set (TST 000b) the other initiators whose
        commands were cleared (``cleared_ports``; None: every other one) get COMMANDS CLEARED BY
        ANOTHER INITIATOR."""
        lu = self._lus.get(lun)
        if lu is None:
            return TmfResult.INCORRECT_LUN
        with lu.lock:
            if control_tst(lu) != TST_SHARED:
                return TmfResult.FUNCTION_COMPLETE
            if cleared_ports is None:
                lu.ua.establish(COMMANDS_CLEARED_BY_ANOTHER_INITIATOR, exclude=nexus.initiator_port)
            else:
                for port in set(cleared_ports) - {nexus.initiator_port}:
                    lu.ua.establish(COMMANDS_CLEARED_BY_ANOTHER_INITIATOR, only=port)
        return TmfResult.FUNCTION_COMPLETE

    def lu_reset(self, lun: int) -> TmfResult:
        """LOGICAL UNIT RESET (SAM-5 6.3.3): BUS DEVICE RESET FUNCTION OCCURRED to every nexus."""
        lu = self._lus.get(lun)
        if lu is None:
            return TmfResult.INCORRECT_LUN
        self._reset_lu(lu, BUS_DEVICE_RESET_FUNCTION)
        return TmfResult.FUNCTION_COMPLETE

    def target_reset(self, cold: bool = False) -> TmfResult:
        """TARGET WARM/COLD RESET (RFC 7143 11.5.1): a hard reset of every LU (SAM-5 6.3.2); the
        unit attention is BUS DEVICE RESET FUNCTION OCCURRED (the target reset function, warm) or
        POWER ON OCCURRED (cold)."""
        asc = POWER_ON_OCCURRED if cold else BUS_DEVICE_RESET_FUNCTION
        for lu in self._lus.values():
            self._reset_lu(lu, asc)
        return TmfResult.FUNCTION_COMPLETE

    def _reset_lu(self, lu: LogicalUnit, asc: Asc) -> None:
        """SPC-2 reservations go, persistent ones stay, mode pages return to their defaults."""
        with lu.lock:
            lu.pr.reset()
            reset_mode_pages(lu)
            if lu.profile.reset is not None:
                lu.profile.reset(lu, None)
            lu.ua.establish(asc)

    def nexus_lost(self, nexus: Nexus) -> None:
        """I_T nexus loss (SAM-5 6.3.4): release its SPC-2 reservations; the initiator port's
        pending conditions give way to I_T NEXUS LOSS OCCURRED (LUICLR, SPC-5 7.7.7)."""
        port = nexus.initiator_port
        for lu in self._lus.values():
            with lu.lock:
                lu.pr.nexus_lost(port)
                if lu.profile.reset is not None:
                    lu.profile.reset(lu, port)
                lu.ua.nexus_lost(port, I_T_NEXUS_LOSS)

    def abort_preempted(self, lun: int, initiator_ports: set[str]) -> None:
        """PREEMPT AND ABORT removed these initiator ports' registrations: let the transport
        abort their tasks (SPC-5 5.13.11.5)."""
        if self.abort_hook is not None and initiator_ports:
            self.abort_hook(lun, initiator_ports)
