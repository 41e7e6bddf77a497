"""The benchmarks' pytest options (``--perf-*``), fixtures, and the report each run writes: the run's
JSON and its pictures in ``--perf-report`` (default ``perf/results``), and the hpt/tgt tables at the end
of the terminal output (``perf/README.md``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perf import charts, fio, harness, runs
from perf.report import Sample, summarize, table

OPTIONS = pytest.StashKey[harness.Options]()
RUN = pytest.StashKey[runs.Run]()
SAMPLES = pytest.StashKey[dict[tuple[str, int], list[Sample]]]()
WRITTEN = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perf", "hpt's benchmarks against tgtd (perf/README.md)")
    add = group.addoption
    add("--perf-targets", default="tgt,hpt", help="comma-separated, in run order (default tgt,hpt)")
    add("--perf-workloads", default=",".join(w.key for w in fio.WORKLOADS),
        help="comma-separated subset of the fio workloads (default: all)")
    add("--perf-modes", default="memory,disk",
        help="memory (a file in /dev/shm), disk (a file in --perf-disk, O_DIRECT), rbd (an image of a "
             "throw-away Ceph, rbd bench as the ceiling); default memory,disk")
    add("--perf-sessions", default="1,4", help="comma-separated iSCSI session counts (fio jobs; default 1,4)")
    add("--perf-seconds", type=int, default=20, help="seconds per fio run (default 20)")
    add("--perf-ramp", type=int, default=2, help="fio ramp-up seconds not counted (default 2)")
    add("--perf-reps", type=int, default=3, help="rounds (fio runs) per benchmark (default 3)")
    add("--perf-size", default="1G", help="LUN file size, K/M/G suffixes (default 1G)")
    add("--perf-disk", type=Path, default=Path("/var/tmp"), help="directory of the disk mode's LUN file")
    add("--perf-hpt-lun", action="append", default=[], metavar="KEY=VALUE",
        help="a key of hptd's LUN table (docs/config.md), e.g. io_engine=threads (repeatable)")
    add("--perf-matched-keys", action="store_true",
        help="both targets offer hpt's defaults: " + ", ".join(f"{k}={v}" for k, v in
                                                                harness.MATCHED_KEYS.items()))
    add("--perf-iscsi", action="append", default=[], metavar="KEY=VALUE",
        help="an iSCSI key both targets offer (repeatable; after --perf-matched-keys)")
    add("--perf-fio", type=Path, default=fio.FIO, help="fio built with libiscsi (perf/build-fio.sh)")
    add("--perf-report", type=Path, default=harness.Options.report,
        help="directory of each run's JSON and pictures (default perf/results)")


def options_of(config: pytest.Config) -> harness.Options:
    """The ``--perf-*`` options; ValueError names a bad one."""
    get = config.getoption
    sessions = get("perf_sessions").split(",")
    if not all(s.isdigit() and 0 < int(s) <= 64 for s in sessions):
        raise ValueError(f"--perf-sessions: want counts 1..64, got {get('perf_sessions')!r}")
    if get("perf_seconds") < 1 or get("perf_reps") < 1 or get("perf_ramp") < 0:
        raise ValueError("--perf-seconds and --perf-reps must be >= 1, --perf-ramp >= 0")
    keys = dict(harness.MATCHED_KEYS) if get("perf_matched_keys") else {}
    by_key = {w.key: w for w in fio.WORKLOADS}
    workloads = harness.parse_list(get("perf_workloads"), tuple(by_key), "--perf-workloads")
    return harness.Options(
        targets=harness.parse_list(get("perf_targets"), harness.TARGETS, "--perf-targets"),
        workloads=tuple(by_key[w] for w in workloads),
        modes=harness.parse_list(get("perf_modes"), harness.MODES, "--perf-modes"),
        sessions=tuple(int(s) for s in sessions), seconds=get("perf_seconds"), ramp=get("perf_ramp"),
        reps=get("perf_reps"), size=harness.parse_lun_size(get("perf_size")), disk=get("perf_disk"),
        keys=keys | harness.parse_keys(get("perf_iscsi"), "--perf-iscsi"),
        lun_keys=harness.parse_keys(get("perf_hpt_lun"), "--perf-hpt-lun"), fio=get("perf_fio"),
        report=get("perf_report"),
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[OPTIONS] = options_of(config)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    o = config.stash[OPTIONS]
    config.stash[RUN] = runs.Run(options={
        "targets": o.targets, "workloads": [w.key for w in o.workloads], "modes": o.modes,
        "sessions": o.sessions, "seconds": o.seconds, "ramp": o.ramp, "reps": o.reps, "size": o.size,
        "disk": str(o.disk), "iscsi_keys": o.keys, "hpt_lun_keys": o.lun_keys,
        "fio": fio.version(o.fio) if o.fio.exists() else "missing"})
    config.stash[SAMPLES] = {}
    config.stash[WRITTEN] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        o = metafunc.config.stash[OPTIONS]
        cases = [harness.Case(m, s, w, t)
                 for m in o.modes for s in o.sessions for w in o.workloads
                 for t in harness.targets_of(m, o.targets)]
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


@pytest.fixture(scope="session")
def perf_options(pytestconfig: pytest.Config) -> harness.Options:
    return pytestconfig.stash[OPTIONS]


@pytest.fixture(scope="session")
def perf_run(pytestconfig: pytest.Config) -> runs.Run:
    """This run's benchmarks: each adds its figures (``Run.add``), which also become its extra_info."""
    return pytestconfig.stash[RUN]


@pytest.fixture(scope="session")
def perf_samples(pytestconfig: pytest.Config) -> dict[tuple[str, int], list[Sample]]:
    """Every fio run so far, by (mode, sessions): the hpt/tgt ratios and the summary tables."""
    return pytestconfig.stash[SAMPLES]


@pytest.fixture(scope="session")
def daemons(perf_options: harness.Options,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Daemons]:
    pool = harness.Daemons(perf_options, tmp_path_factory.mktemp("perf"))
    try:
        yield pool
    finally:
        pool.close()


def _saved_runs(config: pytest.Config, report: Path) -> list[Path]:
    """This report directory's run files and pytest-benchmark's saved ones (a file:// storage)."""
    paths = sorted(report.glob("bench-*.json"))
    storage = str(config.getoption("benchmark_storage", "") or "")
    if storage.startswith("file://"):
        paths += sorted(Path(storage.removeprefix("file://")).glob("*/*.json"))
    return paths


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    run = config.stash[RUN]
    if not run.benchmarks:
        return
    report = config.stash[OPTIONS].report
    path = run.write(report)
    history = runs.load(_saved_runs(config, report))
    config.stash[WRITTEN] = [path, *charts.write(run.document(), history, report, path.stem)]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    options = config.stash[OPTIONS]
    for (mode, sessions), samples in config.stash[SAMPLES].items():
        for workload in options.workloads:
            per_target = {t: s for t in harness.targets_of(mode, options.targets)
                          if (s := summarize(samples, workload.key, t))}
            if per_target:
                terminalreporter.write_line(f"\n[{mode}, {sessions} session(s)] "
                                            + table(workload, per_target, options.seconds))
    if config.stash[SAMPLES] and "tgt" in options.targets and not options.keys:
        terminalreporter.write_line("\n" + harness.TGT_DEFAULTS_NOTE)
    written = config.stash[WRITTEN]
    if written:
        terminalreporter.write_line(f"\nperf report: {', '.join(str(p) for p in written)}")
