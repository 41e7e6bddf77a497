"""hptd against Debian's tgtd, end to end over loopback, with fio's libiscsi engine.

Both daemons serve the SAME file (pre-filled with random data) on private 127.0.0.1 ports: in memory
(/dev/shm) by default, or with ``--disk DIR`` on the machine's own disk, opened O_DIRECT by both
(tgtd ``--bsoflags direct``, hptd ``direct = true``), so every I/O reaches the device.
Runs are interleaved (tgt, hpt, tgt, hpt ...) for every workload in every repetition, because other
loads on a shared 2-core machine swing single runs by tens of percent; the tables show medians.

    python perf/e2e.py                    # 4 workloads x 3 reps x 20 s, both targets
    python perf/e2e.py --quick            # 2 s, 1 rep: a smoke run
    python perf/e2e.py --targets tgt      # one target only
    python perf/e2e.py --matched-keys     # both targets offer the same iSCSI keys (apples to apples)
    python perf/e2e.py --disk /var/tmp --workloads randread,randwrite   # a real disk, O_DIRECT

fio with the libiscsi engine comes from perf/build-fio.sh. Results go to perf/results/e2e-*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hpt.daemon.config import parse_size  # noqa: E402
from hpt.iscsi.keys import KEYS  # noqa: E402
from hpt.iscsi.negotiation import TargetPolicy  # noqa: E402
from perf import fio  # noqa: E402
from perf.peers import Daemon, Hptd, KeyValue, Tgtd  # noqa: E402
from perf.report import Sample, ratios, summarize, table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SHM = Path("/dev/shm")
TARGETS = ("tgt", "hpt")
# --matched-keys: both targets offer hpt's own defaults for the keys where tgt's defaults differ most.
MATCHED = ("MaxRecvDataSegmentLength", "FirstBurstLength", "MaxBurstLength", "InitialR2T", "ImmediateData")
MATCHED_KEYS: dict[str, KeyValue] = {name: getattr(TargetPolicy(), str(KEYS[name].field)) for name in MATCHED}
TGT_DEFAULTS_NOTE = (
    "note: tgt runs at its Debian defaults (MaxRecvDataSegmentLength 8192, InitialR2T=Yes,\n"
    "      FirstBurstLength 65536). The team's baseline notes (baseline.md) found these defaults cost tgt\n"
    "      about 3x on 128K writes; --matched-keys gives both targets the same keys for a like-for-like run."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default="tgt,hpt", help="comma-separated, in run order (default tgt,hpt)")
    ap.add_argument(
        "--workloads",
        default=",".join(w.key for w in fio.WORKLOADS),
        help="comma-separated subset of: %(default)s",
    )
    ap.add_argument("--runtime", type=int, default=20, help="seconds per fio run (default 20)")
    ap.add_argument("--ramp", type=int, default=2, help="fio ramp-up seconds not counted (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: --runtime 2 --reps 1 --ramp 0")
    ap.add_argument("--size", default="1G", help="LUN file size, K/M/G suffixes (default 1G)")
    ap.add_argument("--hpt-lun", action="append", default=[], metavar="KEY=VALUE",
                    help="a key of hptd's LUN table (docs/config.md), e.g. io_engine=threads (repeatable)")
    ap.add_argument("--disk", type=Path, default=None, metavar="DIR",
                    help="put the LUN file in DIR on a real disk, opened O_DIRECT by both targets "
                         "(default: /dev/shm, in memory)")
    ap.add_argument(
        "--matched-keys",
        action="store_true",
        help="both targets offer hpt's defaults: " + ", ".join(f"{k}={v}" for k, v in MATCHED_KEYS.items()),
    )
    ap.add_argument(
        "--iscsi",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an iSCSI key both targets offer (repeatable; after --matched-keys)",
    )
    ap.add_argument("--fio", type=Path, default=fio.FIO, help="fio built with libiscsi (default %(default)s)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="directory for the JSON results")
    args = ap.parse_args(argv)
    if args.quick:
        args.runtime, args.reps, args.ramp = 2, 1, 0
    args.targets = [t for t in args.targets.split(",") if t]
    by_key = {w.key: w for w in fio.WORKLOADS}
    bad = [t for t in args.targets if t not in TARGETS] + [
        w for w in args.workloads.split(",") if w not in by_key
    ]
    if bad or not args.targets or len(set(args.targets)) != len(args.targets):
        ap.error(f"unknown or repeated target/workload: {', '.join(bad) or args.targets}")
    args.workloads = [by_key[w] for w in args.workloads.split(",")]
    if args.runtime < 1 or args.reps < 1 or args.ramp < 0:
        ap.error("--runtime and --reps must be >= 1, --ramp >= 0")
    try:
        args.size = parse_size(args.size)
    except ValueError as err:
        ap.error(f"--size: {err}")
    if args.size % 4096:
        ap.error("--size must be a multiple of 4096")
    args.keys = dict(MATCHED_KEYS) if args.matched_keys else {}
    for item in args.iscsi:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--iscsi wants KEY=VALUE, got {item!r}")
        args.keys[key] = _key_value(value)
    args.lun_keys = {}
    for item in args.hpt_lun:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--hpt-lun wants KEY=VALUE, got {item!r}")
        args.lun_keys[key] = _key_value(value)
    return args


def _key_value(text: str) -> KeyValue:
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    if lowered in ("yes", "true", "no", "false"):
        return lowered in ("yes", "true")
    return text


def fill_random(path: Path, size: int) -> None:
    """Write ``size`` random bytes (8 MiB at a time) so reads move real data, not zero pages."""
    chunk = 8 << 20
    with path.open("wb") as f:
        for offset in range(0, size, chunk):
            f.write(os.urandom(min(chunk, size - offset)))


def make_daemon(name: str, workdir: Path, lun_file: Path, args: argparse.Namespace) -> Daemon:
    direct = args.disk is not None
    if name == "tgt":
        return Tgtd(workdir, lun_file, args.keys, direct)
    return Hptd(workdir, lun_file, args.keys, direct, args.lun_keys)


def measure(
    daemon: Daemon, workload: fio.Workload, args: argparse.Namespace, out: Path
) -> tuple[fio.FioResult, float]:
    """One fio run; also the daemon's CPU microseconds per completed I/O over the whole run."""
    argv = fio.command(args.fio, workload, daemon.fio_filename, args.runtime, args.ramp, out)
    cpu0 = daemon.cpu_seconds()
    result = fio.run(argv, out, workload.direction, timeout=args.runtime + args.ramp + 60)
    cpu = daemon.cpu_seconds() - cpu0
    if daemon.proc is None or daemon.proc.poll() is not None:
        raise RuntimeError(f"{daemon.name} exited during the run:\n{daemon.log_tail()}")
    # CPU covers the ramp too: scale the counted I/Os up to the whole run.
    ios = result.ios * (args.runtime + args.ramp) / args.runtime
    return result, cpu / ios * 1e6


def run(args: argparse.Namespace) -> int:
    if not fio.has_libiscsi(args.fio):
        print(
            f"e2e: {args.fio} is missing or lacks the libiscsi engine: run perf/build-fio.sh", file=sys.stderr
        )
        return 2
    where = SHM if args.disk is None else args.disk
    if shutil.disk_usage(where).free < args.size + (64 << 20):
        print(f"e2e: not enough room in {where} for a {args.size}-byte LUN", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="hpt-perf-"))
    lun_file = where / f"hpt-perf-{os.getpid()}.img"
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        cleanup.callback(lun_file.unlink, missing_ok=True)
        print(f"filling {lun_file} with {args.size:,} random bytes", flush=True)
        fill_random(lun_file, args.size)
        daemons: list[Daemon] = []
        for name in args.targets:
            daemon = make_daemon(name, workdir, lun_file, args)
            cleanup.callback(daemon.stop)
            daemon.start()
            daemons.append(daemon)
            print(f"{name}: {daemon.version()} on 127.0.0.1:{daemon.port}", flush=True)
        if "tgt" in args.targets and not args.keys:
            print(TGT_DEFAULTS_NOTE)
        if args.reps < 3 and not args.quick:
            print(f"note: {args.reps} repetition(s): use 3 or more for medians worth quoting")
        started = time.time()
        load_before = os.getloadavg()
        samples: list[Sample] = []
        for rep in range(args.reps):
            for workload in args.workloads:
                for daemon in daemons:
                    out = workdir / f"fio-{rep}-{workload.key}-{daemon.name}.json"
                    result, cpu_us = measure(daemon, workload, args, out)
                    samples.append(Sample(rep, workload.key, daemon.name, result, cpu_us))
                    print(
                        f"[rep {rep + 1}/{args.reps}] {workload.title:<18} {daemon.name}  "
                        f"{result.iops:>10,.0f} IOPS {result.bw_bytes / 1e6:>9,.1f} MB/s  "
                        f"p99 {result.p99_ms:.3f} ms  {cpu_us:.1f} us/IO",
                        flush=True,
                    )
        print()
        summary: dict[str, dict[str, object]] = {}
        for workload in args.workloads:
            per_target = {d.name: s for d in daemons if (s := summarize(samples, workload.key, d.name))}
            print(table(workload, per_target, args.runtime), end="\n\n")
            entry: dict[str, object] = {name: asdict(s) for name, s in per_target.items()}
            if "hpt" in per_target and "tgt" in per_target:
                entry["hpt/tgt"] = ratios(per_target["hpt"], per_target["tgt"])
            summary[workload.key] = entry
        path = write_results(args, daemons, samples, summary, started, load_before)
        print(f"results: {path}")
    return 0


def write_results(
    args: argparse.Namespace,
    daemons: list[Daemon],
    samples: list[Sample],
    summary: dict[str, dict[str, object]],
    started: float,
    load_before: tuple[float, float, float],
) -> Path:
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / time.strftime("e2e-%Y%m%d-%H%M%S.json", time.localtime(started))
    doc = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "host": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "lun_file": "O_DIRECT on " + str(args.disk) if args.disk is not None else "/dev/shm",
        },
        "versions": {"fio": fio.version(args.fio), **{d.name: d.version() for d in daemons}},
        "options": {
            "targets": args.targets,
            "workloads": [w.key for w in args.workloads],
            "runtime": args.runtime,
            "ramp": args.ramp,
            "reps": args.reps,
            "size": args.size,
            "iscsi_keys": args.keys,
        },
        "tgt_at_debian_defaults": "tgt" in args.targets and not args.keys,
        "samples": [s.as_dict() for s in samples],
        "summary": summary,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    try:
        return run(args)
    except RuntimeError as err:
        print(f"e2e: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("e2e: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
