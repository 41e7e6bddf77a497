"""Task management functions on an iSCSI connection (RFC 7143 11.5, 11.6; SAM-5 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.iscsi.pdu import Pdu, TmfFunction, TmfResponse
from hpt.scsi.core.lun import decode_lun

if TYPE_CHECKING:
    from hpt.iscsi.connection import Connection


def handle_tmf(conn: Connection, pdu: Pdu) -> int:
    """Carry out one TMF request and return its response code.

    Commands run to completion as they arrive, so the only tasks an abort can find are those
    still waiting for Data-Out or for an earlier CmdSN; a finished task is TASK DOES NOT EXIST.
    """
    session = conn.session
    assert session is not None
    target = session.scsi_target
    fn = pdu.function
    if target is None:
        return TmfResponse.AUTHORIZATION_FAILED
    if fn == TmfFunction.ABORT_TASK:
        rtt = pdu.rtt
        found = conn.abort_tasks(lambda t: t.itt == rtt)
        return TmfResponse.FUNCTION_COMPLETE if found else TmfResponse.TASK_DOES_NOT_EXIST
    if fn in (TmfFunction.TARGET_WARM_RESET, TmfFunction.TARGET_COLD_RESET):
        conn.abort_tasks(lambda t: True)
        cold = fn == TmfFunction.TARGET_COLD_RESET
        target.target_reset(cold=cold)
        if cold:
            # RFC 7143 11.5.1: a cold reset drops every connection after the response
            conn.context.drop_target_sessions(session.target_name)
        return TmfResponse.FUNCTION_COMPLETE
    if fn in (TmfFunction.CLEAR_ACA,):
        return TmfResponse.NOT_SUPPORTED
    if fn == TmfFunction.TASK_REASSIGN:
        return TmfResponse.REASSIGNMENT_NOT_SUPPORTED
    lun = decode_lun(pdu.lun)
    if fn not in (TmfFunction.ABORT_TASK_SET, TmfFunction.CLEAR_TASK_SET, TmfFunction.LOGICAL_UNIT_RESET):
        return TmfResponse.NOT_SUPPORTED
    if target.lu(lun) is None:
        return TmfResponse.LUN_DOES_NOT_EXIST
    conn.abort_tasks(lambda t: t.lun == lun)
    if fn == TmfFunction.ABORT_TASK_SET:
        target.abort_task_set(lun, session.nexus)
    elif fn == TmfFunction.CLEAR_TASK_SET:
        target.clear_task_set(lun, session.nexus)
    else:
        target.lu_reset(lun)
    return TmfResponse.FUNCTION_COMPLETE
