"""LOAD UNLOAD, ERASE, PREVENT ALLOW, READ BLOCK LIMITS, REPORT DENSITY SUPPORT, mode pages, LOG SENSE,
READ ATTRIBUTE, INQUIRY and RSOC of the tape drive, and the MediumDrive a changer uses."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    MEDIUM_CHANGED,
    MEDIUM_NOT_PRESENT,
    MEDIUM_REMOVAL_PREVENTED,
    WRITE_PROTECTED,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.spc.vpd import vpd_page
from hpt.scsi.ssc.drive import drive_of
from hpt.scsi.ssc.sense import END_OF_DATA
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import HOST_A, HOST_B, TARGET_NAME, Initiator, _initiator, make_nexus
from tests.scsi.ssc.conftest import tape_lu
from tests.scsi.ssc.tape import (
    ALLOW,
    BLOCK_LIMITS,
    ERASE,
    LOAD,
    PREVENT,
    REWIND,
    TUR,
    UNLOAD,
    read6,
    weof,
    write6,
)


def test_unload_and_load(a: Initiator, b: Initiator) -> None:
    assert a.run(UNLOAD).good and a.run(TUR).asc == MEDIUM_NOT_PRESENT
    assert a.run(LOAD).good and a.run(TUR).good
    assert b.run(TUR).asc == MEDIUM_CHANGED
    assert a.run(bytes((0x1B, 0, 0, 0, 0x05, 0))).asc == INVALID_FIELD_IN_CDB  # LOAD with EOT


def test_prevent_blocks_unload_until_allowed(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert a.run(PREVENT).good
    assert b.run(UNLOAD).asc == MEDIUM_REMOVAL_PREVENTED
    with pytest.raises(SenseError) as err:
        drive_of(lu).unload()
    assert err.value.asc == MEDIUM_REMOVAL_PREVENTED
    assert a.run(bytes((0x1E, 0, 0, 0, 2, 0))).asc == INVALID_FIELD_IN_CDB
    assert a.run(ALLOW).good and b.run(UNLOAD).good


def test_prevent_is_dropped_with_its_nexus(a: Initiator, target: ScsiTarget, lu: LogicalUnit) -> None:
    a.run(PREVENT)
    lu.profile.reset(lu, a.port)  # type: ignore[misc]
    assert drive_of(lu).unload() is not None


def test_erase_ends_the_data_at_the_position(a: Initiator) -> None:
    for w in (b"a", b"b", b"c"):
        a.run(write6(1), w)
    a.run(REWIND)
    a.run(read6(1), alloc=1)
    assert a.run(ERASE).good
    a.run(REWIND)
    assert a.run(read6(1), alloc=1).data == b"a" and a.run(read6(1)).asc == END_OF_DATA


def test_block_limits_and_density(a: Initiator) -> None:
    r = a.run(BLOCK_LIMITS)
    assert len(r.data) == 6 and r.data[1:4] == (1 << 23).to_bytes(3, "big") and r.data[4:6] == b"\x00\x01"
    assert len(a.run(bytes((0x05, 1, 0, 0, 0, 0))).data) == 20
    r = a.run(bytes((0x44, 0, 0, 0, 0, 0, 0, 0, 255, 0)))
    assert struct.unpack_from(">H", r.data)[0] == 54 and r.data[4] == 0x5A and r.data[6] & 0x80
    r = a.run(bytes((0x44, 1, 0, 0, 0, 0, 0, 0, 255, 0)))
    assert struct.unpack_from(">I", r.data, 16)[0] == (4 << 20) // 1_000_000
    assert a.run(bytes((0x44, 2, 0, 0, 0, 0, 0, 0, 255, 0))).asc == INVALID_FIELD_IN_CDB


def test_mode_select_sets_the_block_length(a: Initiator, lu: LogicalUnit) -> None:
    r = a.run(bytes((0x1A, 0, 0x3F, 0, 255, 0)))
    assert r.data[3] == 8 and r.data[4] == 0x5A and r.data[9:12] == b"\x00\x00\x00"
    assert r.data[2] == 0x10  # BUFFERED MODE 1, not write protected
    pages = {r.data[i] & 0x3F for i in _page_offsets(r.data)}
    assert {0x01, 0x0F, 0x10, 0x11} <= pages
    param = bytes((0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 2, 0))  # block length 512
    assert a.run(bytes((0x15, 0x10, 0, 0, len(param), 0)), param).good
    assert lu.state.block_length == 512
    assert a.run(bytes((0x1A, 0, 0x3F, 0, 12, 0))).data[9:12] == b"\x00\x02\x00"
    bad = bytes((0, 0, 0x10, 8, 0x33, 0, 0, 0, 0, 0, 2, 0))  # an unknown density
    assert a.run(bytes((0x15, 0x10, 0, 0, len(bad), 0)), bad).asc == INVALID_FIELD_IN_PARAMETER_LIST
    huge = bytes((0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF))
    assert a.run(bytes((0x15, 0x10, 0, 0, len(huge), 0)), huge).asc == INVALID_FIELD_IN_PARAMETER_LIST
    assert lu.state.block_length == 512


def _page_offsets(data: bytes) -> list[int]:
    off, out = 4 + data[3], []
    while off < len(data):
        out.append(off)
        off += 2 + data[off + 1]
    return out


def test_mode_sense_page_zero_is_the_block_descriptor(a: Initiator) -> None:
    """Linux st opens a drive with MODE SENSE(6) of page 00h, 12 bytes: header and block descriptor."""
    r = a.run(bytes((0x1A, 0, 0x00, 0, 12, 0)))
    assert r.good and len(r.data) == 12
    assert r.data[0] == 11 and r.data[3] == 8 and r.data[4] == 0x5A and r.data[9:12] == b"\x00\x00\x00"
    r = a.run(bytes((0x5A, 0, 0x00, 0, 0, 0, 0, 0, 255, 0)))  # MODE SENSE(10): the same, no page bytes
    assert r.good and len(r.data) == 16 and r.data[7] == 8 and r.data[8] == 0x5A
    assert a.run(bytes((0x1A, 0x08, 0x00, 0, 12, 0))).data == bytes((3, 0, 0x10, 0))  # DBD: header only


def test_log_sense(a: Initiator) -> None:
    assert a.run(bytes((0x4D, 0, 0x00, 0, 0, 0, 0, 0, 255, 0))).data[4:] == bytes((0x00, 0x0C, 0x2E))
    a.run(write6(5), b"hello")
    r = a.run(bytes((0x4D, 0, 0x0C, 0, 0, 0, 0, 0, 255, 0)))
    assert r.data[0] == 0x0C and struct.unpack_from(">HBBQ", r.data, 4) == (0, 0, 8, 5)
    a.run(REWIND)
    a.run(bytes((0x1B, 0, 0, 0, 0, 0)))
    r = a.run(bytes((0x4D, 0, 0x2E, 0, 0, 0, 0, 2, 0, 0)))
    assert len(r.data) == 4 + 64 * 5
    assert a.run(bytes((0x4D, 0, 0x33, 0, 0, 0, 0, 0, 255, 0))).asc == INVALID_FIELD_IN_CDB
    assert a.run(bytes((0x4D, 1, 0x0C, 0, 0, 0, 0, 0, 255, 0))).asc == INVALID_FIELD_IN_CDB


def test_tape_alert_flags_a_write_to_a_protected_cartridge(tmp_path: Path) -> None:
    from hpt.media.tape import create

    create(tmp_path / "wp", "WP0001L6", 2 << 20, write_protect=True)
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(tape_lu(tmp_path / "wp"))
    a = _initiator(t, HOST_A, 1)
    assert a.run(write6(1), b"x").asc == WRITE_PROTECTED
    r = a.run(bytes((0x4D, 0, 0x2E, 0, 0, 0, 0, 2, 0, 0)))
    assert r.data[4 + 8 * 5 + 4] == 1  # flag 09h
    r = a.run(bytes((0x4D, 0, 0x2E, 0, 0, 0, 0, 2, 0, 0)))
    assert r.data[4 + 8 * 5 + 4] == 0  # cleared once read


def read_attribute(sa: int = 0, first: int = 0, volume: int = 0) -> bytes:
    return bytes((0x8C, sa, 0, 0, 0, volume, 0, 0)) + struct.pack(">HI", first, 4096) + bytes(2)


def test_read_attribute(a: Initiator) -> None:
    r = a.run(read_attribute())
    attrs, off = {}, 4
    while off < len(r.data):
        ident, fmt, n = struct.unpack_from(">HBH", r.data, off)
        attrs[ident] = r.data[off + 5:off + 5 + n]
        off += 5 + n
    assert attrs[0x0806].rstrip() == b"HPT001L6" and attrs[0x0400].rstrip() == b"HPT"
    assert int.from_bytes(attrs[0x0003], "big") == 1  # loaded once
    assert int.from_bytes(attrs[0x0001], "big") == 4
    r = a.run(read_attribute(first=0x0800))
    assert struct.unpack_from(">H", r.data, 4)[0] == 0x0806
    r = a.run(read_attribute(sa=5))
    assert struct.unpack_from(">I", r.data)[0] == 2 * 11
    assert a.run(read_attribute(sa=2)).data == bytes((0, 2, 0, 1))
    assert a.run(read_attribute(sa=4)).asc == INVALID_FIELD_IN_CDB
    assert a.run(read_attribute(volume=1)).asc == INVALID_FIELD_IN_CDB
    a.run(UNLOAD)
    assert a.run(read_attribute()).asc == MEDIUM_NOT_PRESENT


def test_inquiry_vpd_and_rsoc(a: Initiator, lu: LogicalUnit) -> None:
    r = a.run(bytes((0x12, 0, 0, 0, 96, 0)))
    assert r.data[0] == 0x01 and r.data[1] & 0x80 and r.data[16:28] == b"VIRTUAL-TAPE"
    assert a.run(bytes((0x12, 1, 0xB0, 0, 64, 0))).data[4] & 0x01  # WORM supported
    r = a.run(bytes((0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0)), alloc=16384)
    ops = {r.data[4 + i * 8] for i in range(struct.unpack_from(">I", r.data)[0] // 8)}
    assert {0x01, 0x05, 0x08, 0x0A, 0x10, 0x11, 0x13, 0x19, 0x1B, 0x1E, 0x2B, 0x34, 0x44, 0x4D, 0x8C,
            0x91, 0x92} <= ops
    vpd83 = vpd_page(lu, make_nexus(HOST_A, 1), 0x83)
    assert vpd83 is not None and vpd83[4:4 + len(drive_of(lu).identifier())] == drive_of(lu).identifier()


def test_medium_drive_load_unload(tmp_path: Path, cartridge: Path) -> None:
    t = ScsiTarget(TARGET_NAME)
    lu = tape_lu(None)
    t.add_lu(lu)
    a = _initiator(t, HOST_A, 1)
    b = _initiator(t, HOST_B, 2)
    drive = drive_of(lu)
    assert drive.loaded is None and a.run(TUR).asc == MEDIUM_NOT_PRESENT
    with pytest.raises(SenseError):
        drive.unload()
    drive.load(cartridge)
    assert drive.loaded == cartridge
    assert a.run(TUR).asc == MEDIUM_CHANGED and b.run(TUR).asc == MEDIUM_CHANGED and a.run(TUR).good
    with pytest.raises(SenseError):
        drive.load(cartridge)  # full
    a.run(write6(3), b"abc")
    a.run(weof())
    assert drive.unload() == cartridge and drive.loaded is None
    drive.load(cartridge)
    a.run(TUR)
    assert a.run(read6(3), alloc=3).data == b"abc"  # at beginning of partition
    junk = tmp_path / "junk"
    junk.write_bytes(b"no")
    drive.unload()
    with pytest.raises(SenseError):
        drive.load(junk)
    assert drive.loaded is None
    from hpt.scsi.lu import LuParams
    from hpt.scsi.sbc.profile import DISK

    with pytest.raises(TypeError):
        drive_of(LogicalUnit(DISK, LuParams(), None))
