"""The zero-copy ring: slot allocation, exhaustion, and sharing one pool across processes."""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hpt.native.ring import Ring, RingExhausted


def test_alloc_every_slot_then_exhausted() -> None:
    r = Ring(4096, 8)
    got = [r.alloc() for _ in range(8)]
    assert sorted(got) == list(range(8))
    assert r.in_use == 8
    assert r.try_alloc() == -1
    with pytest.raises(RingExhausted):
        r.alloc()
    r.free(got[3])
    assert r.alloc() == got[3]
    r.close()


def test_slots_are_disjoint_writable_views() -> None:
    r = Ring(512, 4)
    a, b = r.alloc(), r.alloc()
    va, vb = r.view(a), r.view(b)
    assert len(va) == len(vb) == 512
    va[:] = b"\x11" * 512
    vb[:] = b"\x22" * 512
    assert bytes(va) == b"\x11" * 512 and bytes(vb) == b"\x22" * 512
    del va, vb
    r.close()


def test_free_out_of_range_and_bad_geometry() -> None:
    r = Ring(512, 2)
    with pytest.raises(ValueError):
        r.free(2)
    r.close()
    with pytest.raises(ValueError):
        Ring(100, 2)  # slots must be multiples of 512 bytes


def _child(path: str, q: mp.Queue) -> None:  # type: ignore[type-arg]
    r = Ring(512, 4, path=path)
    idx = r.alloc()
    r.view(idx)[:5] = b"child"
    q.put(idx)
    r.close()


def test_shared_between_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "ring")
    r = Ring(512, 4, path=path)
    mine = r.alloc()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(path, q))
    p.start()
    theirs = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert theirs != mine  # one free list for both processes
    assert r.in_use == 2
    assert bytes(r.view(theirs)[:5]) == b"child"  # the same memory
    r.close()


def test_reopening_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"\xff" * 8192)
    with pytest.raises(ValueError, match="not an hpt ring"):
        Ring(512, 4, path=str(path))


def test_reopening_uses_the_rings_own_geometry(tmp_path: Path) -> None:
    path = str(tmp_path / "ring")
    first = Ring(1024, 3, path=path)
    second = Ring(512, 64, path=path)  # geometry comes from the mapping, not the arguments
    assert (second.slot_size, second.nslots) == (1024, 3)
    second.close()
    first.close()


def test_truncated_ring_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ring"
    Ring(4096, 16, path=str(path)).close()
    with path.open("r+b") as f:
        f.truncate(8192)
    with pytest.raises(ValueError, match="not an hpt ring"):
        Ring(4096, 16, path=str(path))


def test_lowest_free_slot_first() -> None:
    """A lightly used ring keeps to its first slots (few pages touched, warm in cache)."""
    r = Ring(512, 70)
    got = [r.alloc() for _ in range(66)]
    assert got == list(range(66))  # across the first 64-slot word of the bitmap
    r.free(1)
    r.free(65)
    assert r.alloc() == 1
    assert r.alloc() == 65
    assert r.alloc() == 66
    r.close()


HOLDER = """
import os, sys, time
from hpt.native.ring import Ring
r = Ring(fd=int(sys.argv[1]))
held = [r.alloc() for _ in range(3)]
for idx in held:
    r.view(idx)[:4] = b"dead"
print(os.getpid(), *held, flush=True)
time.sleep(60)
"""


def test_a_dead_processes_slots_are_given_back() -> None:
    """Processes that map one ring (a memfd, as hptd's workers do) share its slots; those of a process
    killed with SIGKILL stay taken until ``reclaim`` of its pid, and no other process may free them."""
    r = Ring.shared(512, 8)
    assert r.fd is not None
    mine = r.alloc()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(r.fd)], stdout=subprocess.PIPE,
                             pass_fds=[r.fd], text=True)
    try:
        assert child.stdout is not None
        pid, *held = (int(x) for x in child.stdout.readline().split())
        assert pid == child.pid and mine not in held and len(set(held)) == 3
        assert r.in_use == 4
        with pytest.raises(ValueError, match="not in use by this process"):
            r.free(held[0])  # the child's, not ours
        assert r.in_use == 4
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert r.in_use == 4  # held by the dead process until given back
    assert r.reclaim(pid) == 3
    assert r.reclaim(pid) == 0
    assert r.in_use == 1
    again = sorted(r.alloc() for _ in range(7))
    assert set(held) <= set(again) and mine not in again
    assert r.try_alloc() == -1
    r.close()
    assert r.fd is None


def test_double_free_is_refused() -> None:
    r = Ring(512, 2)
    idx = r.alloc()
    r.free(idx)
    with pytest.raises(ValueError, match="not in use"):
        r.free(idx)
    assert r.in_use == 0
    r.close()


def test_a_process_takes_from_its_home_first_then_anywhere() -> None:
    """A worker searches from its share of a shared ring (``home``) and wraps round when it is used up."""
    r = Ring(512, 200, home=128)
    try:
        got = [r.alloc() for _ in range(75)]
        assert got == [*range(128, 200), 0, 1, 2]
        r.free(150)
        assert r.alloc() == 150
    finally:
        r.close()
        Ring(512, 1).close()  # this process's home back to slot 0
