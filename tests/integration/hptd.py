"""Starting and stopping hptd (and tools) for integration tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian package {package}; ci/test.sh installs it)")
    return path


def request_status(proc: subprocess.Popen[str], log: Path, timeout: float = 15.0) -> dict[str, Any]:
    """Send hptd SIGUSR1 and return the status report it logs (the first one after the signal)."""
    seen = log.read_text(errors="replace").count(" status {")
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = [line for line in log.read_text(errors="replace").splitlines() if " status {" in line]
        if len(reports) > seen:
            doc: dict[str, Any] = json.loads(reports[seen].split(" status ", 1)[1])
            return doc
        time.sleep(0.1)
    raise AssertionError(f"hptd logged no status within {timeout} s of SIGUSR1")


@dataclass
class Hptd:
    proc: subprocess.Popen[str]
    port: int
    log: Path

    def url(self, iqn: str, lun: int = 1, auth: str = "") -> str:
        return f"iscsi://{auth}127.0.0.1:{self.port}/{iqn}/{lun}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("hptd did not stop within 30 s of SIGTERM") from None
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_hptd(tmp: Path, config_text: str | None = None, *, demo: bool = False,
               demo_args: tuple[str, ...] = (), wrap: tuple[str, ...] = (),
               tgt_config: Path | None = None) -> Hptd:
    """Start hptd on a free loopback port; ``config_text`` may use ``{port}`` and ``{tmp}``;
    ``demo_args`` follow ``--demo`` (e.g. ``("vtl", "--path", DIR)``); ``wrap`` runs it under a
    command such as ``("prlimit", "--nofile=256")``; ``tgt_config``: serve that targets.conf instead."""
    port = free_port()
    log = tmp / f"hptd-{port}.log"
    if tgt_config is not None:
        args = ["--tgt-config", str(tgt_config), "--portal", f"127.0.0.1:{port}", "--control-socket", ""]
    elif demo:
        args = ["--demo", *demo_args, "--portal", f"127.0.0.1:{port}"]
    else:
        cfg = tmp / f"hptd-{port}.toml"
        cfg.write_text((config_text or "").replace("{port}", str(port)).replace("{tmp}", str(tmp)))
        args = ["--config", str(cfg)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    fh = log.open("w")
    proc = subprocess.Popen([*wrap, sys.executable, "-m", "hpt.daemon", *args], stdout=subprocess.PIPE,
                            stderr=fh, text=True, env=env, cwd=tmp)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hptd exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Hptd(proc, port, log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"hptd did not listen on {port} within 30 s:\n{log.read_text()}")


def hptadm(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run hptadm against the hptd whose configuration has ``control_socket = "{tmp}/control.sock"``."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HPT_CONTROL_SOCKET=str(tmp / "control.sock"))
    r = subprocess.run([sys.executable, "-m", "hpt.admin.main", *args], capture_output=True, text=True,
                       timeout=90, env=env)
    if check:
        assert r.returncode == 0, f"hptadm {' '.join(args)}: {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def one_lun_config(iqn: str, lun: str, head: str = "") -> str:
    """hptd's configuration text: ``head`` (tables such as ``[limits]``), a loopback portal on ``{port}``
    and target ``iqn`` whose LUN 1 has the TOML lines ``lun`` (``{tmp}`` names the test's directory)."""
    body = "\n".join(f"  {line.strip()}" for line in lun.strip().splitlines())
    return (f'{head}\n[[portal]]\naddress = "127.0.0.1:{{port}}"\n\n[[target]]\nname = "{iqn}"\n'
            f"  [[target.lun]]\n  lun = 1\n{body}\n")


def reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
