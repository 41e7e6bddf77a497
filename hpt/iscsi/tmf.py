"""Task management functions on an iSCSI connection (RFC 7143 11.5, 11.6; SAM-5 7).

The SCSI target does the work (``ScsiTarget.abort_task`` ... ``target_reset``): it aborts the
commands in its LUs' task sets and calls back once every aborted command that was at the store has
ended. Only then does the response leave (RFC 7143 4.2.3.3: no response for a task management
function before the affected tasks are gone). The connection first drops the commands it still holds
itself: those waiting for Data-Out or for an earlier CmdSN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.iscsi.pdu import Pdu, TmfFunction, TmfResponse
from hpt.scsi.core.lun import decode_lun
from hpt.scsi.target import TmfResult

if TYPE_CHECKING:
    from hpt.iscsi.connection import Connection

_LU_FUNCTIONS = (TmfFunction.ABORT_TASK_SET, TmfFunction.CLEAR_TASK_SET, TmfFunction.LOGICAL_UNIT_RESET)


def handle_tmf(conn: Connection, pdu: Pdu, respond: Callable[[int], None]) -> None:
    """Carry out one TMF request; ``respond(code)`` is called (on the connection's driver thread,
    through ``conn.defer``) once the function is complete."""
    session = conn.session
    assert session is not None
    target = session.scsi_target
    fn = pdu.function
    if target is None:
        respond(TmfResponse.AUTHORIZATION_FAILED)
        return
    nexus = session.nexus

    def later(code: int) -> Callable[[], None]:
        return lambda: conn.defer(lambda: respond(code))

    lun = decode_lun(pdu.lun)
    if fn == TmfFunction.ABORT_TASK:
        rtt = pdu.rtt
        held = conn.abort_tasks(lambda t: t.itt == rtt)
        done = later(TmfResponse.FUNCTION_COMPLETE)
        if held:
            done()
        elif not target.abort_task(lun, nexus, rtt, done):
            respond(TmfResponse.TASK_DOES_NOT_EXIST)
        return
    if fn in (TmfFunction.TARGET_WARM_RESET, TmfFunction.TARGET_COLD_RESET):
        conn.abort_tasks(lambda t: True)
        cold = fn == TmfFunction.TARGET_COLD_RESET

        def reset_done() -> None:
            respond(TmfResponse.FUNCTION_COMPLETE)
            if cold:
                # RFC 7143 11.5.1: a cold reset drops every connection after the response
                conn.context.drop_target_sessions(session.target_name)

        target.target_reset(cold=cold, done=lambda: conn.defer(reset_done))
        return
    if fn == TmfFunction.CLEAR_ACA:
        respond(TmfResponse.NOT_SUPPORTED)
        return
    if fn == TmfFunction.TASK_REASSIGN:
        respond(TmfResponse.REASSIGNMENT_NOT_SUPPORTED)
        return
    if fn not in _LU_FUNCTIONS:
        respond(TmfResponse.NOT_SUPPORTED)
        return
    if target.lu(lun) is None:
        respond(TmfResponse.LUN_DOES_NOT_EXIST)
        return
    conn.abort_tasks(lambda t: t.lun == lun)
    done = later(TmfResponse.FUNCTION_COMPLETE)
    if fn == TmfFunction.ABORT_TASK_SET:
        result = target.abort_task_set(lun, nexus, done)
    elif fn == TmfFunction.CLEAR_TASK_SET:
        result = target.clear_task_set(lun, nexus, done=done)
    else:
        result = target.lu_reset(lun, done)
    if result == TmfResult.INCORRECT_LUN:  # the LU went between the two looks
        respond(TmfResponse.LUN_DOES_NOT_EXIST)
