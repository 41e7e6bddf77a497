"""The asynchronous engine of a LU: task attributes, range locks, TASK SET FULL and task management
with commands held in a store the test releases (SAM-5 5.3, 7, 8.6)."""

from __future__ import annotations

import struct
import threading

import pytest

from hpt.scsi.core.command import ABORTED, Nexus, ScsiCommand, ScsiResult, TaskAttr
from hpt.scsi.core.constants import Status
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.sbc.profile import DISK
from hpt.scsi.target import ScsiTarget, TmfResult
from hpt.store.base import BackingStore

from .held_store import BS, NBLOCKS, HeldStore

A = Nexus("iqn.a,i,0x1", "iqn.t,t,0x1", "iqn.a")
B = Nexus("iqn.b,i,0x2", "iqn.t,t,0x1", "iqn.b")


class Runner:
    """Submits commands to one LU and collects their results as they complete."""

    def __init__(self, depth: int = 128, store: BackingStore | None = None, **params: object) -> None:
        self.store = HeldStore() if store is None else store  # type: ignore[assignment]
        self.target = ScsiTarget("iqn.t")
        self.lu = LogicalUnit(DISK, LuParams(queue_depth=depth, **params), self.store,  # type: ignore[arg-type]
                              lun=0)
        self.target.add_lu(self.lu)
        for n in (A, B):
            self.lu.ua.clear(n.initiator_port)
        self.results: dict[int, ScsiResult] = {}
        self.order: list[int] = []
        self.cond = threading.Condition()
        self._tag = 0

    def submit(self, cdb: bytes, *, attr: TaskAttr = TaskAttr.SIMPLE, data: bytes = b"", alloc: int = 0,
               nexus: Nexus = A) -> int:
        self._tag += 1
        tag = self._tag
        cmd = ScsiCommand(0, cdb, nexus, tag=tag, attr=attr,
                          data_out=memoryview(bytearray(data)) if data else None,
                          data_in=memoryview(bytearray(alloc)) if alloc else None,
                          expected_in=alloc, expected_out=len(data))

        def done(result: ScsiResult) -> None:
            with self.cond:
                self.results[tag] = result
                self.order.append(tag)
                self.cond.notify_all()

        self.target.submit(cmd, done)
        return tag

    def wait(self, *tags: int, timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: all(t in self.results for t in tags), timeout), self.results


def read10(lba: int, n: int = 1) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, n, 0)


def write10(lba: int, n: int = 1, fua: bool = False) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0x08 if fua else 0, lba, 0, n, 0)


def caw(lba: int, n: int = 1) -> bytes:
    return struct.pack(">BBQ3xBBB", 0x89, 0, lba, n, 0, 0)


TUR = bytes(6)


def test_simple_commands_run_concurrently_at_the_store() -> None:
    r = Runner()
    tags = [r.submit(read10(i * 8), alloc=BS) for i in range(8)]
    assert len(r.store.wait_held(8)) == 8  # all eight at the store at once
    for _ in tags:
        r.store.release(len(r.store.held) - 1)  # complete in reverse order
    r.wait(*tags)
    assert r.order == tags[::-1]
    assert all(r.results[t].status == Status.GOOD for t in tags)


def test_ordered_waits_for_earlier_and_holds_later() -> None:
    r = Runner()
    first = r.submit(read10(0), alloc=BS)
    r.store.wait_held(1)
    ordered = r.submit(read10(100), attr=TaskAttr.ORDERED, alloc=BS)
    later = r.submit(read10(200), alloc=BS)
    assert len(r.store.held) == 1  # the ORDERED task waits for the first; the later one for it
    r.store.release()
    r.wait(first)
    held = r.store.wait_held(1)
    assert held[0][1] == 100 * BS and len(held) == 1  # only the ORDERED task started
    r.store.release()
    r.wait(ordered)
    assert r.store.wait_held(1)[0][1] == 200 * BS
    r.store.release()
    r.wait(later)
    assert r.order == [first, ordered, later]


def test_head_of_queue_goes_ahead_of_waiting_tasks() -> None:
    r = Runner()
    first = r.submit(read10(0), alloc=BS)
    r.store.wait_held(1)
    ordered = r.submit(read10(10), attr=TaskAttr.ORDERED, alloc=BS)
    simple = r.submit(read10(20), alloc=BS)
    hoq = r.submit(read10(30), attr=TaskAttr.HEAD_OF_QUEUE, alloc=BS)
    held = r.store.wait_held(2)
    assert [h[1] for h in held] == [0, 30 * BS]  # HEAD OF QUEUE started though an ORDERED waits
    r.store.release(1)
    r.wait(hoq)
    r.store.release(0)
    r.wait(first)
    r.store.wait_held(1)
    r.store.release()
    r.wait(ordered)
    r.store.wait_held(1)
    r.store.release()
    r.wait(simple)
    assert r.order == [hoq, first, ordered, simple]


def test_compare_and_write_is_atomic_against_overlapping_writes() -> None:
    r = Runner()
    r.store.data[0:BS] = b"\x11" * BS
    c = r.submit(caw(0), data=b"\x11" * BS + b"\x22" * BS)
    held = r.store.wait_held(1)
    assert held[0][0] == "read_into"  # the compare's read, on the blocking pool
    w_overlap = r.submit(write10(0), data=b"\x33" * BS)
    w_other = r.submit(write10(64), data=b"\x44" * BS)
    held = r.store.wait_held(2)
    assert [h[:2] for h in held] == [("read_into", 0), ("write", 64 * BS)]  # the overlapping write waits
    r.store.release(1)
    r.wait(w_other)
    r.store.release(0)  # the compare matches: the CAW writes
    assert r.store.wait_held(1)[0][:2] == ("write_from", 0)
    assert w_overlap not in r.results
    r.store.release(0)
    r.wait(c)
    assert r.results[c].status == Status.GOOD
    assert r.store.wait_held(1)[0][:2] == ("write", 0)  # now the overlapping write may start
    r.store.release(0)
    r.wait(w_overlap)
    assert r.store.data[0:BS] == b"\x33" * BS  # the write came after the CAW, never inside it


def test_task_set_full_at_the_queue_depth() -> None:
    r = Runner(depth=4)
    tags = [r.submit(read10(i), alloc=BS) for i in range(4)]
    r.store.wait_held(4)
    extra = r.submit(read10(9), alloc=BS)
    r.wait(extra)
    assert r.results[extra].status == Status.TASK_SET_FULL
    r.store.release()
    r.wait(tags[0])
    again = r.submit(read10(9), alloc=BS)  # room again
    r.store.wait_held(4)
    while r.store.held:
        r.store.release()
    r.wait(again, *tags)
    assert all(r.results[t].status == Status.GOOD for t in (again, *tags))


def test_abort_task_of_a_command_stuck_in_the_store() -> None:
    r = Runner()
    stuck = r.submit(read10(5), alloc=BS)
    other = r.submit(read10(6), alloc=BS, nexus=B)
    r.store.wait_held(2)
    answered = threading.Event()
    assert r.target.abort_task(0, A, stuck, answered.set)
    assert not answered.is_set()  # the TMF waits for the I/O to end
    assert not r.target.abort_task(0, A, 999, answered.set)  # no such task
    r.store.release(0)
    r.wait(stuck)
    assert r.results[stuck] is ABORTED and answered.is_set()  # no response; the buffer is free now
    r.store.release(0)
    r.wait(other)
    assert r.results[other].status == Status.GOOD
    served = r.submit(TUR)  # the LU keeps serving
    r.wait(served)
    assert r.results[served].status == Status.GOOD


def test_lu_reset_aborts_running_and_waiting_commands() -> None:
    r = Runner()
    running = r.submit(read10(0), alloc=BS)
    r.store.wait_held(1)
    ordered = r.submit(read10(1), attr=TaskAttr.ORDERED, alloc=BS, nexus=B)  # waits behind it
    answered = threading.Event()
    assert r.target.lu_reset(0, answered.set) == TmfResult.FUNCTION_COMPLETE
    r.wait(ordered)
    assert r.results[ordered] is ABORTED  # the waiting one went at once
    assert not answered.is_set()
    r.store.release()
    r.wait(running)
    assert r.results[running] is ABORTED and answered.is_set()
    tag = r.submit(read10(0), alloc=BS)  # a unit attention first (BUS DEVICE RESET), then service
    r.wait(tag)
    assert r.results[tag].status == Status.CHECK_CONDITION
    tag = r.submit(read10(0), alloc=BS)
    r.store.wait_held(1)
    r.store.release()
    r.wait(tag)
    assert r.results[tag].status == Status.GOOD


@pytest.mark.parametrize(("fua", "wce", "durable"), [(True, True, 1), (False, True, 0), (False, False, 1)])
def test_fua_and_disabled_write_cache_ask_for_durability(fua: bool, wce: bool, durable: int) -> None:
    r = Runner(write_cache=wce)
    tag = r.submit(write10(3, fua=fua), data=b"\x55" * BS)
    r.store.wait_held(1)
    r.store.release()
    r.wait(tag)
    assert r.results[tag].status == Status.GOOD and r.store.fua_writes == durable


def test_a_long_command_does_not_hold_others() -> None:
    """A WRITE SAME over the whole LU, stuck at the store, leaves INQUIRY and READs elsewhere running."""
    r = Runner()
    ws = r.submit(struct.pack(">BBQIBB", 0x93, 0, 0, NBLOCKS, 0, 0), data=b"\x00" * BS)
    r.store.wait_held(1)
    inq = r.submit(bytes((0x12, 0, 0, 0, 36, 0)), alloc=36)
    r.wait(inq)
    assert r.results[inq].status == Status.GOOD
    rd = r.submit(read10(7), alloc=BS)  # overlaps the WRITE SAME: waits for it
    assert len(r.store.held) == 1
    r.store.release()  # the zeroes, written by the blocking pool in one piece
    r.wait(ws)
    r.store.wait_held(1)
    r.store.release()
    r.wait(rd)
    assert r.results[rd].status == Status.GOOD


def test_removing_a_lu_drains_its_commands_then_closes_its_store() -> None:
    r = Runner()
    closed: list[bool] = []
    r.store.close = lambda: closed.append(True)  # type: ignore[method-assign]
    stuck = r.submit(write10(9), data=b"\x77" * BS)
    r.store.wait_held(1)
    removed = threading.Thread(target=r.target.remove_lu, args=(0,), kwargs={"close": True})
    removed.start()
    removed.join(0.3)
    assert removed.is_alive() and not closed  # waits for the write at the store
    assert r.target.lu(0) is None  # while new commands already find no LU
    r.store.release()
    removed.join(5)
    assert not removed.is_alive() and closed == [True]
    r.wait(stuck)
    assert r.results[stuck].status == Status.GOOD and r.store.data[9 * BS:10 * BS] == b"\x77" * BS


def test_on_a_store_in_memory_only_long_store_work_leaves_the_callers_thread() -> None:
    """A WRITE SAME over the whole LU runs on the blocking pool even when the store is in memory, so
    the transport's thread (and the commands it brings next) does not wait; a short one runs inline."""
    from hpt.store.ram import RamStore

    lu = LogicalUnit(DISK, LuParams(), RamStore(64 << 20), lun=0)
    lu.ua.clear(A.initiator_port)
    threads: dict[str, int] = {}
    ended = threading.Event()

    def run(name: str, nblocks: int) -> None:
        def done(result: ScsiResult) -> None:
            assert result.status == Status.GOOD, result
            threads[name] = threading.get_ident()
            ended.set()

        cdb = struct.pack(">BBQIBB", 0x93, 0, 0, nblocks, 0, 0)
        lu.submit(ScsiCommand(0, cdb, A, data_out=memoryview(bytearray(BS)), expected_out=BS), done)

    run("short", 8)
    assert threads["short"] == threading.get_ident()
    ended.clear()
    run("long", (64 << 20) // BS)
    assert ended.wait(10) and threads["long"] != threading.get_ident()
