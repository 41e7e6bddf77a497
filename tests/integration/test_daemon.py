"""hptd as an administrator meets it: bad configs, --demo, structured logs, SIGTERM with a live session."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpt.daemon.config import DEMO_TARGET

from .hptd import REPO, need, request_status, start_hptd

pytestmark = pytest.mark.integration


def hptd_cmd(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "hpt.daemon", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_bad_config_names_file_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[[target]]\nname = "iqn.2026-11.org.hpt:x"\n  [[target.lun]]\n  lun = 1\n  store = "ram"\n'
        '  size = "1M"\n  block_size = 520\n'
    )
    r = hptd_cmd("--config", str(cfg))
    assert r.returncode == 2
    assert f"{cfg}:7: target[0].lun[0].block_size" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_config_and_port_in_use(tmp_path: Path) -> None:
    r = hptd_cmd("--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    d = start_hptd(tmp_path, demo=True)
    try:
        r = hptd_cmd("--demo", "--portal", f"127.0.0.1:{d.port}")
        assert r.returncode == 1 and "cannot start" in r.stderr, r.stderr
    finally:
        assert d.stop() == 0


def test_demo_prints_its_iqn_and_stops_on_sigint(tmp_path: Path) -> None:
    d = start_hptd(tmp_path, demo=True)
    assert d.proc.stdout is not None
    assert d.proc.stdout.readline().strip() == DEMO_TARGET
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(30) == 0


def test_console_script_installed() -> None:
    path = shutil.which("hptd")
    if path is None:
        pytest.skip("hptd is not on PATH: the project is not installed (bash ci/install.sh installs it)")
    r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--demo" in r.stdout


@pytest.mark.parametrize("workers", [1, 2])
def test_json_logs(tmp_path: Path, workers: int) -> None:
    d = start_hptd(
        tmp_path,
        f'[daemon]\nlog_format = "json"\nworkers = {workers}\ncontrol_socket = ""\n'
        '[[portal]]\naddress = "127.0.0.1:{port}"\n'
        '[[target]]\nname = "iqn.2026-11.org.hpt:j"\n  [[target.lun]]\n  lun = 1\n'
        '  store = "null"\n  size = "1M"\n',
    )
    assert d.stop() == 0
    lines = [json.loads(line) for line in d.log_text().splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(doc) for doc in lines)
    assert any("listening on" in doc["msg"] for doc in lines)
    # each worker's lines say which process wrote them; the main process's say nothing
    processes = {doc.get("process") for doc in lines}
    assert processes == ({None} if workers == 1 else {None, "worker 1", "worker 2"}), processes


def test_sigterm_with_io_in_flight_stops_cleanly(tmp_path: Path) -> None:
    perf = need("iscsi-perf", "libiscsi-bin")
    d = start_hptd(tmp_path, demo=True)
    load = subprocess.Popen([perf, d.url(DEMO_TARGET)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.0)  # iscsi-perf keeps READ16s in flight
        assert load.poll() is None, "iscsi-perf stopped on its own"
        assert d.alive()
        started = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - started < 20
        log = d.log_text()
        assert "Traceback" not in log, log[-3000:]
        assert "stopped in" in log
    finally:
        load.kill()
        load.wait()


def test_sigusr1_logs_portals_and_sessions(tmp_path: Path) -> None:
    perf = need("iscsi-perf", "libiscsi-bin")
    d = start_hptd(tmp_path, demo=True)
    idle = request_status(d.proc, d.log)
    assert idle["portals"] == [{"address": f"127.0.0.1:{d.port}", "transport": "tcp", "group": 1}]
    assert idle["sessions"] == [] and idle["fcoe_ports"] == []
    load = subprocess.Popen([perf, d.url(DEMO_TARGET)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        sessions: list[dict[str, object]] = []
        while not sessions and time.monotonic() < deadline:
            sessions = request_status(d.proc, d.log)["sessions"]
        assert [(s["target"], s["type"], s["connections"]) for s in sessions] == [(DEMO_TARGET, "Normal", 1)]
        assert d.alive()
    finally:
        load.kill()
        load.wait()
    assert d.stop() == 0
