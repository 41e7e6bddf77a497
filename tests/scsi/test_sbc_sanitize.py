"""SANITIZE (SBC-4 5.30): overwrite, block erase, exit failure mode, progress while it runs, task
management and resets, failure mode."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    BUS_DEVICE_RESET_FUNCTION,
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    SANITIZE_COMMAND_FAILED,
    SANITIZE_IN_PROGRESS,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.core.sense import parse_sense
from hpt.scsi.sbc.capacity import DEALLOCATED
from hpt.scsi.target import ScsiTarget
from hpt.store.crypt import EncryptedStore
from hpt.store.ram import RamStore
from tests.scsi.faulty_store import FaultyStore
from tests.scsi.sbc_support import BS, NBLOCKS, NEXUS, Disk, cdb16, sa16

OVERWRITE, BLOCK_ERASE, CRYPTO_ERASE, EXIT = 0x01, 0x02, 0x03, 0x1F
IMMED, AUSE = 0x80, 0x20
TUR, INQUIRY = bytes(6), bytes((0x12, 0, 0, 0, 96, 0))


def sanitize(sa: int, plen: int = 0, flags: int = 0) -> bytes:
    return struct.pack(">BB5xHx", 0x48, flags | sa, plen)


def pattern_list(pattern: bytes, count: int = 1, invert: bool = False) -> bytes:
    return struct.pack(">BxH", (0x80 if invert else 0) | count, len(pattern)) + pattern


def overwrite(disk: Disk, pattern: bytes, count: int = 1, invert: bool = False, flags: int = 0) -> ScsiResult:
    plist = pattern_list(pattern, count, invert)
    return disk.run(sanitize(OVERWRITE, len(plist), flags), plist).result


def test_overwrite_writes_the_pattern_on_every_block() -> None:
    disk = Disk(spc=True)
    disk.write(0, b"a" * 4 * BS)
    assert overwrite(disk, b"\xaa" * BS).status == Status.GOOD
    assert disk.read(0, NBLOCKS) == b"\xaa" * NBLOCKS * BS
    assert overwrite(disk, b"xyz").status == Status.GOOD  # repeated from the start of each block
    block = (b"xyz" * BS)[:BS]
    assert disk.read(0, 2) == block * 2 and disk.read(NBLOCKS - 1, 1) == block


def test_overwrite_invert_flips_all_but_the_last_pass() -> None:
    disk = Disk(spc=True)
    assert overwrite(disk, b"\x0f", count=2, invert=True).status == Status.GOOD
    assert disk.read(0, 1) == b"\x0f" * BS


@pytest.mark.parametrize("plen", [0, 1, 2, 3, 4, BS + 5])
def test_overwrite_parameter_list_length_limits(plen: int) -> None:
    disk = Disk(spc=True)
    reply = disk.run(sanitize(OVERWRITE, plen), bytes(plen + 8))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (7, None, True)


@pytest.mark.parametrize(("plist", "field"), [
    (struct.pack(">BxH", 0, BS) + bytes(BS), 0),  # OVERWRITE COUNT 0
    (struct.pack(">BxH", 0x21, BS) + bytes(BS), 0),  # TEST
    (struct.pack(">BxH", 1, 0) + bytes(BS), 2),  # no pattern
    (struct.pack(">BxH", 1, BS + 4) + bytes(BS), 2),  # longer than a block
    (struct.pack(">BxH", 1, 8) + bytes(4), 2),  # longer than the list holds
])
def test_overwrite_parameter_list_errors(plist: bytes, field: int) -> None:
    disk = Disk(spc=True)
    disk.write(0, b"k" * BS)
    reply = disk.run(sanitize(OVERWRITE, len(plist)), plist)
    assert reply.asc == INVALID_FIELD_IN_PARAMETER_LIST and reply.sks[0] == field
    assert disk.read(0, 1) == b"k" * BS  # nothing started


def test_block_erase_deallocates_a_thin_lu() -> None:
    disk = Disk(spc=True, thin=True)
    disk.write(0, b"a" * 256 * BS)
    assert disk.run(sanitize(BLOCK_ERASE)).status == Status.GOOD
    assert disk.read(0, 256) == bytes(256 * BS)
    data = disk.run(sa16(0x12, 0, 24), alloc=24).data
    assert struct.unpack_from(">QIB", data, 8) == (0, NBLOCKS, DEALLOCATED)
    assert disk.run(sanitize(BLOCK_ERASE, 8), bytes(8)).asc == INVALID_FIELD_IN_CDB


@pytest.mark.parametrize("sa", [0, CRYPTO_ERASE, 4, 0x10, 0x1E])
def test_unsupported_service_actions(sa: int) -> None:
    reply = Disk(spc=True, thin=True).run(sanitize(sa))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 4, True)


def test_block_erase_needs_a_thin_lu() -> None:
    assert Disk(spc=True).run(sanitize(BLOCK_ERASE)).asc == INVALID_FIELD_IN_CDB


@pytest.mark.parametrize("byte", [1, 2, 3, 4, 5, 6])
def test_reserved_cdb_fields(byte: int) -> None:
    cdb = bytearray(sanitize(BLOCK_ERASE))
    cdb[byte] |= 0x40
    reply = Disk(spc=True, thin=True).run(bytes(cdb))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks[0] == byte


def test_rsoc_lists_the_offered_service_actions() -> None:
    def listed(disk: Disk, sa: int) -> bool:
        cdb = struct.pack(">BBBBHIxx", 0xA3, 0x0C, 0x02, 0x48, sa, 64)
        return disk.run(cdb, alloc=64).data[1] & 0x07 == 0b011

    full, thin = Disk(spc=True), Disk(spc=True, thin=True)
    assert listed(full, OVERWRITE) and listed(full, EXIT) and not listed(full, BLOCK_ERASE)
    assert listed(thin, BLOCK_ERASE) and not listed(thin, CRYPTO_ERASE)


# -- crypto erase (a store that keeps its data encrypted) --------------------------------------
def encrypted(tmp_path: Path, **params: object) -> Disk:
    return Disk(EncryptedStore(RamStore(NBLOCKS * BS), str(tmp_path / "lu.key"), BS), spc=True, **params)


def test_crypto_erase_makes_written_blocks_unreadable(tmp_path: Path) -> None:
    disk = encrypted(tmp_path, thin=True)
    disk.write(0, b"a" * 256 * BS)
    disk.write(NBLOCKS - 256, b"a" * 256 * BS)
    assert disk.run(sanitize(CRYPTO_ERASE)).status == Status.GOOD
    for lba in (0, NBLOCKS - 256):
        assert b"a" * 16 not in disk.read(lba, 256)  # noise, read with GOOD (WACEREQ 01b)
    assert disk.read(256, 4) == bytes(4 * BS)  # never written: zeroes still
    disk.write(0, b"b" * BS)
    assert disk.read(0, 1) == b"b" * BS
    assert disk.run(sanitize(CRYPTO_ERASE, 8), bytes(8)).asc == INVALID_FIELD_IN_CDB  # no parameter list
    assert disk.run(sanitize(CRYPTO_ERASE, flags=IMMED)).status == Status.GOOD
    run = disk.lu.state.sanitize
    assert run is None or run.ended.wait(5)
    assert disk.read(0, 1) != b"b" * BS


def test_crypto_erase_is_offered_where_the_store_encrypts(tmp_path: Path) -> None:
    def listed(disk: Disk) -> bool:
        cdb = struct.pack(">BBBBHIxx", 0xA3, 0x0C, 0x02, 0x48, CRYPTO_ERASE, 64)
        return disk.run(cdb, alloc=64).data[1] & 0x07 == 0b011

    def wacereq(disk: Disk) -> int:
        return disk.run(bytes((0x12, 1, 0xB1, 0, 64, 0)), alloc=64).data[7] >> 4 & 0x03

    plain, disk = Disk(spc=True, thin=True), encrypted(tmp_path)
    assert listed(disk) and wacereq(disk) == 0b01
    assert not listed(plain) and wacereq(plain) == 0
    assert plain.run(sanitize(CRYPTO_ERASE)).sks == (1, 4, True)  # INVALID FIELD IN CDB (SBC-4 5.30.1)
    assert encrypted(tmp_path, readonly=True).run(sanitize(CRYPTO_ERASE)).asc == WRITE_PROTECTED


def test_write_protected() -> None:
    assert overwrite(Disk(spc=True, readonly=True), b"\x01").status == Status.CHECK_CONDITION
    disk = Disk(spc=True, thin=True, readonly=True)
    assert disk.run(sanitize(BLOCK_ERASE)).asc == WRITE_PROTECTED


# -- while it runs -----------------------------------------------------------------------------
@pytest.fixture
def held() -> tuple[Disk, FaultyStore]:
    store = FaultyStore(inline=True)
    store.faults["write"] = "hang"
    disk = Disk(store, spc=True)
    yield disk, store
    store.release.set()


def test_progress_and_refusals_while_it_runs(held: tuple[Disk, FaultyStore]) -> None:
    disk, store = held
    assert overwrite(disk, b"\x55", flags=IMMED).status == Status.GOOD
    assert store.stuck.wait(5)
    disk.lu.ua.establish(BUS_DEVICE_RESET_FUNCTION)  # a reset goes on under the sanitize
    for cdb in (TUR, cdb16(0x88, 0, 1), sanitize(OVERWRITE)):
        reply = disk.run(cdb, alloc=BS)
        assert reply.asc == SANITIZE_IN_PROGRESS
        assert reply.result.sense[15] == 0x80  # SKSV, progress indication
    sense = disk.run(bytes((0x03, 0, 0, 0, 252, 0)), alloc=252)  # REQUEST SENSE: GOOD, the progress
    assert sense.status == Status.GOOD and parse_sense(sense.data) == SANITIZE_IN_PROGRESS
    assert disk.run(INQUIRY, alloc=96).status == Status.GOOD
    store.release.set()
    store.faults.clear()
    run = disk.lu.state.sanitize
    assert run is not None and run.ended.wait(5)
    assert disk.run(TUR).asc == BUS_DEVICE_RESET_FUNCTION  # the unit attention waited
    assert disk.run(TUR).status == Status.GOOD
    assert disk.read(NBLOCKS - 1, 1) == b"\x55" * BS


def test_abort_ends_the_command_not_the_operation(held: tuple[Disk, FaultyStore]) -> None:
    disk, store = held
    target = ScsiTarget("iqn.2024-01.org.hpt:t")
    target.add_lu(disk.lu)
    plist = pattern_list(b"\x66")
    cmd = ScsiCommand(0, sanitize(OVERWRITE, len(plist)), NEXUS, tag=7, data_out=memoryview(plist),
                      expected_out=len(plist))
    results: list[ScsiResult] = []
    disk.lu.submit(cmd, results.append)
    assert store.stuck.wait(5)
    aborted = threading.Event()
    assert target.abort_task(0, NEXUS, 7, aborted.set)
    assert aborted.wait(5) and results and results[0].status == Status.TASK_ABORTED
    target.lu_reset(0)
    assert disk.run(TUR).asc == SANITIZE_IN_PROGRESS  # before the reset's unit attention
    store.release.set()
    store.faults.clear()
    assert disk.lu.state.sanitize is None or disk.lu.state.sanitize.ended.wait(5)


# -- failure mode ------------------------------------------------------------------------------
@pytest.mark.parametrize("ause", [False, True])
def test_failure_mode_and_exit(ause: bool) -> None:
    store = FaultyStore(inline=True)
    store.faults["write"] = "eio"
    disk = Disk(store, spc=True)
    reply = overwrite(disk, b"\x01", flags=AUSE if ause else 0)
    assert reply.status == Status.CHECK_CONDITION and parse_sense(reply.sense) == SANITIZE_COMMAND_FAILED
    assert disk.run(cdb16(0x88, 0, 1), alloc=BS).asc == SANITIZE_COMMAND_FAILED
    assert disk.run(INQUIRY, alloc=96).status == Status.GOOD
    store.faults.clear()
    exit_reply = disk.run(sanitize(EXIT))
    if not ause:  # only a new SANITIZE clears it
        assert exit_reply.asc == INVALID_FIELD_IN_CDB
        assert overwrite(disk, b"\x02").status == Status.GOOD
    else:
        assert exit_reply.status == Status.GOOD
    assert disk.run(cdb16(0x88, 0, 1), alloc=BS).status == Status.GOOD
    assert disk.run(sanitize(EXIT)).status == Status.GOOD  # not in failure mode: nothing to do
    assert disk.run(sanitize(EXIT, 8), bytes(8)).asc == INVALID_FIELD_IN_CDB
