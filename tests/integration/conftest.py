"""Fixtures: hptd on loopback with a fully provisioned and a thin LUN, plus CHAP targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .hptd import Hptd, start_hptd

FULL = "iqn.2026-11.org.hpt.test:full"
THIN = "iqn.2026-11.org.hpt.test:thin"
CHAP = "iqn.2026-11.org.hpt.test:chap"
MUTUAL = "iqn.2026-11.org.hpt.test:mutual"

CONFIG = f"""
[daemon]
log_level = "info"

[[portal]]
address = "127.0.0.1:{{port}}"

[[account]]
name = "alice"
secret = "alice-secret-1234"

[[account]]
name = "target-user"
secret = "target-secret-5678"

[[target]]
name = "{FULL}"
  [[target.lun]]
  lun = 1
  store = "file"
  path = "/dev/shm/hpt-test-full-{{port}}.img"
  size = "256M"

[[target]]
name = "{THIN}"
  [[target.lun]]
  lun = 1
  store = "file"
  path = "/dev/shm/hpt-test-thin-{{port}}.img"
  size = "256M"
  thin = true
  block_size = 4096

[[target]]
name = "{CHAP}"
incoming = ["alice"]
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "16M"

[[target]]
name = "{MUTUAL}"
incoming = ["alice"]
outgoing = "target-user"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "16M"
"""


@pytest.fixture(scope="session")
def hptd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hptd]:
    tmp: Path = tmp_path_factory.mktemp("hptd")
    d = start_hptd(tmp, CONFIG)
    try:
        yield d
    finally:
        rc = d.stop()
        for f in Path("/dev/shm").glob(f"hpt-test-*-{d.port}.img"):
            f.unlink()
        assert rc == 0, f"hptd exited with {rc} on SIGTERM:\n{d.log_text()[-4000:]}"
        assert "Traceback" not in d.log_text(), d.log_text()[-4000:]
