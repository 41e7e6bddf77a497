"""ABORT TASK and LOGICAL UNIT RESET over iSCSI for a command hung in a store that never returns (issue
13): the function is answered FUNCTION COMPLETE after the task set's ``abort_wait``, the aborted command
sends nothing, the LU serves others, and the command's ring slot stays counted until the store returns."""

from __future__ import annotations

import time

from hpt.daemon.server import Server
from hpt.iscsi.pdu import Opcode, TmfFunction, TmfResponse
from hpt.scsi.core.constants import Status

from ..scsi.faulty_store import FaultyStore
from .initiator import Initiator, Reply
from .test_connection import ini, read10, server, write10  # noqa: F401 - fixtures

INQUIRY = bytes((0x12, 0, 0, 0, 36, 0))


def hang(server: Server, op: str) -> FaultyStore:  # noqa: F811
    lu = server.targets["iqn.2026-11.org.hpt.test:disk"].lu(1)
    assert lu is not None
    store = FaultyStore()
    store.faults[op] = "hang"
    lu.store = store
    lu.tasks.abort_wait = 0.3
    return store


def wait_replies(ini: Initiator, seconds: float = 5.0) -> list[Reply]:  # noqa: F811
    """Replies that come from other threads (the task set's timer, the store's thread)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ini.conn.completions:
            ini.conn.drain_completions()
            return ini.replies()
        time.sleep(0.01)
    return []


def test_abort_task_of_a_read_hung_in_the_store(ini: Initiator, server: Server) -> None:  # noqa: F811
    store = hang(server, "read")
    before = server.ring.in_use
    itt = ini.itt + 1
    assert ini.scsi(read10(4, 1), read=512) == []
    assert store.stuck.wait(10)
    assert server.ring.in_use == before + 1
    started = time.monotonic()
    assert ini.tmf(TmfFunction.ABORT_TASK, rtt=itt, refcmdsn=ini.cmdsn - 1) == []
    rsp = wait_replies(ini)
    assert [r.pdu.opcode for r in rsp] == [Opcode.TASK_MGMT_RSP]
    assert rsp[0].pdu.b2 == TmfResponse.FUNCTION_COMPLETE and time.monotonic() - started < 3
    assert ini.scsi(INQUIRY, read=36)[-1].pdu.b3 == Status.GOOD  # the LU goes on serving
    assert server.ring.in_use == before + 1  # the hung read still owns its slot
    store.faults.clear()
    store.release.set()
    time.sleep(0.2)
    assert not [r for r in wait_replies(ini, 1) if r.pdu.itt == itt]  # the aborted read says nothing
    assert server.ring.in_use == before


def test_lu_reset_with_writes_hung_in_the_store(ini: Initiator, server: Server) -> None:  # noqa: F811
    store = hang(server, "write")
    for i in range(3):
        assert ini.scsi(write10(i * 8, 1), write=b"\x55" * 512, immediate=512) == []
    assert store.stuck.wait(10)
    assert ini.tmf(TmfFunction.LOGICAL_UNIT_RESET) == []
    rsp = wait_replies(ini)
    assert [r.pdu.b2 for r in rsp if r.pdu.opcode == Opcode.TASK_MGMT_RSP] == [TmfResponse.FUNCTION_COMPLETE]
    assert ini.scsi(bytes(6))[-1].pdu.b3 == Status.CHECK_CONDITION  # the reset's unit attention
    assert ini.scsi(INQUIRY, read=36)[-1].pdu.b3 == Status.GOOD
    store.release.set()
    store.faults.clear()
    time.sleep(0.2)
    assert not [r for r in wait_replies(ini, 1) if r.pdu.opcode == Opcode.SCSI_RSP]
