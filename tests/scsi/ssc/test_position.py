"""SPACE(6/16), LOCATE(10/16), READ POSITION and REWIND (SSC-4)."""

from __future__ import annotations

import struct

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.ssc.sense import BEGINNING_OF_MEDIUM, END_OF_DATA, FILEMARK_DETECTED
from tests.scsi.conftest import Initiator
from tests.scsi.ssc.tape import (
    REWIND,
    locate10,
    locate16,
    read6,
    read_position,
    space6,
    space16,
    weof,
    write6,
)


def position(a: Initiator) -> int:
    r = a.run(read_position())
    assert r.good and len(r.data) == 20
    return int(struct.unpack_from(">I", r.data, 4)[0])


def tape(a: Initiator) -> None:
    """Objects: 0 A, 1 B, 2 FM, 3 C, 4 FM, 5 D, 6 FM; EOD at 7."""
    for word in (b"A", b"B", None, b"C", None, b"D", None):
        assert (a.run(weof()) if word is None else a.run(write6(1), word)).good
    assert a.run(REWIND).good


def residue(r: object) -> int:
    return int(struct.unpack_from(">i", r.result.sense, 3)[0])  # type: ignore[attr-defined]


def test_space_blocks_stops_at_a_filemark(a: Initiator) -> None:
    tape(a)
    assert a.run(space6(0, 1)).good and position(a) == 1
    r = a.run(space6(0, 5))
    assert r.asc == FILEMARK_DETECTED and residue(r) == 4 and position(a) == 3
    assert a.run(space6(0, 1)).good and position(a) == 4  # over C
    r = a.run(space6(0, -3))  # back over C, then the filemark stops it on its BOP side
    assert r.asc == FILEMARK_DETECTED and residue(r) == 2 and position(a) == 2


def test_space_filemarks_and_end_of_data(a: Initiator) -> None:
    tape(a)
    assert a.run(space6(1, 2)).good and position(a) == 5
    assert a.run(read6(1), alloc=1).data == b"D"
    assert a.run(space6(1, -1)).good and position(a) == 4
    r = a.run(space6(1, 5))
    assert r.asc == END_OF_DATA and position(a) == 7
    assert a.run(space6(3, 0)).good and position(a) == 7
    r = a.run(space6(1, -9))
    assert r.asc == BEGINNING_OF_MEDIUM and r.result.sense[2] & 0x40 and position(a) == 0
    assert a.run(space16(1, 2)).good and position(a) == 5
    assert a.run(space16(0, 1)).good and position(a) == 6
    assert a.run(space6(2, 1)).asc == INVALID_FIELD_IN_CDB
    assert a.run(space16(0, 1, plen=4)).asc == INVALID_FIELD_IN_CDB


def test_space_blocks_to_end_of_data(a: Initiator) -> None:
    a.run(write6(1), b"x")
    a.run(REWIND)
    r = a.run(space6(0, 3))
    assert r.asc == END_OF_DATA and residue(r) == 2


def test_locate(a: Initiator) -> None:
    tape(a)
    assert a.run(locate10(5)).good and a.run(read6(1), alloc=1).data == b"D"
    assert a.run(locate16(1, dest=1)).good and position(a) == 3  # the first object of file 1
    assert a.run(locate16(0, dest=3)).good and position(a) == 7
    assert a.run(locate10(9)).asc == END_OF_DATA and position(a) == 7
    assert a.run(locate10(0, cp=True, partition=1)).asc == INVALID_FIELD_IN_CDB
    assert a.run(locate16(0, dest=2)).asc == INVALID_FIELD_IN_CDB


def test_read_position_forms(a: Initiator) -> None:
    tape(a)
    r = a.run(read_position())
    assert r.data[0] & 0x80  # BOP
    a.run(locate10(5))
    r = a.run(read_position(0x06))
    assert len(r.data) == 32 and struct.unpack_from(">QQ", r.data, 8) == (5, 2) and not r.data[0] & 0x80
    r = a.run(read_position(0x08, alloc=32))
    assert struct.unpack_from(">H", r.data, 2)[0] == 0x1C and struct.unpack_from(">Q", r.data, 8)[0] == 5
    assert a.run(read_position(0x02)).asc == INVALID_FIELD_IN_CDB
