"""A logout that ends the session carries out its I_T nexus loss before the Logout Response (RFC 7143
11.14, SAM-5 6.3.4): the RESERVE(6) it held is gone when the response leaves, even when one of its
commands hangs in the store, and the connection's later end reports no second nexus loss."""

from __future__ import annotations

import time

from hpt.daemon.server import Server
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.constants import Status

from .initiator import Initiator, Reply
from .test_connection import TARGET, ini, make_conn, read10, server  # noqa: F401 - fixtures
from .test_hung_store import hang, wait_replies

RESERVE6 = bytes((0x16, 0, 0, 0, 0, 0))
TUR = bytes(6)


def other(server: Server, isid: int = 0x23D000000002) -> Initiator:  # noqa: F811
    """A second session (another ISID: another I_T nexus), its POWER ON unit attention cleared."""
    i = Initiator(make_conn(server), isid=isid)
    assert i.login(TARGET).pdu.w36 >> 16 == 0
    i.scsi(TUR)
    return i


def status(replies: list[Reply]) -> int:
    return replies[-1].pdu.b3


def test_the_reservation_is_gone_when_the_logout_response_leaves(ini: Initiator, server: Server) -> None:  # noqa: F811
    b = other(server)
    assert status(ini.scsi(RESERVE6)) == Status.GOOD
    assert status(b.scsi(TUR)) == Status.RESERVATION_CONFLICT
    r = ini.logout()
    assert [x.pdu.opcode for x in r] == [Opcode.LOGOUT_RSP] and r[0].pdu.b2 == 0
    assert ini.conn.closing
    # the driver has not yet called connection_lost: the nexus loss came with the logout itself
    assert status(b.scsi(TUR)) == Status.GOOD


def test_a_command_hung_in_the_store_holds_the_response_not_the_release(
        ini: Initiator, server: Server) -> None:  # noqa: F811
    store = hang(server, "read")
    b = other(server)
    assert status(ini.scsi(RESERVE6)) == Status.GOOD
    assert ini.scsi(read10(4, 1), read=512) == []
    assert store.stuck.wait(10)
    started = time.monotonic()
    assert ini.logout() == []  # the response waits for the aborted read, on another thread
    assert not ini.conn.closing
    assert status(b.scsi(TUR)) == Status.GOOD  # released already
    rsp = wait_replies(ini)
    assert [x.pdu.opcode for x in rsp] == [Opcode.LOGOUT_RSP] and rsp[0].pdu.b2 == 0
    assert 0.2 < time.monotonic() - started < 3  # the task set's abort_wait (0.3 s here)
    assert ini.conn.closing
    store.faults.clear()
    store.release.set()


def test_the_connection_end_after_a_logout_reports_no_second_nexus_loss(
        ini: Initiator, server: Server) -> None:  # noqa: F811
    b = other(server)
    assert ini.logout()[-1].pdu.opcode == Opcode.LOGOUT_RSP
    again = other(server, ini.isid)  # the same initiator port logs in anew and reserves
    assert status(again.scsi(RESERVE6)) == Status.GOOD
    ini.conn.connection_lost()  # the driver sees the old connection go only now
    assert status(b.scsi(TUR)) == Status.RESERVATION_CONFLICT  # the new session's reservation stays
    assert status(again.scsi(TUR)) == Status.GOOD
