"""What the fuzz harnesses found, kept as regression tests (one per finding, the fixed behaviour)."""

from __future__ import annotations

from pathlib import Path

from hpt.scsi.core.constants import SenseKey, Status
from hpt.scsi.core.sense import parse_sense
from tests.fuzz.devices import close, disk, osd
from tests.fuzz.scsi import check, run


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
