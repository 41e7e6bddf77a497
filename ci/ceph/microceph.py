"""The throw-away Ceph of ``ci/ceph/micro-ceph.sh`` from Python: start, stop, run ``rbd``, pause a daemon.

Tests use it through the ``ceph`` fixture (``tests/rbd/conftest.py``); anyone can::

    from ci.ceph.microceph import MicroCeph
    with MicroCeph("/tmp/ceph") as ceph:
        ceph.rbd("create", "--size", "1G", "rbd/disk")
        ...  # store = "rbd", pool = "rbd", image = "disk", ceph_conf = ceph.conf
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

SCRIPT = Path(__file__).with_name("micro-ceph.sh")
TOOLS = {"ceph-mon": "ceph-mon", "ceph-osd": "ceph-osd", "ceph": "ceph-common", "rbd": "ceph-common",
         "rados": "ceph-common", "monmaptool": "ceph-base"}


def missing() -> str | None:
    """Why a cluster cannot start here (a tool not installed, not root), or None."""
    absent = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if absent:
        return f"Ceph is not installed (Debian packages {', '.join(absent)}; ci/test.sh installs them)"
    if os.geteuid() != 0:
        return "the throw-away Ceph runs as root"
    return None


class MicroCeph:
    """One monitor and one memstore OSD under ``directory`` (``micro-ceph.sh``), pool ``pool``."""

    def __init__(self, directory: str | Path, pool: str = "rbd") -> None:
        self.directory = Path(directory)
        self.pool = pool
        self.conf = str(self.directory / "ceph.conf")
        self.started = ""  # the script's last line: how long it took, the monitor's address

    def start(self) -> MicroCeph:
        proc = subprocess.run(["bash", str(SCRIPT), "start", str(self.directory), self.pool],
                              capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"micro-ceph.sh start failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        self.started = proc.stdout.strip().splitlines()[-1]
        return self

    def stop(self) -> None:
        if self.directory.exists():
            subprocess.run(["bash", str(SCRIPT), "stop", str(self.directory)], capture_output=True,
                           timeout=60, check=True)

    def __enter__(self) -> MicroCeph:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def rbd(self, *args: str) -> str:
        """Run ``rbd -c <conf> ARGS`` and return its output (CalledProcessError names what failed)."""
        proc = subprocess.run(["rbd", "-c", self.conf, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc.stdout

    def create(self, image: str, size: str = "64M", *options: str) -> str:
        """A new image ``pool/image`` of ``size`` (rbd's size syntax); returns its name."""
        self.rbd("create", "--size", size, *options, f"{self.pool}/{image}")
        return image

    def pid(self, daemon: str = "osd.0") -> int:
        return int((self.directory / "run" / f"{daemon}.pid").read_text())

    @contextmanager
    def paused(self, daemon: str = "osd.0") -> Iterator[None]:
        """The daemon stopped (SIGSTOP) inside the block: the cluster stops answering, as a dead
        one does, and answers again after it (SIGCONT)."""
        pid = self.pid(daemon)
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)
