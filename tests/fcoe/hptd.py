"""hptd with one FCoE port, started inside a network namespace for the netns and lab tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from ci.lab.netns import NetNamespace

REPO = Path(__file__).resolve().parents[2]
TARGET_NAME = "iqn.2026-11.org.hpt:fcoe"


def fcoe_config(
    interface: str,
    initiators: list[str],
    luns: int = 1,
    size: str = "16M",
    directory: Path | None = None,
    mode: str = "vn2vn",
) -> str:
    """A configuration with one target of ``luns`` LUNs (RAM, or sparse files in ``directory``) and
    one port (``mode`` VN2VN or fabric) on ``interface`` for the ``initiators`` WWPNs."""
    tables = []
    for n in range(luns):
        store = f'store = "file"\n  path = "{directory / f"lun{n}.img"}"' if directory else 'store = "ram"'
        tables.append(f'  [[target.lun]]\n  lun = {n}\n  {store}\n  size = "{size}"\n')
    allowed = ", ".join(f'"{wwpn}"' for wwpn in initiators)
    return (
        f'[[portal]]\naddress = "127.0.0.1:3260"\n\n[[target]]\nname = "{TARGET_NAME}"\n{"".join(tables)}\n'
        f'[[fcoe_port]]\ninterface = "{interface}"\nmode = "{mode}"\ntargets = ["{TARGET_NAME}"]\n'
        f"initiators = [{allowed}]\n"
    )


@contextlib.contextmanager
def running_hptd(ns: NetNamespace, workdir: Path, config: str) -> Iterator[subprocess.Popen[str]]:
    """hptd in ``ns`` until the block ends (SIGTERM, which must end it with status 0 and no traceback)."""
    path = workdir / "hptd.toml"
    path.write_text(config)
    log = workdir / "hptd.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        ns.exec_argv([sys.executable, "-m", "hpt.daemon", "--config", str(path)]),
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    try:
        ready = proc.stdout.readline().strip()
        assert ready == TARGET_NAME, f"hptd did not start: {log.read_text()}"
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        text = log.read_text()
        assert "Traceback" not in text, text
