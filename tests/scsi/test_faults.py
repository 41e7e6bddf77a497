"""Injected faults: which commands a fault hits, the status and sense they end with, and a LU without
faults left as it was."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from hpt.scsi.core.command import BUSY, DISCONNECT, TASK_SET_FULL, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INTERNAL_TARGET_FAILURE,
    LU_NOT_READY_CAUSE_NOT_REPORTABLE,
    POWER_ON_RESET,
    UNRECOVERED_READ_ERROR,
    WRITE_ERROR,
    Status,
)
from hpt.scsi.core.faults import MAX_LBA, Fault, FaultError
from hpt.scsi.core.sense import parse_sense
from tests.scsi.sbc_support import BS, NEXUS, Disk, cdb10, cdb16

READ16, WRITE16, READ10 = 0x88, 0x8A, 0x28
INQUIRY = bytes((0x12, 0, 0, 0, 96, 0))
TUR = bytes(6)


@pytest.fixture
def disk() -> Disk:
    return Disk(spc=True)


def read(disk: Disk, lba: int, n: int = 1) -> Any:
    return disk.run(cdb16(READ16, lba, n), alloc=n * BS)


def write(disk: Disk, lba: int, n: int = 1) -> Any:
    return disk.run(cdb16(WRITE16, lba, n), bytes(n * BS))


def test_medium_error_on_a_range_of_reads_only(disk: Disk) -> None:
    disk.lu.inject(Fault.parse("read", (100, 199), "medium"))
    assert read(disk, 99).good and read(disk, 200).good and write(disk, 150).good
    for lba, n, first in ((100, 1, 100), (199, 1, 199), (90, 20, 100), (150, 64, 150)):
        reply = read(disk, lba, n)
        assert reply.asc == UNRECOVERED_READ_ERROR
        assert reply.info == first  # INFORMATION: the first block the error hit (SBC-4 4.18)
    reply = disk.run(cdb10(READ10, 120, 1), alloc=BS)
    assert reply.asc == UNRECOVERED_READ_ERROR


def test_medium_error_on_writes_is_a_write_error(disk: Disk) -> None:
    disk.lu.inject(Fault.parse("any", [0, 9], "medium"))
    assert write(disk, 5).asc == WRITE_ERROR
    assert read(disk, 5).asc == UNRECOVERED_READ_ERROR
    assert write(disk, 10).good


def test_descriptor_sense_when_the_lu_uses_it(disk: Disk) -> None:
    disk.lu.d_sense = True
    disk.lu.inject(Fault.parse("read", (7, 7), "medium"))
    sense = read(disk, 7).result.sense
    assert sense[0] == 0x72 and parse_sense(sense) == UNRECOVERED_READ_ERROR
    assert sense[8:12] == bytes((0x00, 0x0A, 0x80, 0x00)) and int.from_bytes(sense[12:20], "big") == 7


@pytest.mark.parametrize(("error", "asc"), [("hardware", INTERNAL_TARGET_FAILURE),
                                            ("not_ready", LU_NOT_READY_CAUSE_NOT_REPORTABLE)])
def test_sense_errors(disk: Disk, error: str, asc: Any) -> None:
    disk.lu.inject(Fault.parse("write", (0, 0), error))
    reply = write(disk, 0)
    assert reply.asc == asc and reply.info is None
    assert read(disk, 0).good


@pytest.mark.parametrize(("error", "result"), [("busy", BUSY), ("task_set_full", TASK_SET_FULL),
                                               ("drop", DISCONNECT)])
def test_status_errors(disk: Disk, error: str, result: ScsiResult) -> None:
    disk.lu.inject(Fault.parse("any", None, error))
    assert read(disk, 3).result is result
    assert write(disk, 3).result is result


def test_every_block_hits_commands_without_blocks_but_never_inquiry(disk: Disk) -> None:
    disk.lu.inject(Fault.parse("any", None, "not_ready"))
    assert disk.run(TUR).asc == LU_NOT_READY_CAUSE_NOT_REPORTABLE
    assert disk.run(INQUIRY, alloc=96).good
    disk.lu.clear_faults()
    disk.lu.inject(Fault.parse("read", (0, 10), "not_ready"))
    assert disk.run(TUR).good  # a range hits only commands that address blocks


def test_a_unit_attention_comes_before_the_fault(disk: Disk) -> None:
    disk.lu.ua.establish(POWER_ON_RESET)
    disk.lu.inject(Fault.parse("read", None, "medium"))
    assert read(disk, 0).asc == POWER_ON_RESET
    assert read(disk, 0).asc == UNRECOVERED_READ_ERROR


def test_the_first_fault_set_decides_and_clear_ends_them_all(disk: Disk) -> None:
    disk.lu.inject(Fault.parse("read", (0, 4), "hardware"))
    disk.lu.inject(Fault.parse("read", (0, 100), "busy"))
    assert read(disk, 2).asc == INTERNAL_TARGET_FAILURE
    assert read(disk, 50).result is BUSY
    disk.lu.clear_faults()
    assert disk.lu.faults is None
    assert read(disk, 2).good and read(disk, 50).good


def test_a_delay_answers_late_with_the_commands_own_result(disk: Disk,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    timers: list[tuple[float, Callable[..., None], tuple[Any, ...]]] = []

    class Timer:
        def __init__(self, delay: float, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
            timers.append((delay, fn, args))

        def start(self) -> None:
            pass

    monkeypatch.setattr(threading, "Timer", Timer)
    disk.write(40, b"\x5a" * BS)
    disk.lu.inject(Fault.parse("read", (40, 40), "delay:0.25"))
    got: list[ScsiResult] = []
    buf = bytearray(BS)
    cmd = ScsiCommand(0, cdb16(READ16, 40, 1), NEXUS, data_in=memoryview(buf), expected_in=BS)
    disk.lu.submit(cmd, got.append)
    assert got == [] and len(timers) == 1 and timers[0][0] == 0.25
    delay, fn, args = timers[0]
    fn(*args)
    assert got[0].status == Status.GOOD and buf == b"\x5a" * BS
    assert read(disk, 41).good and len(timers) == 1  # outside the range: no delay


@pytest.mark.parametrize(
    ("op", "lba", "error", "message"),
    [
        ("erase", None, "medium", "op must be one of read, write, any"),
        ("read", (5, 4), "medium", "the first block 5 is after the last 4"),
        ("read", (1, 2, 3), "medium", "lba must be a (first, last) pair"),
        ("read", "1-2", "medium", "lba must be a (first, last) pair"),
        ("read", (-1, 2), "medium", "two block numbers"),
        ("read", (True, 2), "medium", "two block numbers"),
        ("read", (0, MAX_LBA + 1), "medium", "two block numbers"),
        ("read", None, "fire", "error must be one of medium, hardware, not_ready, busy"),
        ("read", None, "busy:1", "error must be one of"),
        ("read", None, "delay:soon", "delay wants seconds"),
        ("read", None, "delay:-1", "delay must be 0..3600 seconds"),
        ("read", None, "delay:nan", "delay must be 0..3600 seconds"),
        ("read", None, 7, "error must be one of"),
    ],
)
def test_bad_faults_are_refused_clearly(op: object, lba: object, error: object, message: str) -> None:
    with pytest.raises(FaultError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Fault.parse(op, lba, error)


def test_a_fault_describes_itself() -> None:
    assert Fault.parse("read", [1, 2], "delay:0.5").as_dict() == {"op": "read", "lba": [1, 2],
                                                                 "error": "delay:0.5"}
    assert Fault.parse("any", None, "drop").as_dict() == {"op": "any", "lba": None, "error": "drop"}
