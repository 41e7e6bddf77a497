"""Lab fixtures: the guest image, a runner for guest scripts, host-side iSCSI targets, timing records.

A test marked ``@pytest.mark.lab`` takes the ``lab`` fixture and runs scripts from ``tests/lab/guest/`` in
throw-away QEMU guests (see ``ci/lab``). ``bash ci/test.sh`` builds the image (cached) before it runs pytest.
Tests skip with the reason printed when QEMU is missing or the image could not be built; with ``CI`` or
``HPT_LAB_BUILD=1`` set a missing image is built here (once, cached) instead, and a failed build fails.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ci.lab.guest import ARTIFACTS_ENV, GuestResult, GuestSpec, Nic, qemu_binary, run_guests
from ci.lab.image import (
    BuildError,
    LabImage,
    build_failure,
    build_image,
    cache_dir,
    find_image,
    missing_build_tools,
)
from tests.integration.hptd import free_port, start_hptd

REPO = Path(__file__).resolve().parents[2]
GUEST_SCRIPTS = Path(__file__).resolve().parent / "guest"
#: Every guest gets at least this long: first boots under TCG on a loaded 2-core host take up to ~30 s.
GUEST_TIMEOUT = 240.0
INITIATOR_IQN = "iqn.2026-11.org.hpt.lab:initiator"


@dataclass
class LabRecord:
    """Timings of one lab run, printed at the end of the session and saved to ``$HPT_LAB_ARTIFACTS``,
    and the figures tests measured (``figures``: lines printed in the summary too, so a run without
    ``-s`` shows them)."""

    image: dict[str, object] = field(default_factory=dict)
    image_built_now: bool = False
    guests: list[dict[str, object]] = field(default_factory=list)
    test_seconds: dict[str, float] = field(default_factory=dict)
    lab_tests: set[str] = field(default_factory=set)
    figures: list[str] = field(default_factory=list)


RECORD = LabRecord()


def guest_script(*names: str) -> str:
    """``common.sh`` followed by the named scripts of ``tests/lab/guest``."""
    return "".join((GUEST_SCRIPTS / name).read_text() for name in ("common.sh", *names))


class HostStep:
    """The host acting in the middle of a guest's run: a thread that waits (up to ``wait`` seconds) for the
    guest to create ``trigger`` (a file in a 9p share), then calls ``act``; what ``act`` raises is kept in
    ``errors`` for the test to report. Without the trigger in time it gives up quietly: the guest failed
    earlier and its output says why."""

    def __init__(self, trigger: Path, act: Callable[[], None], wait: float = 300.0) -> None:
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(trigger, act, wait), daemon=True)
        self._thread.start()

    def _run(self, trigger: Path, act: Callable[[], None], wait: float) -> None:
        try:
            deadline = time.monotonic() + wait
            while not trigger.exists():
                if time.monotonic() > deadline:
                    return
                time.sleep(0.1)
            act()
        except BaseException as err:  # reported by the test
            self.errors.append(err)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@pytest.fixture(scope="session")
def lab_image() -> LabImage:
    """The cached guest image (``bash ci/test.sh`` builds it); skipped with the reason when it is missing.

    With ``CI`` or ``HPT_LAB_BUILD=1`` set a missing image is built here, and a failed build fails the tests.
    """
    if qemu_binary() is None:
        pytest.skip("lab: qemu-system-x86_64 not installed (ci/lab/host-packages.txt lists host packages)")
    image = find_image()
    if image is None:
        missing = missing_build_tools()
        if missing:
            pytest.skip(f"lab: cannot build the guest image, missing {', '.join(missing)}")
        if not (os.environ.get("CI") or os.environ.get("HPT_LAB_BUILD") == "1"):
            failure = build_failure()
            if failure:
                pytest.skip(f"lab: the guest image could not be built: {failure}")
            pytest.skip(f"lab: no guest image under {cache_dir()}; `bash ci/test.sh` builds it (or "
                        "`python -m ci.lab.image build`, or set HPT_LAB_BUILD=1 to build it here)")
        try:
            image = build_image()
        except BuildError as exc:
            pytest.fail(f"lab: image build failed: {exc}")
        RECORD.image_built_now = True
    RECORD.image = image.manifest
    return image


@dataclass
class Lab:
    """Runs guest scripts for one test and records their timings."""

    image: LabImage
    workdir: Path
    test: str

    def spec(self, script: str, *, name: str = "guest", env: dict[str, str] | None = None,
             nics: Sequence[Nic] | None = None, **kwargs: object) -> GuestSpec:
        """A GuestSpec with this test's work directory; ``kwargs`` go to GuestSpec unchanged."""
        workdir = self.workdir / name
        workdir.mkdir(parents=True, exist_ok=True)
        extra: dict[str, object] = {"timeout": GUEST_TIMEOUT, **kwargs}
        if nics is not None:
            extra["nics"] = tuple(nics)
        return GuestSpec(image=self.image, workdir=workdir, script=script, name=name, env=env or {},
                         **extra)  # type: ignore[arg-type]

    def run(self, *specs: GuestSpec) -> list[GuestResult]:
        """Boot all guests at once, wait for all, record timings and fail with full logs on any failure."""
        results = run_guests(specs)
        for result in results:
            RECORD.guests.append({"test": self.test, "guest": result.name, "rc": result.rc,
                                  "boot_to_result_s": round(result.seconds, 1),
                                  "guest_uptime_s": result.guest_seconds})
        failed = [result.describe() for result in results if not result.ok]
        assert not failed, "\n\n".join(failed)
        return results

    def run_one(self, script: str, **kwargs: object) -> GuestResult:
        """One guest; returns its result (already checked to have exited 0)."""
        return self.run(self.spec(script, **kwargs))[0]  # type: ignore[arg-type]


@pytest.fixture
def lab(lab_image: LabImage, tmp_path: Path, request: pytest.FixtureRequest) -> Lab:
    """A guest runner for this test (QEMU present, image built)."""
    if os.geteuid() != 0:
        pytest.skip("lab: needs root (tap devices, network namespaces, targets on the host)")
    return Lab(lab_image, tmp_path, request.node.name)


# --- iSCSI targets on the host -------------------------------------------------------------------------


@dataclass(frozen=True)
class IscsiTarget:
    """An iSCSI target listening on host loopback ``port``; CHAP applies when ``user`` is set."""

    kind: str
    iqn: str
    port: int
    user: str = ""
    secret: str = ""

    def guest_env(self) -> dict[str, str]:
        return {"TARGET_IQN": self.iqn, "TARGET_PORT": str(self.port), "CHAP_USER": self.user,
                "CHAP_SECRET": self.secret, "INITIATOR_IQN": INITIATOR_IQN, "IO_MIB": "8"}


CHAP_USER = "labuser"
CHAP_SECRET = "lab-chap-secret-42"


def _stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """End a process we started, by its PID: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tgtadm(control_port: int, *args: str) -> None:
    subprocess.run(["tgtadm", "-C", str(control_port), "--lld", "iscsi", *args], check=True,
                   capture_output=True, timeout=30)


def _free_control_port() -> int:
    """A tgtd management port (1..32767) whose socket no other tgtd holds."""
    while True:
        control = secrets.randbelow(30000) + 1000
        if not Path(f"/var/run/tgtd/socket.{control}").exists():
            return control


@pytest.fixture
def tgtd_target(tmp_path: Path) -> Iterator[Callable[[bool], IscsiTarget]]:
    """Factory: Debian's tgtd on 127.0.0.1 with one 64 MiB file LUN (LUN 1), optionally CHAP-protected."""
    if shutil.which("tgtd") is None:
        pytest.skip("lab: tgtd not installed (Debian package tgt)")
    daemons: list[subprocess.Popen[bytes]] = []

    def start(chap: bool) -> IscsiTarget:
        port = free_port()
        control = _free_control_port()
        iqn = "iqn.2026-11.org.hpt.lab:tgtd"
        log = (tmp_path / f"tgtd-{port}.log").open("wb")
        proc = subprocess.Popen(["tgtd", "-f", "-C", str(control), "--iscsi", f"portal=127.0.0.1:{port}"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        daemons.append(proc)
        deadline = time.monotonic() + 30
        while subprocess.run(["tgtadm", "-C", str(control), "--op", "show", "--mode", "sys"],
                             capture_output=True).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "tgtd did not start"
            time.sleep(0.2)
        backing = tmp_path / f"tgtd-lun-{port}.img"
        with backing.open("wb") as fh:
            fh.truncate(64 << 20)
        _tgtadm(control, "--op", "new", "--mode", "target", "--tid", "1", "-T", iqn)
        _tgtadm(control, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1",
                "-b", str(backing))
        _tgtadm(control, "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
        if not chap:
            return IscsiTarget("tgtd", iqn, port)
        _tgtadm(control, "--op", "new", "--mode", "account", "--user", CHAP_USER, "--password", CHAP_SECRET)
        _tgtadm(control, "--op", "bind", "--mode", "account", "--tid", "1", "--user", CHAP_USER)
        return IscsiTarget("tgtd", iqn, port, CHAP_USER, CHAP_SECRET)

    yield start
    for proc in daemons:
        # tgtd 1.0.85 does not exit on SIGTERM once configured; it keeps no state worth a clean stop.
        _stop(proc, grace=1.0)


HPTD_CHAP_IQN = "iqn.2026-11.org.hpt.lab:hptd-chap"
HPTD_CHAP_CONFIG = f"""
[[portal]]
address = "127.0.0.1:{{port}}"

[[account]]
name = "{CHAP_USER}"
secret = "{CHAP_SECRET}"

[[target]]
name = "{HPTD_CHAP_IQN}"
incoming = ["{CHAP_USER}"]
  [[target.lun]]
  lun = 1
  store = "file"
  path = "{{tmp}}/hptd-lun.img"
  size = "64M"
"""


@functools.cache
def hptd_missing() -> str | None:
    """Why hptd cannot be used yet, or None once ``python -m hpt.daemon --help`` works."""
    done = subprocess.run([sys.executable, "-m", "hpt.daemon", "--help"], capture_output=True, text=True,
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    return None if done.returncode == 0 else f"`python -m hpt.daemon --help` fails: {done.stderr[-500:]}"


@pytest.fixture
def hptd_target(tmp_path: Path) -> Iterator[Callable[[bool], IscsiTarget]]:
    """Factory: hptd on 127.0.0.1 (``--demo`` without CHAP, a TOML config with CHAP)."""
    reason = hptd_missing()
    if reason:
        pytest.skip(f"lab: {reason}")
    daemons = []

    def start(chap: bool) -> IscsiTarget:
        daemon = start_hptd(tmp_path, HPTD_CHAP_CONFIG if chap else None, demo=not chap)
        daemons.append(daemon)
        if chap:
            return IscsiTarget("hptd", HPTD_CHAP_IQN, daemon.port, CHAP_USER, CHAP_SECRET)
        assert daemon.proc.stdout is not None
        iqn = daemon.proc.stdout.readline().strip()
        assert iqn.startswith("iqn."), f"hptd --demo printed {iqn!r} instead of its IQN"
        return IscsiTarget("hptd", iqn, daemon.port)

    yield start
    for daemon in daemons:
        assert daemon.stop() == 0, f"hptd did not exit cleanly on SIGTERM:\n{daemon.log_text()[-4000:]}"


# --- timing records ------------------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    RECORD.lab_tests.update(item.nodeid for item in items if item.get_closest_marker("lab"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid in RECORD.lab_tests:
        RECORD.test_seconds[report.nodeid] = RECORD.test_seconds.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RECORD.guests and not RECORD.image:
        return
    write = terminalreporter.write_line
    terminalreporter.section("lab timings")
    if RECORD.image:
        size = int(RECORD.image.get("rootfs_allocated_bytes", 0)) / 2**20  # type: ignore[call-overload]
        built_at = RECORD.image.get("built_at")
        when = "built in this run" if RECORD.image_built_now else f"cached, built {built_at}"
        write(f"image {RECORD.image.get('key')} ({when}): build {RECORD.image.get('build_seconds')} s, "
              f"rootfs {size:.0f} MiB allocated")
    for guest in RECORD.guests:
        write(f"{guest['test']} [{guest['guest']}]: boot-to-result {guest['boot_to_result_s']} s "
              f"(guest uptime {guest['guest_uptime_s']} s), exit {guest['rc']}")
    for nodeid, seconds in RECORD.test_seconds.items():
        write(f"{nodeid}: {seconds:.1f} s")
    # A build in this run happened in the first lab test's setup, so it is part of the sum.
    total = sum(RECORD.test_seconds.values())
    write(f"total lab time: {total:.1f} s over {len(RECORD.test_seconds)} tests")
    if RECORD.figures:
        terminalreporter.section("lab figures")
        for line in RECORD.figures:
            write(line)
    artifacts = os.environ.get(ARTIFACTS_ENV)
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        (Path(artifacts) / "lab-times.json").write_text(json.dumps(
            {"image": RECORD.image, "image_built_now": RECORD.image_built_now, "guests": RECORD.guests,
             "tests": RECORD.test_seconds, "total_seconds": round(total, 1), "figures": RECORD.figures},
            indent=1) + "\n")
