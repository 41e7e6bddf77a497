"""A store that fails (EIO, ENOSPC), is slow or hangs on read, write and flush: the initiator gets the
sense the failure means and no command hangs; ABORT TASK and LU RESET end a command stuck in the store
(answered once its I/O is back, while the LU goes on serving others; after the task set's
``abort_wait`` when the store never returns)."""

from __future__ import annotations

import struct
import threading

import pytest

from hpt.scsi.core.command import ABORTED, TaskAttr
from hpt.scsi.core.constants import (
    SPACE_ALLOCATION_FAILED_WRITE_PROTECT,
    UNRECOVERED_READ_ERROR,
    WRITE_ERROR,
    Asc,
    Status,
)
from hpt.scsi.core.sense import parse_sense
from hpt.scsi.target import TmfResult

from .faulty_store import FaultyStore
from .held_store import BS
from .test_engine import TUR, A, Runner, read10, write10

SYNC10 = bytes((0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0))
INQUIRY = bytes((0x12, 0, 0, 0, 36, 0))


def write_same16(lba: int, n: int) -> bytes:
    return struct.pack(">BBQIBB", 0x93, 0, lba, n, 0, 0)


def unmap(lba: int, n: int) -> tuple[bytes, bytes]:
    data = struct.pack(">HH4xQI4x", 22, 16, lba, n)
    return bytes((0x42, 0, 0, 0, 0, 0, 0, 0, len(data), 0)), data


def runner(inline: bool, **params: object) -> tuple[Runner, FaultyStore]:
    store = FaultyStore(inline=inline)
    r = Runner(store=store, thin=True, **params)
    return r, store


def run(r: Runner, cdb: bytes, data: bytes = b"", alloc: int = 0) -> tuple[int, Asc | None]:
    tag = r.submit(cdb, data=data, alloc=alloc)
    r.wait(tag, timeout=30)
    result = r.results[tag]
    return result.status, parse_sense(result.sense) if result.status == Status.CHECK_CONDITION else None


CASES = [
    ("read", "eio", read10(4), b"", UNRECOVERED_READ_ERROR),
    ("write", "eio", write10(4), b"\x5a" * BS, WRITE_ERROR),
    ("write", "eio", write10(4, fua=True), b"\x5a" * BS, WRITE_ERROR),
    ("flush", "eio", write10(4, fua=True), b"\x5a" * BS, WRITE_ERROR),  # durable: the flush fails
    ("flush", "eio", SYNC10, b"", WRITE_ERROR),
    ("write", "enospc", write10(4), b"\x5a" * BS, SPACE_ALLOCATION_FAILED_WRITE_PROTECT),
    ("write", "enospc", write_same16(0, 64), b"\x5a" * BS, SPACE_ALLOCATION_FAILED_WRITE_PROTECT),
    ("write", "eio", write_same16(0, 64), b"\x5a" * BS, WRITE_ERROR),
    ("write", "eio", *unmap(0, 64), WRITE_ERROR),
]


@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
@pytest.mark.parametrize(("op", "error", "cdb", "data", "asc"), CASES,
                         ids=[f"{c[1]}-on-{c[0]}-{c[2][0]:02x}" for c in CASES])
def test_store_error_is_the_sense_it_means(inline: bool, op: str, error: str, cdb: bytes, data: bytes,
                                          asc: Asc) -> None:
    r, store = runner(inline)
    store.faults[op] = error
    assert run(r, cdb, data, alloc=BS) == (Status.CHECK_CONDITION, asc)
    store.faults.clear()  # the store recovers: so does the LU
    assert run(r, write10(4), b"\x33" * BS)[0] == Status.GOOD
    tag = r.submit(read10(4), alloc=BS)
    r.wait(tag, timeout=30)
    assert r.results[tag].status == Status.GOOD


def test_a_slow_store_is_only_slow() -> None:
    r, store = runner(False)
    store.faults.update(read="slow", write="slow", flush="slow")
    assert run(r, write10(9, fua=True), b"\xa5" * BS)[0] == Status.GOOD
    assert run(r, SYNC10)[0] == Status.GOOD
    assert run(r, read10(9), alloc=BS)[0] == Status.GOOD
    assert bytes(store.data[9 * BS:10 * BS]) == b"\xa5" * BS


HUNG = [("read", read10(4), b""), ("write", write10(4), b"\x77" * BS), ("flush", SYNC10, b"")]


@pytest.mark.parametrize(("op", "cdb", "data"), HUNG, ids=[h[0] for h in HUNG])
def test_abort_task_ends_a_command_hung_in_the_store(op: str, cdb: bytes, data: bytes) -> None:
    r, store = runner(False)
    store.faults[op] = "hang"
    stuck = r.submit(cdb, data=data, alloc=BS)
    assert store.stuck.wait(10)
    # the LU goes on serving what does not need the hung operation
    assert run(r, INQUIRY, alloc=36)[0] == Status.GOOD
    other = (write10(100), b"\x11" * BS) if op == "read" else (read10(100), b"")
    assert run(r, other[0], other[1], alloc=BS)[0] == Status.GOOD
    answered = threading.Event()
    assert r.target.abort_task(0, A, stuck, answered.set)
    assert stuck not in r.results and not answered.is_set()  # answered once the I/O is back, not before
    store.faults.clear()
    store.release.set()
    r.wait(stuck, timeout=30)
    assert r.results[stuck] is ABORTED
    assert answered.wait(30)
    assert run(r, TUR)[0] == Status.GOOD


def test_lu_reset_ends_commands_hung_in_the_store() -> None:
    r, store = runner(False)
    store.faults["write"] = "hang"
    hung = [r.submit(write10(i * 8), data=b"\x42" * BS) for i in range(4)]
    assert store.stuck.wait(10)
    answered = threading.Event()
    assert r.target.lu_reset(0, answered.set) == TmfResult.FUNCTION_COMPLETE
    assert not answered.is_set()
    store.faults.clear()
    store.release.set()
    r.wait(*hung, timeout=30)
    assert all(r.results[t] is ABORTED for t in hung)
    assert answered.wait(30)
    assert run(r, TUR)[0] == Status.CHECK_CONDITION  # the reset's unit attention, then service
    assert run(r, read10(0), alloc=BS)[0] == Status.GOOD


def abort_a_hung_write(abort_wait: float) -> tuple[Runner, FaultyStore, int, threading.Event]:
    """A WRITE hung in the store and an ABORT TASK for it; the event is set once it is answered."""
    r, store = runner(False)
    r.lu.tasks.abort_wait = abort_wait
    store.faults["write"] = "hang"
    stuck = r.submit(write10(4), data=b"\x77" * BS)
    assert store.stuck.wait(10)
    answered = threading.Event()
    assert r.target.abort_task(0, A, stuck, answered.set)
    return r, store, stuck, answered


def test_task_management_answers_while_the_store_never_returns() -> None:
    """A store that does not return within the task set's ``abort_wait``: ABORT TASK is answered anyway,
    the stuck command holds neither the queue depth nor ORDERED commands, and ends unreported (its
    buffers free) when the store finally returns."""
    r, store, stuck, answered = abort_a_hung_write(0.3)
    assert answered.wait(5)  # answered although the write is still in the store
    assert stuck not in r.results
    assert r.lu.tasks.status()["stuck"] == 1 and r.lu.tasks.status()["running"] == 0
    assert run(r, read10(100), alloc=BS)[0] == Status.GOOD
    ordered = r.submit(TUR, attr=TaskAttr.ORDERED)  # not held behind the stuck write
    r.wait(ordered, timeout=5)
    assert r.results[ordered].status == Status.GOOD
    store.faults.clear()
    store.release.set()
    r.wait(stuck, timeout=30)
    assert r.results[stuck] is ABORTED
    assert r.lu.tasks.status()["stuck"] == 0


def test_task_management_answers_when_other_commands_end_while_it_waits() -> None:
    """Commands of the LU that end while ABORT TASK waits for a hung one do not lose its
    ``abort_wait`` bound: the function is still answered."""
    r, store, stuck, answered = abort_a_hung_write(0.5)
    assert run(r, read10(100), alloc=BS)[0] == Status.GOOD  # ends before abort_wait is over
    assert answered.wait(5)
    store.faults.clear()
    store.release.set()
    r.wait(stuck, timeout=30)


def test_lu_reset_answers_while_the_store_never_returns() -> None:
    r, store = runner(False, depth=4)
    r.lu.tasks.abort_wait = 0.3
    store.faults["read"] = "hang"
    hung = [r.submit(read10(i * 8), alloc=BS) for i in range(4)]  # the whole queue depth
    assert store.stuck.wait(10)
    answered = threading.Event()
    assert r.target.lu_reset(0, answered.set) == TmfResult.FUNCTION_COMPLETE
    assert answered.wait(5)
    assert r.lu.tasks.status()["stuck"] == 4
    assert run(r, TUR)[0] == Status.CHECK_CONDITION  # the reset's unit attention
    assert run(r, write10(200), b"\x12" * BS)[0] == Status.GOOD  # the depth is free again
    store.faults.clear()
    store.release.set()
    r.wait(*hung, timeout=30)
    assert all(r.results[t] is ABORTED for t in hung)
    assert r.lu.tasks.status()["stuck"] == 0
