"""One hptd process: started in a session of its own with its own control socket, waited for until the
socket answers, stopped with SIGTERM (SIGKILL after a grace period)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hpt.admin.client import AdminError, Client

START_TIMEOUT = 30.0
STOP_GRACE = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_session(proc: subprocess.Popen[bytes], grace: float) -> int:
    """Stop a process started with ``start_new_session``: SIGTERM to its process group, SIGKILL after
    ``grace`` seconds; its exit status."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


class Hptd:
    """``python -m hpt.daemon ARGS --control-socket SOCKET``, logging to ``log``."""

    def __init__(self, args: list[str], control_socket: Path, log: Path, cwd: Path) -> None:
        self.control_socket = control_socket
        self.log = log
        with log.open("ab") as out:
            argv = [sys.executable, "-m", "hpt.daemon", *args, "--control-socket", str(control_socket)]
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=cwd, start_new_session=True)

    def call(self, method: str, **params: Any) -> Any:
        """One control request (docs/control.md); :class:`AdminError` when hptd refuses it."""
        with Client(str(self.control_socket), timeout=60.0) as client:
            return client.call(method, params)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until the control socket answers (hptd opens it once its portals listen); RuntimeError with
        the log's tail when hptd exits or stays silent."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hptd exited with status {self.proc.returncode}:\n{self.log_tail()}")
            if self.control_socket.exists():
                try:
                    self.call("sys.show")
                    return
                except AdminError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"hptd did not answer on {self.control_socket} within {timeout:.0f} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.02)

    def stop(self, grace: float = STOP_GRACE) -> int:
        """SIGTERM (initiators are asked to log out), SIGKILL after ``grace`` seconds; the exit status."""
        return stop_session(self.proc, grace)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
