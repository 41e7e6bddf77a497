"""Hostile and broken peers on a live hptd: logins that never finish, too many connections, a low
descriptor limit, too many sessions, and CHAP secrets guessed in a loop ([limits], hpt.iscsi.limits)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .hptd import REPO, Hptd, free_port, need, start_hptd
from .wire import WireInitiator

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:limits"
CHAP_IQN = "iqn.2026-11.org.hpt.test:limits-chap"
CONFIG = f"""
[limits]
login_timeout = 2
max_connections_per_address = 20
max_sessions_per_initiator = 1
auth_delay = 1
auth_delay_max = 2

[[portal]]
address = "127.0.0.1:{{port}}"

[[account]]
name = "alice"
secret = "alice-secret-1234"

[[target]]
name = "{IQN}"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "4M"

[[target]]
name = "{CHAP_IQN}"
incoming = ["alice"]
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "4M"
"""


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hptd]:
    """hptd with CONFIG; a test parametrized with ``workers`` (indirect) runs that many worker processes."""
    workers = getattr(request, "param", 1)
    d = start_hptd(tmp_path, f"[daemon]\nworkers = {workers}\n" + CONFIG)
    yield d
    d.stop()


def _silent(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(n)]


def _inquiry(url: str) -> subprocess.CompletedProcess[str]:
    inq = need("iscsi-inq", "libiscsi-bin")
    return subprocess.run([inq, url], capture_output=True, text=True, timeout=30)


def test_a_connection_that_never_logs_in_is_closed_after_the_login_timeout(daemon: Hptd) -> None:
    (sock,) = _silent(daemon.port, 1)
    sock.settimeout(15)
    assert sock.recv(1) == b""  # closed by the target (login_timeout = 2 s), not by our timeout
    assert "login not finished within 2 s" in daemon.log.read_text()


def test_silent_connections_from_one_address_make_room_for_a_real_login(daemon: Hptd) -> None:
    silent = _silent(daemon.port, 25)  # beyond max_connections_per_address = 20
    try:
        r = _inquiry(daemon.url(IQN))
        assert r.returncode == 0, r.stderr
        assert "connection limit" in daemon.log.read_text()
    finally:
        for s in silent:
            s.close()


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) not installed")
def test_out_of_descriptors_the_target_sheds_silent_connections_and_serves_a_login(tmp_path: Path) -> None:
    # one process: with workers each has its own descriptors, and a worker out of them cannot take a
    # handed connection (docs/workers.md)
    config = "[daemon]\nworkers = 1\n" + CONFIG.replace("max_connections_per_address = 20",
                                                         "max_connections_per_address = 1000")
    d = start_hptd(tmp_path, config, wrap=("prlimit", "--nofile=256:256"))
    try:
        silent = _silent(d.port, 300)  # more than the descriptors hptd has: some wait in the backlog
        try:
            started = time.monotonic()
            r = _inquiry(d.url(IQN))
            assert r.returncode == 0, r.stderr
            assert time.monotonic() - started < 10
            assert "out of descriptors" in d.log.read_text()
            assert d.alive()
        finally:
            for s in silent:
                s.close()
    finally:
        d.stop()


def test_sessions_per_initiator_are_limited(daemon: Hptd) -> None:
    first = WireInitiator(daemon.port, IQN, name="iqn.2026-11.org.hpt.test:one")
    try:
        assert first.login() == 0
        second = WireInitiator(daemon.port, IQN, name="iqn.2026-11.org.hpt.test:one", isid=0x23D000000043)
        try:
            assert second.login() == 0x0302  # out of resources: max_sessions_per_initiator = 1
        finally:
            second.close()
        other = WireInitiator(daemon.port, IQN, name="iqn.2026-11.org.hpt.test:two")
        try:
            assert other.login() == 0
        finally:
            other.close()
    finally:
        first.close()


@pytest.mark.parametrize("daemon", [1, 2], indirect=True, ids=["one-process", "two-workers"])
def test_wrong_chap_secrets_are_answered_ever_later(daemon: Hptd) -> None:
    """auth_delay doubles per failure in a row from one initiator and address: counted by the main
    process over every worker, which the logins land on in turn."""
    bad = daemon.url(CHAP_IQN, auth="alice%wrong-secret-123@")
    started = time.monotonic()
    for _ in range(3):
        assert _inquiry(bad).returncode != 0
    assert time.monotonic() - started >= 1 + 2 + 2  # auth_delay 1 s, doubled, at most 2 s
    log = daemon.log.read_text()
    assert log.count("refused (0201)") < 3  # one line per address and 10 s, the rest counted
    assert _inquiry(daemon.url(CHAP_IQN, auth="alice%alice-secret-1234@")).returncode == 0


def _start_failure(tmp_path: Path, config: str) -> str:
    """hptd's stderr when it cannot start ``config``."""
    path = tmp_path / "hptd.toml"
    path.write_text(config)
    r = subprocess.run([sys.executable, "-m", "hpt.daemon", "--config", str(path), "--control-socket", ""],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 1
    return r.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_a_portal_in_use_is_named_with_its_line(tmp_path: Path, workers: int) -> None:
    """The same message whether hptd or, with workers, its main process listens."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = f'[daemon]\nworkers = {workers}\n[[portal]]\naddress = "127.0.0.1:{port}"\n'
        err = _start_failure(tmp_path, text)
    assert (f"hptd.toml:4: portal[0].address: cannot listen on 127.0.0.1:{port} (tcp): "
            "Address already in use") in err, err


@pytest.mark.parametrize("workers", [1, 2])
def test_a_ram_lun_larger_than_memory_is_named_with_its_line(tmp_path: Path, workers: int) -> None:
    """One process's mapping is refused by the kernel; two workers' memfd by the ram store, before it
    fills memory (the OOM killer would end the worker)."""
    config = (f'[daemon]\nworkers = {workers}\n[[portal]]\naddress = "127.0.0.1:{free_port()}"\n'
              f'[[target]]\nname = "{IQN}"\n  [[target.lun]]\n  lun = 1\n  store = "ram"\n  size = "64T"\n')
    err = _start_failure(tmp_path, config)
    assert "hptd.toml:7: target[0].lun[0]: cannot open its store: Cannot allocate memory" in err, err
