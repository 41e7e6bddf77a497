"""4 KiB random O_DIRECT reads at queue depth 32: the io_uring engine against Python threads doing preadv.

Run: ``python perf/bench_uring.py`` (defaults: a 1 GiB file in /var/tmp, 10 s per variant, 3 repetitions,
variants interleaved, medians reported; ``--help`` for the options, such as ``--depth``). The file must be
on a real disk: /dev/shm refuses O_DIRECT.

Variants, in two pairs that compare like with like:

* ``uring cb``: the engine driven from its own completion callbacks (each completion submits the next
  read on the completion thread): 32 in flight; the best case for io_uring.
* ``threads N``: N threads, each looping ``os.preadv`` on its own buffer: N in flight (N = 32 matches
  the depth); the best case for threads.
* ``uring disp``: a dispatcher thread submits whenever one of 32 slots is free; completion callbacks
  free the slot (a semaphore). This is how a store driven by another thread uses the engine.
* ``pool N``: the same dispatcher feeding N worker threads through a SimpleQueue; a worker runs
  ``os.preadv`` and frees the slot: min(N, 32) in flight. ``executor N`` (``--executor``) does the same
  with a ThreadPoolExecutor and done callbacks, which costs several times more CPU per read.

Before measuring, the file is read through sequentially (``--read-through``): on a virtual disk the host
may cache the file as it is read, which would otherwise favour whichever variant runs last.

CPU per I/O is this process's user + system time (getrusage: every thread, including io_uring's kernel
workers) over the completed reads; ``other %`` is the machine's busy time outside this process over the
window (interrupts, and anybody else's load: a high value means the run was disturbed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import mmap
import os
import queue
import random
import resource
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

BLOCK = 4096
OFFSETS = 1 << 18  # precomputed random offsets, cycled


@dataclass
class Sample:
    variant: str
    ios: int
    seconds: float
    cpu_seconds: float
    other_busy: float  # fraction of the machine busy outside this process

    @property
    def iops(self) -> float:
        return self.ios / self.seconds

    @property
    def cpu_us_per_io(self) -> float:
        return self.cpu_seconds / self.ios * 1e6


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - fields[3] - fields[4]) / hz


def _window(name: str, count: Callable[[], int], warmup: float, seconds: float) -> Sample:
    """Measures completions, process CPU and machine CPU over ``seconds`` after ``warmup``."""
    time.sleep(warmup)
    n0, c0, m0, t0 = count(), _cpu(), _machine_busy(), time.monotonic()
    time.sleep(seconds)
    n1, c1, m1, t1 = count(), _cpu(), _machine_busy(), time.monotonic()
    cpu = c1 - c0
    other = max(0.0, (m1 - m0) - cpu) / ((t1 - t0) * (os.cpu_count() or 1))
    return Sample(name, n1 - n0, t1 - t0, cpu, other)


def _peek(counter: itertools.count) -> int:
    """The next value of an itertools.count without taking it (``next`` is atomic; so is repr)."""
    return int(repr(counter)[6:-1])


def _buffers(n: int) -> list[memoryview]:
    whole = mmap.mmap(-1, n * BLOCK)  # page-aligned, as O_DIRECT needs
    return [memoryview(whole)[i * BLOCK : (i + 1) * BLOCK] for i in range(n)]


def prepare(path: Path, size: int) -> None:
    """A fully written file of ``size`` bytes (holes would be read without touching the disk)."""
    if path.exists() and path.stat().st_size == size and path.stat().st_blocks * 512 >= size:
        return
    print(f"writing {size >> 20} MiB to {path} ...", flush=True)
    chunk = os.urandom(1 << 20)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for off in range(0, size, len(chunk)):
            os.pwrite(fd, chunk, off)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_through(fd: int, size: int) -> float:
    """Reads the file once, sequentially (O_DIRECT, 1 MiB at a time); returns MiB/s. Brings the device to
    the same state for every variant (a virtual disk's host may cache the file as it is read)."""
    buf = mmap.mmap(-1, 1 << 20)
    t0 = time.monotonic()
    off = 0
    while off < size:
        got = os.preadv(fd, [buf], off)
        if got <= 0:
            break
        off += got
    return off / (1 << 20) / (time.monotonic() - t0)


def run_threads(fd: int, offs: list[int], nthreads: int, warmup: float, seconds: float) -> Sample:
    stop = False
    counts = [0] * nthreads
    bufs = _buffers(nthreads)

    def worker(k: int) -> None:
        iov, i = [bufs[k]], k * 7919
        while not stop:
            if os.preadv(fd, iov, offs[i % OFFSETS]) != BLOCK:
                raise RuntimeError("short read")
            i += 1
            counts[k] += 1

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(nthreads)]
    for t in threads:
        t.start()
    sample = _window(f"threads {nthreads}", lambda: sum(counts), warmup, seconds)
    stop = True
    for t in threads:
        t.join()
    return sample


def run_pool(fd: int, offs: list[int], nthreads: int, depth: int, warmup: float, seconds: float,
             executor: bool = False) -> Sample:
    """A dispatcher keeps ``depth`` reads queued for ``nthreads`` workers: plain threads taking (buffer,
    offset) from a SimpleQueue, or a ThreadPoolExecutor (``executor``)."""
    name = f"{'executor' if executor else 'pool'} {nthreads}"
    stop = threading.Event()
    done = itertools.count()
    free = deque(_buffers(depth))
    slots = threading.Semaphore(depth)
    errors: list[BaseException] = []

    def finished(res: int, buf: memoryview) -> None:
        if res != BLOCK:
            errors.append(RuntimeError(f"short read: {res}"))
        next(done)
        free.append(buf)
        slots.release()

    def from_future(fut: Future[int], buf: memoryview) -> None:
        err = fut.exception()
        if err is not None:
            errors.append(err)
        finished(BLOCK if err is not None else fut.result(), buf)

    def worker(work: queue.SimpleQueue[tuple[memoryview, int] | None]) -> None:
        while (item := work.get()) is not None:
            buf, off = item
            finished(os.preadv(fd, [buf], off), buf)

    def dispatch() -> None:
        i = 0
        if executor:
            with ThreadPoolExecutor(nthreads) as pool:
                while not stop.is_set():
                    slots.acquire()
                    buf = free.pop()
                    fut = pool.submit(os.preadv, fd, [buf], offs[i % OFFSETS])
                    fut.add_done_callback(lambda f, b=buf: from_future(f, b))
                    i += 1
            return
        work: queue.SimpleQueue[tuple[memoryview, int] | None] = queue.SimpleQueue()
        workers = [threading.Thread(target=worker, args=(work,), daemon=True) for _ in range(nthreads)]
        for w in workers:
            w.start()
        while not stop.is_set():
            slots.acquire()
            work.put((free.pop(), offs[i % OFFSETS]))
            i += 1
        for _ in workers:
            work.put(None)
        for w in workers:
            w.join()

    t = threading.Thread(target=dispatch, daemon=True)
    t.start()
    sample = _window(name, lambda: _peek(done), warmup, seconds)
    stop.set()
    t.join()
    if errors:
        raise RuntimeError(f"{name}: {errors[0]}")
    return sample


def run_uring_cb(fd: int, offs: list[int], depth: int, warmup: float, seconds: float) -> Sample:
    from hpt.native.uring import Uring

    u = Uring(256, name="bench-uring")
    stop = False
    count = 0
    pos = 0
    errors: list[int] = []

    def slot(buf: memoryview) -> Callable[[int], None]:
        def done(res: int) -> None:
            nonlocal count, pos
            if res != BLOCK:
                errors.append(res)
            count += 1
            if not stop:
                pos += 1
                try:
                    u.read(fd, buf, offs[pos % OFFSETS], done)
                except RuntimeError:  # closed meanwhile: the run is over
                    pass

        return done

    for k, buf in enumerate(_buffers(depth)):
        u.read(fd, buf, offs[(k * 7919) % OFFSETS], slot(buf))
    sample = _window("uring cb", lambda: count, warmup, seconds)
    stop = True
    u.close()
    if errors:
        raise RuntimeError(f"uring cb: result {errors[0]}")
    return sample


def run_uring_dispatch(fd: int, offs: list[int], depth: int, warmup: float, seconds: float) -> Sample:
    from hpt.native.uring import Uring

    u = Uring(256, name="bench-uring")
    stop = threading.Event()
    count = 0  # only the completion thread writes it
    free = deque(_buffers(depth))
    slots = threading.Semaphore(depth)
    errors: list[int] = []

    def completion(buf: memoryview) -> Callable[[int], None]:
        def done(res: int) -> None:
            nonlocal count
            if res != BLOCK:
                errors.append(res)
            count += 1
            free.append(buf)
            slots.release()

        return done

    callbacks = {id(buf): completion(buf) for buf in free}

    def dispatch() -> None:
        i = 0
        while not stop.is_set():
            slots.acquire()
            buf = free.pop()
            u.read(fd, buf, offs[i % OFFSETS], callbacks[id(buf)])
            i += 1

    t = threading.Thread(target=dispatch, daemon=True)
    t.start()
    sample = _window("uring disp", lambda: count, warmup, seconds)
    stop.set()
    t.join()
    u.close()
    if errors:
        raise RuntimeError(f"uring disp: result {errors[0]}")
    return sample


def submit_cost(nthreads: int, calls: int, where: Path) -> dict[str, float]:
    """Wall-clock us per call, from ``nthreads`` threads at once: ``Uring.read`` of 4 KiB from a page-cached
    file (completions run meanwhile), a bare cffi call (GIL released and taken back), ``os.preadv``."""
    from hpt.native.uring import Uring

    path = where / f"hpt-bench-submit-{os.getpid()}.dat"
    path.write_bytes(os.urandom(1 << 20))
    fd = os.open(path, os.O_RDONLY)
    u = Uring(nthreads * calls, name="bench-uring")  # room for every request: no waiting for the CQ
    bare = u._lib.uring_sq_entries
    out: dict[str, float] = {}
    try:
        for label in ("Uring.read", "bare cffi call", "os.preadv"):
            start = threading.Barrier(nthreads)
            took = [0.0] * nthreads

            def worker(k: int, label: str = label, start: threading.Barrier = start,
                       took: list[float] = took) -> None:
                buf = memoryview(bytearray(BLOCK))
                start.wait()
                t0 = time.perf_counter()
                if label == "Uring.read":
                    for i in range(calls):
                        u.read(fd, buf, (i & 255) * BLOCK, _ignore)
                elif label == "bare cffi call":
                    for _ in range(calls):
                        bare(u._u)
                else:
                    for i in range(calls):
                        os.preadv(fd, [buf], (i & 255) * BLOCK)
                took[k] = time.perf_counter() - t0

            threads = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out[label] = statistics.mean(took) / calls * 1e6
            while u.in_flight:
                time.sleep(0.01)
    finally:
        u.close()
        os.close(fd)
        path.unlink()
    return out


def _ignore(res: int) -> None:
    pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", type=Path, default=Path("/var/tmp/hpt-bench-uring.dat"))
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=10.0, help="measured window per variant")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--depth", type=int, default=32, help="requests in flight (uring and pool variants)")
    ap.add_argument("--threads", default="8,16,32", help="thread counts for the thread variants")
    ap.add_argument("--no-dispatch", action="store_true", help="only the self-driven variants")
    ap.add_argument("--executor", action="store_true",
                    help="also the dispatcher with a ThreadPoolExecutor (executor N)")
    ap.add_argument("--keep", action="store_true", help="keep the data file for the next run")
    ap.add_argument("--read-through", type=int, default=2, metavar="N",
                    help="sequential passes over the file before measuring (default 2)")
    ap.add_argument("--json", type=Path, help="also write every sample here")
    ap.add_argument("--submit-cost", action="store_true",
                    help="only measure the cost of one submission from 1 and 4 threads at once")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.submit_cost:
        print("us per call (wall clock, each thread), 4 KiB from a page-cached file")
        for n in (1, 4):
            for _ in range(args.reps):
                got = submit_cost(n, 2000, args.file.parent)
                print(f"{n} thread(s): " + ", ".join(f"{k} {v:.2f}" for k, v in got.items()), flush=True)
        return 0
    size = args.size_mib << 20
    prepare(args.file, size)
    fd = os.open(args.file, os.O_RDONLY | os.O_DIRECT)
    for _ in range(args.read_through):
        print(f"sequential read-through: {read_through(fd, size):.0f} MiB/s", flush=True)
    rng = random.Random(2026)
    offs = [rng.randrange(size // BLOCK) * BLOCK for _ in range(OFFSETS)]
    counts = [int(n) for n in args.threads.split(",")]
    d, w, t = args.depth, args.warmup, args.seconds
    variants: list[tuple[str, Callable[[], Sample]]] = [("uring cb", lambda: run_uring_cb(fd, offs, d, w, t))]
    variants += [(f"threads {n}", lambda n=n: run_threads(fd, offs, n, w, t)) for n in counts]
    if not args.no_dispatch:
        variants.append(("uring disp", lambda: run_uring_dispatch(fd, offs, d, w, t)))
        variants += [(f"pool {n}", lambda n=n: run_pool(fd, offs, n, d, w, t)) for n in counts]
        if args.executor:
            variants += [(f"executor {n}", lambda n=n: run_pool(fd, offs, n, d, w, t, executor=True))
                         for n in counts]
    samples: dict[str, list[Sample]] = {name: [] for name, _ in variants}
    try:
        for rep in range(args.reps):
            for name, run in variants:
                s = run()
                samples[name].append(s)
                print(f"rep {rep + 1} {name:<11} {s.iops:9.0f} IOPS {s.cpu_us_per_io:7.1f} CPU us/IO "
                      f"other {s.other_busy:4.0%}", flush=True)
    finally:
        os.close(fd)
        if not args.keep:
            args.file.unlink(missing_ok=True)
    print(f"\nmedians of {args.reps}, 4 KiB random O_DIRECT reads, {args.size_mib} MiB file on "
          f"{args.file.parent}, {args.seconds:g} s each")
    print(f"{'variant':<11} {'in flight':>9} {'IOPS':>9} {'CPU us/IO':>10} {'other %':>8}")
    for name, got in samples.items():
        n = int(name.split()[1]) if name.startswith(("threads", "pool", "executor")) else args.depth
        depth = n if name.startswith("threads") else min(n, args.depth)
        print(f"{name:<11} {depth:>9} {statistics.median(s.iops for s in got):9.0f} "
              f"{statistics.median(s.cpu_us_per_io for s in got):10.1f} "
              f"{statistics.median(s.other_busy for s in got):8.0%}")
    if args.json:
        args.json.write_text(json.dumps([asdict(s) | {"iops": s.iops, "cpu_us_per_io": s.cpu_us_per_io}
                                         for got in samples.values() for s in got], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
