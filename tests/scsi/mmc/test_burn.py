"""READ(10/12), READ CD, WRITE(10/12), WRITE AND VERIFY, SYNCHRONIZE CACHE, RESERVE TRACK, CLOSE
TRACK/SESSION and SEND OPC INFORMATION (MMC-6): reading
the ISO, the burn growisofs does on a blank DVD+R, and every write the disc refuses."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    LBA_OUT_OF_RANGE,
    PARAMETER_LIST_LENGTH_ERROR,
    WRITE_PROTECTED,
)
from hpt.scsi.mmc.sense import (
    CANNOT_READ_INCOMPATIBLE_FORMAT,
    COMMAND_SEQUENCE_ERROR,
    INVALID_ADDRESS_FOR_WRITE,
    MEDIUM_NOT_PRESENT_TRAY_CLOSED,
)
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import HOST_A, Initiator, _initiator

from .conftest import BLOCK, HELLO, _target, cdb, dvd_lu, read10, write10

SYNC = bytes((0x35,)) + bytes(9)


def reserve(blocks: int, arsv: int = 0) -> bytes:
    return cdb(0x53, 10, arsv=(1, ">B", arsv), blocks=(5, ">I", blocks))


def close(function: int, track: int = 0) -> bytes:
    return cdb(0x5B, 10, function=(2, ">B", function), track=(4, ">H", track))


def nwa(ini: Initiator) -> tuple[int, int]:
    """(next writable address, free blocks) of the invisible track."""
    r = ini.run(cdb(0x52, 10, kind=(1, ">B", 1), value=(2, ">I", 0xFF), alloc=(7, ">H", 48)))
    return struct.unpack_from(">II", r.data, 12)


def test_read_the_iso(a: Initiator, iso: Path) -> None:
    image = iso.read_bytes()
    r = a.run(read10(0, 20), alloc=20 * BLOCK)
    assert r.good and r.data == image[:20 * BLOCK]
    r12 = a.run(struct.pack(">BBIIBB", 0xA8, 0, 16, 2, 0, 0), alloc=2 * BLOCK)
    assert r12.data == image[16 * BLOCK:18 * BLOCK]
    assert HELLO[:100] in image  # the file pycdlib put in
    assert a.run(read10(0, 0)).good


def test_read_past_the_end(a: Initiator, iso: Path) -> None:
    blocks = len(iso.read_bytes()) // BLOCK
    assert a.run(read10(blocks - 1, 2), alloc=4 * BLOCK).asc == LBA_OUT_OF_RANGE
    short = a.run(read10(0, 4), alloc=BLOCK)  # a buffer of one block: one block moves, 4 are reported
    assert short.good and short.result.in_len == 4 * BLOCK and len(short.data) == BLOCK


def test_read_cd_user_data(a: Initiator, iso: Path) -> None:
    image = iso.read_bytes()
    def read_cd(sector_type: int, flags: int, sub: int = 0) -> object:
        return a.run(struct.pack(">BBIBHBBB", 0xBE, sector_type << 2, 16, 0, 1, flags, sub, 0), alloc=BLOCK)
    assert read_cd(0, 0x10).data == image[16 * BLOCK:17 * BLOCK]  # type: ignore[attr-defined]
    assert read_cd(2, 0x10).good  # type: ignore[attr-defined]
    assert read_cd(1, 0x10).asc == CANNOT_READ_INCOMPATIBLE_FORMAT  # type: ignore[attr-defined]
    assert read_cd(0, 0xF8).asc == CANNOT_READ_INCOMPATIBLE_FORMAT  # type: ignore[attr-defined]
    assert read_cd(0, 0x10, 1).asc == CANNOT_READ_INCOMPATIBLE_FORMAT  # type: ignore[attr-defined]


def test_rom_is_write_protected(a: Initiator) -> None:
    assert a.run(write10(0, 1), bytes(BLOCK)).asc == WRITE_PROTECTED
    assert a.run(reserve(16)).asc == WRITE_PROTECTED
    assert a.run(close(1, 1)).asc == WRITE_PROTECTED
    assert a.run(SYNC).good


def test_growisofs_burn_then_read_back(w: Initiator, blank: Path, tmp_path: Path) -> None:
    """The sequence growisofs sends on a blank DVD+R: OPC, RESERVE TRACK, WRITE(10)s, SYNCHRONIZE CACHE,
    CLOSE TRACK, CLOSE SESSION; the disc then reads back, and again from its file after a restart."""
    image = HELLO[:5 * BLOCK].ljust(40 * BLOCK, b"\xa5")
    assert nwa(w) == (0, 4096)
    assert w.run(cdb(0x54, 10, doopc=(1, ">B", 1))).good
    assert w.run(reserve(40)).good  # rounded up to 48 blocks
    for lba in range(0, 40, 16):
        chunk = image[lba * BLOCK:(lba + 16) * BLOCK]
        assert w.run(write10(lba, len(chunk) // BLOCK), chunk).good
    assert w.run(SYNC).good
    assert w.run(close(1, 1)).good
    assert w.run(close(2)).good
    r = w.run(read10(0, 40), alloc=40 * BLOCK)
    assert r.data == image
    toc = w.run(cdb(0x43, 10, alloc=(7, ">H", 100))).data
    assert toc[2:4] == bytes((1, 1)) and struct.unpack_from(">I", toc, 16)[0] == 48  # the reservation
    assert nwa(w) == (48, 4096 - 48)  # the next session's invisible track

    again = _initiator(_target(dvd_lu(blank)), HOST_A, 0x23D000000001)
    assert again.run(read10(0, 40), alloc=40 * BLOCK).data == image
    info = again.run(cdb(0x51, 10, alloc=(7, ">H", 34))).data
    assert info[2] & 0x03 == 1 and info[4] == 2  # appendable, its second session open


def test_incremental_write_and_finalize(w: Initiator) -> None:
    assert w.run(write10(0, 2, fua=True), bytes(2 * BLOCK)).good
    assert w.run(struct.pack(">BBIIBB", 0xAA, 0, 2, 1, 0, 0), b"\x01" * BLOCK).good  # WRITE(12)
    assert w.run(struct.pack(">BBIBHB", 0x2E, 0, 3, 0, 1, 0), b"\x02" * BLOCK).good  # WRITE AND VERIFY
    assert nwa(w) == (4, 4092)
    assert w.run(close(6)).good  # close the session and finalize the disc
    info = w.run(cdb(0x51, 10, alloc=(7, ">H", 34))).data
    assert info[2] & 0x0F == 0x0E  # complete disc, complete last session
    assert w.run(write10(4, 1), bytes(BLOCK)).asc == WRITE_PROTECTED
    assert w.run(read10(3, 1), alloc=BLOCK).data == b"\x02" * BLOCK


def test_write_not_at_the_next_writable_address(w: Initiator) -> None:
    assert w.run(write10(16, 1), bytes(BLOCK)).asc == INVALID_ADDRESS_FOR_WRITE
    assert w.run(reserve(16)).good
    assert w.run(write10(0, 17), bytes(17 * BLOCK)).asc == INVALID_ADDRESS_FOR_WRITE  # past the reservation
    assert w.run(write10(0, 0)).good
    assert w.run(write10(100, 1), bytes(BLOCK)).asc == INVALID_ADDRESS_FOR_WRITE
    assert w.run(write10(16, 4081), bytes(0)).asc == LBA_OUT_OF_RANGE  # past the disc's capacity
    r = w.run(struct.pack(">BBIBHB", 0x2E, 0x02, 0, 0, 1, 0), bytes(BLOCK))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 1, True)


def test_reserve_and_close_sequence_errors(w: Initiator) -> None:
    assert w.run(close(2)).asc == COMMAND_SEQUENCE_ERROR  # nothing to close
    assert w.run(close(1, 1)).asc == COMMAND_SEQUENCE_ERROR
    assert w.run(reserve(0)).asc == LBA_OUT_OF_RANGE
    assert w.run(reserve(5000)).asc == LBA_OUT_OF_RANGE
    r = w.run(reserve(16, arsv=1))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 0, True)
    assert w.run(write10(0, 1), bytes(BLOCK)).good
    assert w.run(reserve(16)).asc == COMMAND_SEQUENCE_ERROR  # the invisible track has data
    r = w.run(close(3))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (2, 2, True)


def test_send_opc_information(w: Initiator) -> None:
    assert w.run(cdb(0x54, 10, length=(7, ">H", 8)), bytes(8)).good
    assert w.run(cdb(0x54, 10, length=(7, ">H", 6)), bytes(6)).asc == PARAMETER_LIST_LENGTH_ERROR
    assert w.run(cdb(0x54, 10, length=(7, ">H", 16)), bytes(8)).asc == PARAMETER_LIST_LENGTH_ERROR


@pytest.mark.parametrize("command", [read10(0, 1), write10(0, 1), SYNC, reserve(16), close(2)])
def test_no_medium(e: Initiator, command: bytes) -> None:
    assert e.run(command, bytes(BLOCK) if command[0] == 0x2A else None).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def test_readonly_drive_does_not_burn(blank: Path) -> None:
    ini = _initiator(_target(dvd_lu(blank, readonly=True)), HOST_A, 1)
    assert ini.run(write10(0, 1), bytes(BLOCK)).asc == WRITE_PROTECTED
    features = ini.run(cdb(0x46, 10, rt=(1, ">B", 2), start=(2, ">H", 0x2B), alloc=(7, ">H", 64))).data
    assert not features[10] & 0x01  # DVD+R is not current on a read-only drive


def test_session_info_names_the_last_complete_session(w: Initiator) -> None:
    def session_info() -> tuple[int, int, int]:
        d = w.run(cdb(0x43, 10, fmt=(2, ">B", 1), alloc=(7, ">H", 12))).data
        return d[3], d[6], struct.unpack_from(">I", d, 8)[0]

    assert w.run(write10(0, 16), bytes(16 * BLOCK)).good
    assert session_info() == (1, 1, 0)  # nothing complete yet: the first session
    assert w.run(close(1, 1)).good and w.run(close(2)).good
    assert w.run(write10(16, 16), bytes(16 * BLOCK)).good  # the second session, still open
    assert session_info() == (1, 1, 0)
    assert w.run(close(2)).good
    assert session_info() == (2, 2, 16)


def test_closing_the_lu_keeps_unsynchronised_writes(burner: ScsiTarget, w: Initiator, blank: Path) -> None:
    """hptd stopping (LogicalUnit.release) writes the disc out: blocks written without SYNCHRONIZE
    CACHE are on the disc when it is opened again."""
    assert w.run(write10(0, 3), b"\x33" * (3 * BLOCK)).good
    lu = burner.lu(0)
    assert lu is not None
    lu.release()
    assert lu.state.disc is None
    again = _initiator(_target(dvd_lu(blank)), HOST_A, 1)
    assert again.run(read10(0, 3), alloc=3 * BLOCK).data == b"\x33" * (3 * BLOCK)
