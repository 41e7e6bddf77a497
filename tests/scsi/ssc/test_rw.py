"""READ(6), WRITE(6), WRITE FILEMARKS(6), VERIFY(6): data, filemarks, EOD, ILI residues, EOM (SSC-4)."""

from __future__ import annotations

import struct
from pathlib import Path

from hpt.media.tape import Cartridge, create
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    MEDIUM_NOT_PRESENT,
    MISCOMPARE_DURING_VERIFY,
    WRITE_PROTECTED,
)
from hpt.scsi.ssc.sense import (
    EARLY_WARNING,
    END_OF_DATA,
    END_OF_MEDIUM,
    FILEMARK_DETECTED,
    NO_SENSE,
    WORM_OVERWRITE,
)
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import HOST_A, TARGET_NAME, Initiator, Reply, _initiator
from tests.scsi.ssc.conftest import MIB, tape_lu
from tests.scsi.ssc.tape import REWIND, TUR, read6, weof, write6


def info(r: Reply) -> int:
    sense = r.result.sense
    assert sense[0] & 0x80, "VALID"
    return struct.unpack_from(">i", sense, 3)[0]


def flags(r: Reply) -> int:
    return r.result.sense[2] & 0xE0


def test_variable_blocks_and_filemarks_read_back(a: Initiator) -> None:
    assert a.run(write6(5), b"hello").good and a.run(write6(3), b"abc").good
    assert a.run(weof(1)).good
    assert a.run(write6(4), b"next").good
    assert a.run(REWIND).good
    r = a.run(read6(5), alloc=5)
    assert r.good and r.data == b"hello"
    assert a.run(read6(3), alloc=3).data == b"abc"
    r = a.run(read6(100), alloc=100)
    assert r.asc == FILEMARK_DETECTED and flags(r) == 0x80 and info(r) == 100
    assert a.run(read6(4), alloc=4).data == b"next"
    r = a.run(read6(4), alloc=4)
    assert r.asc == END_OF_DATA and info(r) == 4


def test_short_block_is_ili_with_positive_residue_and_its_data(a: Initiator) -> None:
    a.run(write6(10), b"0123456789")
    a.run(REWIND)
    r = a.run(read6(32), alloc=32)
    assert r.asc == NO_SENSE and flags(r) == 0x20 and info(r) == 22
    assert r.result.in_len == 10 and r.data == b"0123456789"


def test_long_block_is_ili_with_negative_residue(a: Initiator) -> None:
    a.run(write6(10), b"0123456789")
    a.run(REWIND)
    r = a.run(read6(4, sili=True), alloc=4)  # SILI does not hide an overlength block
    assert flags(r) == 0x20 and info(r) == -6 and r.data == b"0123"
    assert a.run(read6(1)).asc == END_OF_DATA  # the position moved past the block


def test_sili_hides_a_short_block(a: Initiator) -> None:
    a.run(write6(3), b"abc")
    a.run(REWIND)
    r = a.run(read6(10, sili=True), alloc=10)
    assert r.good and r.result.in_len == 3 and r.data == b"abc"


def test_fixed_blocks(a: Initiator, lu: object) -> None:
    lu.state.block_length = 4  # type: ignore[attr-defined]
    assert a.run(write6(3, fixed=True), b"aaaabbbbcccc").good
    assert a.run(weof()).good
    a.run(REWIND)
    r = a.run(read6(2, fixed=True), alloc=8)
    assert r.good and r.data == b"aaaabbbb"
    r = a.run(read6(5, fixed=True), alloc=20)  # one block, then the filemark
    assert r.asc == FILEMARK_DETECTED and info(r) == 4 and r.data == b"cccc"


def test_fixed_read_of_a_wrong_length_block_is_ili_in_blocks(a: Initiator, lu: object) -> None:
    a.run(write6(6), b"123456")
    a.run(REWIND)
    lu.state.block_length = 4  # type: ignore[attr-defined]
    r = a.run(read6(3, fixed=True), alloc=12)
    assert flags(r) == 0x20 and info(r) == 3


def test_bad_cdbs(a: Initiator) -> None:
    assert a.run(read6(4, fixed=True)).asc == INVALID_FIELD_IN_CDB  # variable-block mode
    assert a.run(bytes((0x08, 0x03, 0, 0, 4, 0))).asc == INVALID_FIELD_IN_CDB  # SILI with FIXED
    assert a.run(write6(4, fixed=True), b"abcd").asc == INVALID_FIELD_IN_CDB
    assert a.run(write6(1 << 23 | 1)).asc == INVALID_FIELD_IN_CDB  # beyond the maximum block length
    assert a.run(bytes((0x10, 0x02, 0, 0, 1, 0))).asc == INVALID_FIELD_IN_CDB  # setmarks
    assert a.run(read6(0)).good and a.run(write6(0)).good


def test_write_in_the_middle_ends_the_data_there(a: Initiator) -> None:
    for word in (b"one", b"two", b"three"):
        a.run(write6(len(word)), word)
    a.run(REWIND)
    a.run(read6(3), alloc=3)
    assert a.run(write6(3), b"TWO").good
    a.run(REWIND)
    assert a.run(read6(3), alloc=3).data == b"one" and a.run(read6(3), alloc=3).data == b"TWO"
    assert a.run(read6(5), alloc=5).asc == END_OF_DATA


def test_early_warning_then_end_of_medium(a: Initiator) -> None:
    block = bytes(64 << 10)
    n = 0
    while True:
        r = a.run(write6(len(block)), block)
        n += 1
        if not r.good:
            break
    assert r.asc == EARLY_WARNING and flags(r) == 0x40  # written, with EOM
    while r.asc == EARLY_WARNING:
        r = a.run(write6(len(block)), block)
    assert r.asc == END_OF_MEDIUM and flags(r) == 0x40 and info(r) == len(block)


def test_filemark_is_durable_and_survives_a_torn_tail(cartridge: Path, a: Initiator, lu: object) -> None:
    a.run(write6(4), b"data")
    assert a.run(weof()).good  # acknowledged: synchronised
    a.run(write6(4), b"torn")
    size = cartridge.stat().st_size
    with open(cartridge, "r+b") as f:  # the process dies mid-record
        f.truncate(size - 2)
    cart = Cartridge(cartridge)
    assert (cart.objects, cart.filemarks) == (2, 1)
    cart.close()


def test_write_protected_and_worm(tmp_path: Path) -> None:
    create(tmp_path / "wp", "WP0001L6", 2 * MIB, write_protect=True)
    create(tmp_path / "worm", "WORM01L6", 2 * MIB, worm=True)
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(tape_lu(tmp_path / "wp"))
    a = _initiator(t, HOST_A, 1)
    assert a.run(write6(1), b"x").asc == WRITE_PROTECTED
    assert a.run(weof()).asc == WRITE_PROTECTED
    assert a.run(bytes((0x1A, 0, 0x3F, 0, 255, 0))).data[2] & 0x80  # WP in MODE SENSE
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(tape_lu(tmp_path / "worm"))
    a = _initiator(t, HOST_A, 1)
    assert a.run(write6(1), b"x").good and a.run(weof()).good and a.run(write6(1), b"y").good
    a.run(REWIND)
    assert a.run(write6(1), b"z").asc == WORM_OVERWRITE
    assert a.run(bytes((0x19, 1, 0, 0, 0, 0))).asc == WORM_OVERWRITE  # ERASE
    assert a.run(read6(1), alloc=1).data == b"x"


def test_no_cartridge_is_not_ready() -> None:
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(tape_lu(None))
    a = _initiator(t, HOST_A, 1)
    for cdb in (TUR, read6(1), write6(1), REWIND):
        assert a.run(cdb, b"x" if cdb[0] == 0x0A else None).asc == MEDIUM_NOT_PRESENT


def test_verify(a: Initiator) -> None:
    a.run(write6(5), b"hello")
    a.run(REWIND)
    assert a.run(bytes((0x13, 0, 0, 0, 5, 0))).good
    a.run(REWIND)
    assert a.run(bytes((0x13, 0x02, 0, 0, 5, 0)), b"hello").good
    a.run(REWIND)
    assert a.run(bytes((0x13, 0x02, 0, 0, 5, 0)), b"hellO").asc == MISCOMPARE_DURING_VERIFY
    assert a.run(bytes((0x13, 0x20, 0, 0, 5, 0))).asc == INVALID_FIELD_IN_CDB
