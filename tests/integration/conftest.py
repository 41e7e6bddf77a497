"""Fixtures: hptd on loopback with a fully provisioned and a thin LUN, the rest of the conformance LUN
matrix (512 B on 4096 B physical blocks, read-only thin, removable, sanitize), plus CHAP targets; every
target is served through two portals, portal groups 1 and 2 on two loopback ports (``Hptd.port`` and
``portal2``), two target port groups for libiscsi's MultipathIO tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .hptd import Hptd, free_port, start_hptd

FULL = "iqn.2026-11.org.hpt.test:full"
THIN = "iqn.2026-11.org.hpt.test:thin"
CHAP = "iqn.2026-11.org.hpt.test:chap"
MUTUAL = "iqn.2026-11.org.hpt.test:mutual"
E512 = "iqn.2026-11.org.hpt.test:e512"  # 512 B logical on 4096 B physical blocks, thin, atomic writes
READONLY = "iqn.2026-11.org.hpt.test:readonly"
REMOVABLE = "iqn.2026-11.org.hpt.test:removable"
SANITIZE = "iqn.2026-11.org.hpt.test:sanitize"  # paced, so a SANITIZE is seen in progress

CONFIG = f"""
[daemon]
log_level = "info"

[[portal]]
address = "127.0.0.1:{{port}}"

[[portal]]
address = "127.0.0.1:{{port2}}"
group = 2

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
name = "{E512}"
  [[target.lun]]
  lun = 1
  store = "file"
  path = "/dev/shm/hpt-test-e512-{{port}}.img"
  size = "64M"
  thin = true
  physical_block_size = 4096
  max_xfer_blocks = 65536

[[target]]
name = "{READONLY}"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "16M"
  thin = true
  readonly = true

[[target]]
name = "{REMOVABLE}"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "64M"
  removable = true

[[target]]
name = "{SANITIZE}"
  [[target.lun]]
  lun = 1
  store = "file"
  path = "/dev/shm/hpt-test-sanitize-{{port}}.img"
  size = "16M"
  thin = true
  sanitize_rate = 2097152
  encryption_key_file = "{{tmp}}/sanitize.key"

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
def portal2() -> int:
    """The TCP port of the fixture hptd's second portal (portal group 2)."""
    return free_port()


@pytest.fixture(scope="session")
def hptd(tmp_path_factory: pytest.TempPathFactory, portal2: int) -> Iterator[Hptd]:
    tmp: Path = tmp_path_factory.mktemp("hptd")
    d = start_hptd(tmp, CONFIG.replace("{port2}", str(portal2)))
    try:
        yield d
    finally:
        rc = d.stop()
        for f in Path("/dev/shm").glob(f"hpt-test-*-{d.port}.img"):
            f.unlink()
        assert rc == 0, f"hptd exited with {rc} on SIGTERM:\n{d.log_text()[-4000:]}"
        assert "Traceback" not in d.log_text(), d.log_text()[-4000:]
