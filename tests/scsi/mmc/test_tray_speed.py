"""START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, MECHANISM STATUS, SET CD SPEED, SET STREAMING,
GET PERFORMANCE, READ BUFFER CAPACITY and MODE SENSE/SELECT(10) pages 05h and 2Ah (MMC-6), and the
drive as a changer's MediumDrive (SMC-3 4.2.3)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hpt.media.disc import open_disc
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    MEDIUM_CHANGED,
    MEDIUM_REMOVAL_PREVENTED,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.mmc.drive import drive_of
from hpt.scsi.mmc.sense import (
    MEDIA_LOAD_OR_EJECT_FAILED,
    MEDIUM_NOT_PRESENT_TRAY_CLOSED,
    MEDIUM_NOT_PRESENT_TRAY_OPEN,
)
from hpt.scsi.mmc.state import MAX_SPEED
from hpt.scsi.spc.removable import MEDIUM_FORMAT_CORRUPTED
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import Initiator, make_lu

from .conftest import BLOCK, cdb, read10

EJECT, LOAD = bytes((0x1B, 0, 0, 0, 0x02, 0)), bytes((0x1B, 0, 0, 0, 0x03, 0))
PREVENT, ALLOW = bytes((0x1E, 0, 0, 0, 1, 0)), bytes((0x1E, 0, 0, 0, 0, 0))


def lu_of(target: ScsiTarget) -> LogicalUnit:
    lu = target.lu(0)
    assert lu is not None
    return lu


def tray_open(ini: Initiator) -> bool:
    return bool(ini.run(cdb(0xBD, 12, alloc=(8, ">H", 8))).data[1] & 0x10)


def test_eject_and_load(a: Initiator, b: Initiator) -> None:
    assert a.run(EJECT).good and tray_open(a)
    assert a.run(bytes(6)).asc == MEDIUM_NOT_PRESENT_TRAY_OPEN
    assert a.run(read10(0, 1)).asc == MEDIUM_NOT_PRESENT_TRAY_OPEN
    assert a.run(EJECT).good  # already open
    assert a.run(LOAD).good and not tray_open(a)
    assert a.run(bytes(6)).good
    assert b.run(bytes(6)).asc == MEDIUM_CHANGED and b.run(bytes(6)).good


def test_prevent_locks_the_tray(a: Initiator, b: Initiator) -> None:
    assert a.run(PREVENT).good
    assert b.run(EJECT).asc == MEDIUM_REMOVAL_PREVENTED
    assert b.run(ALLOW).good and b.run(EJECT).asc == MEDIUM_REMOVAL_PREVENTED  # b held no lock
    assert a.run(ALLOW).good and b.run(EJECT).good
    r = a.run(bytes((0x1E, 0, 0, 0, 2, 0)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (4, 1, True)


def test_reset_drops_the_lock(rom: ScsiTarget, a: Initiator) -> None:
    assert a.run(PREVENT).good
    lu = lu_of(rom)
    lu.profile.reset(lu, None)  # type: ignore[misc]
    assert a.run(EJECT).good


def test_start_stop_power_and_spin(a: Initiator, e: Initiator) -> None:
    assert a.run(bytes((0x1B, 0, 0, 0, 0x01, 0))).good  # start: nothing to spin
    assert a.run(bytes((0x1B, 0, 0, 0, 0x22, 0))).good and not tray_open(a)  # power condition: LOEJ ignored
    r = a.run(bytes((0x1B, 0, 0, 0, 0x40, 0)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (4, 7, True)
    assert e.run(EJECT).good and e.run(bytes(6)).asc == MEDIUM_NOT_PRESENT_TRAY_OPEN
    assert e.run(LOAD).good and e.run(bytes(6)).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def test_mechanism_status(a: Initiator) -> None:
    assert a.run(cdb(0xBD, 12, alloc=(8, ">H", 8))).data == bytes(8)


def test_set_cd_speed_and_performance(a: Initiator, iso: Path) -> None:
    iso_blocks = iso.stat().st_size // BLOCK
    assert a.run(cdb(0xBB, 12, read=(2, ">H", 2770), write=(4, ">H", 0xFFFF))).good
    r = a.run(cdb(0xAC, 12, lba=(2, ">I", 0), most=(8, ">H", 4), kind=(10, ">B", 0)))
    length, flags = struct.unpack_from(">IB", r.data)
    assert (length, flags) == (20, 0)
    assert struct.unpack_from(">IIII", r.data, 8)[1] == 2770
    speeds = a.run(cdb(0xAC, 12, most=(8, ">H", 4), kind=(10, ">B", 3))).data
    assert struct.unpack_from(">I", speeds, 12)[0] == iso_blocks - 1  # END LBA
    assert struct.unpack_from(">II", speeds, 16) == (2770, MAX_SPEED)
    write = a.run(cdb(0xAC, 12, dtype=(1, ">B", 0x04), most=(8, ">H", 4), kind=(10, ">B", 0))).data
    assert write[4] & 0x02 and struct.unpack_from(">I", write, 12)[0] == MAX_SPEED
    assert a.run(cdb(0xAC, 12, most=(8, ">H", 0), kind=(10, ">B", 3))).data == struct.pack(">IB3x", 4, 0)
    r = a.run(cdb(0xAC, 12, most=(8, ">H", 1), kind=(10, ">B", 1)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == 10
    r = a.run(cdb(0xBB, 12, rc=(1, ">B", 3)))
    assert r.asc == INVALID_FIELD_IN_CDB


def streaming(start: int, end: int, read_ms: int = 1000, write_ms: int = 1000) -> bytes:
    return struct.pack(">B3x6I", 0, start, end, 5540, read_ms, 2770, write_ms)


def test_set_streaming(a: Initiator) -> None:
    command = cdb(0xB6, 12, length=(9, ">H", 28))
    assert a.run(command, streaming(0, 1000)).good
    speeds = a.run(cdb(0xAC, 12, most=(8, ">H", 1), kind=(10, ">B", 3))).data
    assert struct.unpack_from(">II", speeds, 16) == (5540, 2770)
    r = a.run(command, streaming(10, 5))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (4, None, False)
    assert a.run(command, streaming(0, 5, read_ms=0)).asc == INVALID_FIELD_IN_PARAMETER_LIST
    zone = cdb(0xB6, 12, kind=(8, ">B", 5), length=(9, ">H", 28))  # DBI cache zone: not kept
    assert a.run(zone, bytes(28)).asc == INVALID_FIELD_IN_CDB
    assert a.run(cdb(0xB6, 12, length=(9, ">H", 8)), bytes(8)).asc == INVALID_FIELD_IN_CDB


def test_read_buffer_capacity(a: Initiator, e: Initiator) -> None:
    assert struct.unpack(">HxxII", a.run(cdb(0x5C, 10, alloc=(7, ">H", 12))).data) == (10, 4 << 20, 4 << 20)
    block = a.run(cdb(0x5C, 10, block=(1, ">B", 1), alloc=(7, ">H", 12))).data
    assert block[3] & 0x01 and struct.unpack_from(">I", block, 8)[0] == 2048
    assert e.run(cdb(0x5C, 10, alloc=(7, ">H", 12))).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def mode_sense(ini: Initiator, page: int, pc: int = 0) -> bytes:
    r = ini.run(cdb(0x5A, 10, page=(2, ">B", pc << 6 | page), alloc=(7, ">H", 255)))
    assert r.good, r.result
    assert struct.unpack_from(">H", r.data, 6)[0] == 0  # no block descriptor
    return r.data[8:]


def test_capabilities_page(a: Initiator) -> None:
    page = mode_sense(a, 0x2A)
    assert page[0] == 0x2A and page[1] == len(page) - 2 == 34
    assert page[2] & 0x08 and page[3] & 0x10  # reads DVD-ROM, writes DVD-R (sr's tests)
    assert page[6] >> 5 == 1 and page[6] & 0x09 == 0x09  # tray, eject, lock
    assert struct.unpack_from(">H", page, 30)[0] == 1


def test_write_parameters_page(w: Initiator) -> None:
    page = bytearray(mode_sense(w, 0x05))
    assert page[:2] == bytes((0x05, 0x32)) and page[4] & 0x0F == 8
    page[2] = 0x02  # write type: session-at-once, as a tool selects it
    header = struct.pack(">HxxxxH", 0, 0)
    assert w.run(cdb(0x55, 10, pf=(1, ">B", 0x10), length=(7, ">H", 8 + len(page))), header + page).good
    assert mode_sense(w, 0x05)[2] == 0x02
    bad = bytes(header) + bytes((0x2A, 34)) + bytes(34)
    r = w.run(cdb(0x55, 10, pf=(1, ">B", 0x10), length=(7, ">H", len(bad))), bad)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST  # page 2Ah changes nothing


def test_medium_drive_load_unload(empty: ScsiTarget, e: Initiator, iso: Path, blank: Path) -> None:
    drive = drive_of(lu_of(empty))
    assert drive.loaded is None
    with pytest.raises(SenseError) as err:
        drive.unload()
    assert err.value.asc == MEDIA_LOAD_OR_EJECT_FAILED
    drive.load(iso)
    assert drive.loaded == iso and e.run(bytes(6)).asc == MEDIUM_CHANGED and e.run(bytes(6)).good
    with pytest.raises(SenseError) as err:
        drive.load(blank)
    assert err.value.asc == MEDIA_LOAD_OR_EJECT_FAILED
    assert e.run(PREVENT).good
    with pytest.raises(SenseError) as err:
        drive.unload()
    assert err.value.asc == MEDIUM_REMOVAL_PREVENTED
    assert e.run(ALLOW).good and drive.unload() == iso and drive.loaded is None
    assert e.run(bytes(6)).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED
    assert drive.identifier()[:4] == bytes((0x01, 0x03, 0x00, 0x08))


def test_medium_drive_refuses_a_bad_file(empty: ScsiTarget, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(SenseError) as err:
        drive_of(lu_of(empty)).load(tmp_path / "empty")
    assert err.value.asc == MEDIUM_FORMAT_CORRUPTED


def test_drive_of_another_type() -> None:
    with pytest.raises(TypeError):
        drive_of(make_lu())


def test_burned_unload_is_durable(burner: ScsiTarget, w: Initiator, blank: Path) -> None:
    assert w.run(struct.pack(">BBIBHB", 0x2A, 0, 0, 0, 1, 0), b"\x11" * BLOCK).good
    assert drive_of(lu_of(burner)).unload() == blank
    disc = open_disc(blank)
    assert disc.readable == 1 and disc.state == "appendable"
    disc.close()
