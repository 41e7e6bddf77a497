"""The end-to-end runs' parts: the options, the LUN file both targets serve, the daemons by target and
medium, and one measured fio run (the pytest options and benchmarks are in ``conftest.py`` and
``test_e2e.py``)."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hpt.daemon.config import parse_size
from hpt.iscsi.keys import KEYS
from hpt.iscsi.negotiation import TargetPolicy
from perf import ceph, fio
from perf.peers import Daemon, Hptd, KeyValue, Tgtd

SHM = Path("/dev/shm")
# hpt: hptd with [daemon] workers = 1; hpt2: with workers = 2; hptt, hpt2t: the same with event_loop =
# false (a thread per busy connection)
TARGETS = ("tgt", "hpt", "hpt2", "hptt", "hpt2t")
WORKERS = {"hpt": 1, "hpt2": 2, "hptt": 1, "hpt2t": 2}  # hptd's [daemon] workers, by target name
EVENT_LOOP = {"hptt": False, "hpt2t": False}  # hptd's [daemon] event_loop, by target name (default true)
MODES = ("memory", "disk", "rbd")  # rbd: one image of a throw-away Ceph (perf/ceph.py), not by default
# --perf-matched-keys: both targets offer hpt's own defaults for the keys where tgt's defaults differ most.
MATCHED = ("MaxRecvDataSegmentLength", "FirstBurstLength", "MaxBurstLength", "InitialR2T", "ImmediateData")
MATCHED_KEYS: dict[str, KeyValue] = {name: getattr(TargetPolicy(), str(KEYS[name].field)) for name in MATCHED}
TGT_DEFAULTS_NOTE = (
    "note: tgt runs at its Debian defaults (MaxRecvDataSegmentLength 8192, InitialR2T=Yes,\n"
    "      FirstBurstLength 65536). The team's baseline notes (baseline.md) found these defaults cost tgt\n"
    "      about 3x on 128K writes; --perf-matched-keys gives both targets the same keys."
)


@dataclass(frozen=True)
class Options:
    """What one run measures (the ``--perf-*`` options, ``perf/README.md``)."""

    targets: tuple[str, ...] = TARGETS
    workloads: tuple[fio.Workload, ...] = fio.WORKLOADS
    modes: tuple[str, ...] = ("memory", "disk")
    sessions: tuple[int, ...] = (1, 4)
    seconds: int = 20
    ramp: int = 2
    reps: int = 3
    size: int = 1 << 30
    disk: Path = Path("/var/tmp")
    keys: dict[str, KeyValue] = field(default_factory=dict)  # iSCSI keys both targets offer
    lun_keys: dict[str, KeyValue] = field(default_factory=dict)  # extra keys of hptd's LUN
    fio: Path = fio.FIO
    report: Path = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Case:
    """One end-to-end benchmark: a workload on a target, over a medium, with a number of sessions."""

    mode: str
    sessions: int
    workload: fio.Workload
    target: str

    @property
    def id(self) -> str:
        return f"{self.mode}-{self.sessions}s-{self.workload.key}-{self.target}"

    @property
    def group(self) -> str:
        return f"{self.workload.title}, {self.mode}, {self.sessions} session(s)"


def targets_of(mode: str, targets: tuple[str, ...]) -> tuple[str, ...]:
    """The rows of a medium's groups: the targets, and on rbd ``rbd bench`` last, as the ceiling."""
    return (*targets, ceph.BENCH) if mode == "rbd" else targets


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A comma-separated subset of ``allowed``, in the order given; ValueError naming what is wrong."""
    items = tuple(t for t in text.split(",") if t)
    bad = [t for t in items if t not in allowed]
    if bad or not items or len(set(items)) != len(items):
        raise ValueError(f"{what}: want a comma-separated subset of {','.join(allowed)}, got {text!r}")
    return items


def parse_keys(items: list[str], what: str) -> dict[str, KeyValue]:
    """``KEY=VALUE`` items: numbers become ints, yes/no/true/false booleans."""
    keys: dict[str, KeyValue] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} wants KEY=VALUE, got {item!r}")
        lowered = value.lower()
        if value.isdigit():
            keys[key] = int(value)
        elif lowered in ("yes", "true", "no", "false"):
            keys[key] = lowered in ("yes", "true")
        else:
            keys[key] = value
    return keys


def parse_lun_size(text: str) -> int:
    size = parse_size(text)
    if size % 4096:
        raise ValueError(f"--perf-size must be a multiple of 4096, got {text}")
    return size


def fill_random(path: Path, size: int) -> None:
    """Write ``size`` random bytes (8 MiB at a time) so reads move real data, not zero pages."""
    chunk = 8 << 20
    with path.open("wb") as f:
        for offset in range(0, size, chunk):
            f.write(os.urandom(min(chunk, size - offset)))


class Daemons:
    """The daemons of one run, started on first use (one per target and medium) over one LUN file per
    medium; ``close`` stops them and deletes the files."""

    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.files: dict[str, Path] = {}
        self.running: dict[tuple[str, str], Daemon] = {}
        self.cleanup = contextlib.ExitStack()
        self.ceph = ceph.Cluster(workdir, options.size)  # the rbd medium's cluster, started on first use
        self.cleanup.callback(self.ceph.close)

    def get(self, target: str, mode: str) -> Daemon:
        if (target, mode) not in self.running:
            daemon = self._make(target, mode)
            self.cleanup.callback(daemon.stop)
            daemon.start()
            self.running[target, mode] = daemon
        return self.running[target, mode]

    def lun_file(self, mode: str) -> Path:
        if mode not in self.files:
            where = SHM if mode == "memory" else self.options.disk
            if shutil.disk_usage(where).free < self.options.size + (64 << 20):
                raise RuntimeError(f"not enough room in {where} for a {self.options.size}-byte LUN")
            path = where / f"hpt-perf-{os.getpid()}.img"
            self.cleanup.callback(path.unlink, missing_ok=True)
            fill_random(path, self.options.size)
            self.files[mode] = path
        return self.files[mode]

    def _make(self, target: str, mode: str) -> Daemon:
        workdir = self.workdir / f"{target}-{mode}"
        workdir.mkdir(exist_ok=True)
        if mode == "rbd":
            image = self.ceph.image()
            if target == "tgt":
                return Tgtd(workdir, None, self.options.keys, rbd=image)
            return Hptd(workdir, None, self.options.keys, lun_keys=self.options.lun_keys, rbd=image,
                        workers=WORKERS[target], event_loop=EVENT_LOOP.get(target, True))
        direct = mode == "disk"
        lun = self.lun_file(mode)
        if target == "tgt":
            return Tgtd(workdir, lun, self.options.keys, direct)
        return Hptd(workdir, lun, self.options.keys, direct, self.options.lun_keys, workers=WORKERS[target],
                    event_loop=EVENT_LOOP.get(target, True))

    def close(self) -> None:
        self.cleanup.close()


def measure(daemon: Daemon, workload: fio.Workload, options: Options, jobs: int,
            out: Path) -> tuple[fio.FioResult, float]:
    """One fio run; also the daemon's CPU microseconds per completed I/O over the whole run."""
    argv = fio.command(options.fio, workload, daemon.fio_filename, options.seconds, options.ramp, out, jobs)
    cpu0 = daemon.cpu_seconds()
    result = fio.run(argv, out, workload.direction, timeout=options.seconds + options.ramp + 60)
    cpu = daemon.cpu_seconds() - cpu0
    if daemon.proc is None or daemon.proc.poll() is not None:
        raise RuntimeError(f"{daemon.name} exited during the run:\n{daemon.log_tail()}")
    # CPU covers the ramp too: scale the counted I/Os up to the whole run.
    ios = result.ios * (options.seconds + options.ramp) / options.seconds
    return result, cpu / ios * 1e6
