"""hptd under systemd: the notify protocol (READY, RELOADING, WATCHDOG, STOPPING) against a socket the
test listens on, and the unit file checked by ``systemd-analyze verify``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.daemon.notify import Notifier
from tests.integration.hptd import REPO, start_hptd

UNIT = REPO / "ci" / "hptd.service"


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(20)
    yield sock
    sock.close()


def _messages(sock: socket.socket, until: str, timeout: float = 20) -> list[str]:
    """Datagrams received until one holds the line ``until``."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got.append(sock.recv(4096).decode())
        if until in got[-1].splitlines():
            return got
    raise AssertionError(f"no {until} within {timeout} s; got {got}")


def test_notifier_sends_each_message_and_the_watchdog_when_due(listener: socket.socket) -> None:
    n = Notifier({"NOTIFY_SOCKET": listener.getsockname(), "WATCHDOG_USEC": "2000000"})
    assert n.interval == 1.0
    n.ready("serving 2 targets")
    assert listener.recv(4096).decode().splitlines()[:2] == ["READY=1", "STATUS=serving 2 targets"]
    n.tick(100.0)
    n.tick(100.5)  # not due yet
    n.tick(101.0)
    n.stopping()
    assert [listener.recv(4096).decode() for _ in range(3)] == ["WATCHDOG=1", "WATCHDOG=1",
                                                               "STOPPING=1\nSTATUS=stopping"]


def test_notifier_without_systemd_or_for_another_process_stays_quiet() -> None:
    assert not Notifier({}).send("READY=1")
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).interval is None
    assert Notifier({"NOTIFY_SOCKET": "@hpt-test"}).address == "\0hpt-test"  # the abstract namespace


@pytest.mark.integration
def test_hptd_tells_systemd_ready_reloading_watchdog_and_stopping(
        tmp_path: Path, listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", listener.getsockname())
    monkeypatch.setenv("WATCHDOG_USEC", "600000")
    config = '[daemon]\ncontrol_socket = ""\n[[portal]]\naddress = "127.0.0.1:{port}"\n'
    daemon = start_hptd(tmp_path, config)
    try:
        ready = _messages(listener, "READY=1")
        assert f"MAINPID={daemon.proc.pid}" in ready[-1].splitlines()
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5):
            pass  # READY=1 came once the portal listened
        assert len(_messages(listener, "WATCHDOG=1")) >= 1
        _messages(listener, "WATCHDOG=1")  # and again (every 0.3 s)
        daemon.proc.send_signal(signal.SIGHUP)
        reload = _messages(listener, "READY=1")
        assert any(m == "RELOADING=1" for m in reload)
        daemon.proc.send_signal(signal.SIGTERM)
        _messages(listener, "STOPPING=1")
        assert daemon.proc.wait(30) == 0
    finally:
        if daemon.alive():
            daemon.stop()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (systemd)")
def test_the_unit_file_verifies(tmp_path: Path) -> None:
    hptd = shutil.which("hptd") or "/usr/local/bin/hptd"
    if not os.path.exists(hptd):
        pytest.skip("hptd is not installed (pip install -e .)")
    unit = tmp_path / "hptd.service"
    unit.write_text(UNIT.read_text().replace("@HPTD@", hptd))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and str(unit) not in r.stderr, r.stderr
    text = UNIT.read_text()
    assert "Type=notify" in text and "ExecReload=/bin/kill -HUP $MAINPID" in text and "WatchdogSec=" in text
