"""Starts test targets (the demo, or any configuration text) and stops every one it started."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hpt.testing.config import prepare
from hpt.testing.process import Hptd, free_port
from hpt.testing.target import Target


class Launcher:
    """Targets under ``base``: each in a directory of its own (configuration, log, files); control
    sockets in a short private directory (a Unix socket's path is limited to 107 bytes)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[Target] = []
        self._sockets: Path | None = None

    def demo(self) -> Target:
        """What ``hptd --demo`` serves (LUN 1 of ``iqn.2026-11.org.hpt:demo``, 1 GiB in RAM)."""
        port = free_port()
        return self._start(["--demo", "--portal", f"127.0.0.1:{port}"], self._directory(port))

    def from_config(self, text: str) -> Target:
        """hptd serving ``text`` (docs/config.md; ``{port}`` and ``{tmp}`` filled in, a loopback
        portal added when it declares none)."""
        port = free_port()
        directory = self._directory(port)
        config = directory / "hptd.toml"
        config.write_text(prepare(text, port, directory))
        return self._start(["--config", str(config)], directory)

    def stop_all(self) -> dict[Target, int]:
        """Stop every target started here; their exit statuses."""
        statuses = {target: target.stop() for target in self.started}
        self.started = []
        if self._sockets is not None:
            shutil.rmtree(self._sockets, ignore_errors=True)
            self._sockets = None
        return statuses

    def _directory(self, port: int) -> Path:
        directory = self.base / f"hptd-{port}"
        directory.mkdir(parents=True)
        return directory

    def _start(self, args: list[str], directory: Path) -> Target:
        if self._sockets is None:
            self._sockets = Path(tempfile.mkdtemp(prefix="hpt-"))
        hptd = Hptd(args, self._sockets / f"{directory.name}.sock", directory / "hptd.log", directory)
        try:
            hptd.wait_ready()
            target = Target(hptd, directory)
        except BaseException:
            hptd.stop()
            raise
        self.started.append(target)
        return target
