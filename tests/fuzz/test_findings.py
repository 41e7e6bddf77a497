"""What the fuzz harnesses found, kept as regression tests (one per finding, the fixed behaviour)."""

from __future__ import annotations

from pathlib import Path

from hpt.iscsi.pdu import Opcode, initiator_pdu, set_dsl
from hpt.scsi.core.constants import SenseKey, Status
from hpt.scsi.core.lun import encode_lun
from hpt.scsi.core.sense import parse_sense
from tests.fuzz.devices import close, disk, osd
from tests.fuzz.scsi import check, run
from tests.fuzz.test_iscsi import TARGET, connection, finish, serving
from tests.iscsi.initiator import Initiator


def test_cdb_shorter_than_its_command_is_an_invalid_field(tmp_path: Path) -> None:
    """A REQUEST SENSE of one byte used to crash its handler (IndexError, HARDWARE ERROR)."""
    lu = disk(tmp_path)
    result = run(lu, b"\x03", None, 252)
    check(result, b"\x03")
    assert result.status == Status.CHECK_CONDITION
    asc = parse_sense(bytes(result.sense))
    assert (asc.key, asc.asc, asc.ascq) == (SenseKey.ILLEGAL_REQUEST, 0x24, 0x00)


def test_osd_cdb_without_its_extended_cdb_is_an_invalid_field(tmp_path: Path) -> None:
    """An OSD command of 16 bytes (its Extended CDB AHS left out) points at ADDITIONAL CDB LENGTH."""
    lu = osd(tmp_path)
    try:
        cdb = bytes((0x7F, 0, 0, 0, 0, 0, 0, 0xE4, 0x88, 0x83)).ljust(16, b"\0")
        result = run(lu, cdb, None, 4096)
        check(result, cdb)
        sense = bytes(result.sense)
        assert parse_sense(sense).asc == 0x24
        assert sense[0] & 0x7F == 0x72 or int.from_bytes(sense[16:18], "big") == 7
    finally:
        close(lu)


def test_second_command_with_the_cmdsn_of_a_waiting_one_gives_its_buffer_back() -> None:
    """Two commands with the same CmdSN past a gap: the second used to replace the first in the queue,
    whose ring slot was then never given back."""
    with serving() as server:
        ini = Initiator(connection(server))
        assert ini.login(TARGET).pdu.w36 >> 16 == 0
        gap = ini.cmdsn
        write = bytes((0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0))
        for _ in range(2):
            ini.scsi(write, write=bytes(512), immediate=512, cmdsn=gap + 1)
        assert server.ring.in_use == 1  # the first waits for CmdSN ``gap``; the second is dropped
        replies = ini.scsi(bytes(6), cmdsn=gap)  # fills the gap: both run
        assert [r.pdu.opcode for r in replies] == [Opcode.SCSI_RSP, Opcode.SCSI_RSP]
        finish(server, ini.conn)


def test_connection_lost_in_immediate_data_gives_the_buffer_back() -> None:
    """A connection gone half-way through a WRITE's immediate data used to keep the ring slot the data
    was landing in: the command was in no task list yet, so connection_lost never freed it."""
    with serving() as server:
        ini = Initiator(connection(server))
        assert ini.login(TARGET).pdu.w36 >> 16 == 0
        hdr = initiator_pdu(Opcode.SCSI_CMD, 0xA1, encode_lun(1), 0x99, w20=65536, w24=ini.cmdsn)
        hdr[32:42] = bytes((0x2A, 0, 0, 0, 0, 0, 0, 0, 128, 0))
        set_dsl(hdr, 8192)
        ini.conn.receive_bytes(bytes(hdr) + bytes(100))
        assert server.ring.in_use == 1  # the immediate data is landing in a slot
        finish(server, ini.conn)  # connection_lost: the slot is back
