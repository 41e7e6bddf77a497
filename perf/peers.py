"""The targets under test, each a private daemon on its own loopback port serving one LUN file.

* :class:`Tgtd`: Debian's ``tgtd -f -C N --iscsi portal=127.0.0.1:PORT`` with a private ``TGT_IPC_SOCKET``
  (so it never talks to another tgtd on the machine), configured with ``tgtadm``.
* :class:`Hptd`: ``python -m hpt.daemon --config FILE`` with a generated TOML configuration.

Every daemon runs in its own session: stopping it kills the whole process group, and its CPU time is
the sum over every process of that session (hptd's worker processes included).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.testing.process import free_port, stop_session

if TYPE_CHECKING:
    from perf.ceph import Image

LOOPBACK = "127.0.0.1"
IQN = "iqn.2026-11.org.hpt:perf"
LUN = 1
REPO = Path(__file__).resolve().parent.parent
KeyValue = str | int | bool


def session_cpu_seconds(sid: int) -> float:
    """User + system CPU seconds of every live process in session ``sid`` (from /proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:  # state ppid pgrp session ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


class Daemon:
    """A target daemon in its own session, logging to ``<workdir>/<name>.log``."""

    name = ""

    def __init__(self, workdir: Path, lun_file: Path | None, keys: dict[str, KeyValue],
                 direct: bool = False, *, rbd: Image | None = None) -> None:
        self.direct = direct  # open the LUN file O_DIRECT (a file on a real disk, not /dev/shm)
        self.workdir = workdir
        self.lun_file = lun_file
        self.rbd = rbd  # serve this Ceph image instead of a file (the rbd medium, perf/ceph.py)
        self.keys = keys
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    @property
    def fio_filename(self) -> str:
        """fio's libiscsi ``--filename``: ``:`` must be escaped, fio splits file names on it."""
        url = f"iscsi://{LOOPBACK}:{self.port}/{IQN}/{LUN}"
        return url.replace(":", "\\:")

    def start(self) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def cpu_seconds(self) -> float:
        return 0.0 if self.proc is None else session_cpu_seconds(self.proc.pid)

    def stop(self, grace: float = 5.0) -> None:
        """Kill the daemon's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.proc is None:
            return
        stop_session(self.proc, grace)
        self.proc = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    def _failed(self, what: str) -> RuntimeError:
        return RuntimeError(f"{self.name}: {what}; log {self.log_path}:\n{self.log_tail()}")

    def _wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise self._failed("exited during start-up")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.1)
        raise self._failed(f"not listening on {LOOPBACK}:{self.port} after {timeout:.0f} s")


class Tgtd(Daemon):
    """Debian's tgtd, LUN 1 on the rdwr backing store (an rbd image: the rbd one, ``bs_rbd`` of tgt-rbd,
    given the cluster's ``ceph.conf`` as ``--bsopts conf=...``), keys set with ``tgtadm ... --op update``."""

    name = "tgt"

    def __init__(self, workdir: Path, lun_file: Path | None, keys: dict[str, KeyValue],
                 direct: bool = False, *, rbd: Image | None = None) -> None:
        super().__init__(workdir, lun_file, keys, direct, rbd=rbd)
        self.control_port = os.getpid() % 10000
        self.env = os.environ | {"TGT_IPC_SOCKET": str(workdir / "tgtd.socket")}

    def version(self) -> str:
        out = subprocess.run(["tgtd", "-V"], capture_output=True, text=True, check=False)
        return f"tgtd {out.stdout.strip() or out.stderr.strip()}"

    def tgtadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["tgtadm", "-C", str(self.control_port), "--lld", "iscsi", *args]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise self._failed(f"{' '.join(argv)} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def start(self) -> None:
        if shutil.which("tgtd") is None or shutil.which("tgtadm") is None:
            raise RuntimeError("tgt: tgtd/tgtadm not found (apt-get install tgt)")
        argv = ["tgtd", "-f", "-C", str(self.control_port), "--iscsi", f"portal={LOOPBACK}:{self.port}"]
        self._spawn(argv, env=self.env)
        deadline = time.monotonic() + 15.0
        while self.tgtadm("--mode", "sys", "--op", "show", check=False).returncode != 0:
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                raise self._failed("management socket did not come up")
            time.sleep(0.1)
        tid = ("--tid", "1")
        self.tgtadm("--mode", "target", "--op", "new", *tid, "--targetname", IQN)
        self.tgtadm(
            "--mode",
            "logicalunit",
            "--op",
            "new",
            *tid,
            "--lun",
            str(LUN),
            *self._backing_store(),
        )
        self.tgtadm("--mode", "target", "--op", "bind", *tid, "--initiator-address", LOOPBACK)
        wanted = {k: ("Yes" if v else "No") if isinstance(v, bool) else str(v) for k, v in self.keys.items()}
        for key, text in wanted.items():
            self.tgtadm("--mode", "target", "--op", "update", *tid, "--name", key, "--value", text)
        shown = self.tgtadm("--mode", "target", "--op", "show", *tid).stdout.split()
        offered = dict(line.partition("=")[::2] for line in shown if "=" in line)
        for key, text in wanted.items():
            if offered.get(key) != text:
                raise self._failed(f"{key} is {offered.get(key)!r} after setting it to {text!r}")
        self._wait_listening()

    def _backing_store(self) -> tuple[str, ...]:
        if self.rbd is not None:
            return ("--bstype", "rbd", "--backing-store", self.rbd.spec, "--bsopts", f"conf={self.rbd.conf}")
        return ("--backing-store", str(self.lun_file), *(("--bsoflags", "direct") if self.direct else ()))

    def stop(self, grace: float = 0.5) -> None:
        """tgtd ignores SIGTERM while it has targets: delete them and shut it down through tgtadm. That
        fails while a killed initiator's I_T nexus lingers; then the process group is killed."""
        if self.proc is not None and self.proc.poll() is None:
            deleted = self.tgtadm("--mode", "target", "--op", "delete", "--tid", "1", "--force", check=False)
            if (
                deleted.returncode == 0
                and self.tgtadm("--mode", "sys", "--op", "delete", check=False).returncode == 0
            ):
                try:
                    self.proc.wait(5.0)
                except subprocess.TimeoutExpired:
                    pass
        super().stop(grace)


class Hptd(Daemon):
    """``python -m hpt.daemon --config FILE`` from this repository, serving the LUN file (or the rbd
    image: ``store = "rbd"``)."""

    name = "hpt"

    def __init__(self, workdir: Path, lun_file: Path | None, keys: dict[str, KeyValue],
                 direct: bool = False, lun_keys: dict[str, KeyValue] | None = None, *,
                 rbd: Image | None = None, workers: int = 1, event_loop: bool = True) -> None:
        super().__init__(workdir, lun_file, keys, direct, rbd=rbd)
        self.config_path = workdir / "hptd.toml"
        self.lun_keys = lun_keys or {}
        self.workers = workers
        self.event_loop = event_loop
        if workers > 1:
            self.name = f"hpt{workers}"  # [daemon] workers = N: its own row, beside hpt's
        if not event_loop:
            self.name += "t"  # [daemon] event_loop = false: a thread per busy connection

    def version(self) -> str:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        return f"hpt {head.stdout.strip() or 'unknown'} (python {sys.version.split()[0]})"

    def config_text(self) -> str:
        """The hptd configuration (docs/config.md) for this run."""
        lines = ["[daemon]", 'log_level = "warning"', f"workers = {self.workers}",  # never "auto": a row each
                 f"event_loop = {'true' if self.event_loop else 'false'}",
                 *(['control_socket = ""'] if self.workers > 1 else [])]
        if self.keys:
            lines.append("\n[iscsi]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in self.keys.items()]
        lines += [
            "\n[[portal]]",
            f'address = "{LOOPBACK}:{self.port}"',
            "\n[[target]]",
            f'name = "{IQN}"',
            "  [[target.lun]]",
            f"  lun = {LUN}",
            *self._store_lines(),
            *(f"  {k} = {_toml_value(v)}" for k, v in self.lun_keys.items()),
        ]
        return "\n".join(lines) + "\n"

    def _store_lines(self) -> list[str]:
        if self.rbd is not None:
            return ['  store = "rbd"', f"  pool = {_toml_value(self.rbd.pool)}",
                    f"  image = {_toml_value(self.rbd.name)}", f"  ceph_conf = {_toml_value(self.rbd.conf)}"]
        return ['  store = "file"', f"  path = {_toml_value(str(self.lun_file))}", "  block_size = 512",
                *(["  direct = true"] if self.direct else [])]

    def start(self) -> None:
        if importlib.util.find_spec("hpt.daemon") is None:
            raise RuntimeError("hpt: hpt.daemon is not available in this checkout")
        from hpt.daemon.config import ConfigError, parse_config

        text = self.config_text()
        try:
            parse_config(text, str(self.config_path))
        except ConfigError as err:
            raise RuntimeError(f"hpt: generated configuration rejected: {err}") from None
        self.config_path.write_text(text)
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        }
        self._spawn(
            [sys.executable, "-m", "hpt.daemon", "--config", str(self.config_path)], env=env, cwd=REPO
        )
        self._wait_listening()


def _toml_value(value: KeyValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
