"""An OSD LU over a store in a temporary directory, driven by the test initiator (tests/osd/initiator.py)
through LogicalUnit.execute: a bidirectional command gets separate Data-Out and Data-In buffers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.scsi.core.command import Nexus, ScsiCommand
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.osd.profile import OSD
from tests.osd.initiator import OsdClient, Reply

NEXUS = Nexus("iqn.2026-11.org.hpt.test:osd,i,0x1", "iqn.2026-11.org.hpt:osd,t,0x1", "iqn.test", 1)


def make_lu(path: Path) -> LogicalUnit:
    params = LuParams(product=OSD.product, serial="OSD1", extra={"path": path, "capacity": 0})
    return LogicalUnit(OSD, params, None, lun=0)


def transport(lu: LogicalUnit) -> object:
    def run(cdb: bytes, out: bytes, read: int) -> Reply:
        data_in = memoryview(bytearray(read)) if read else None
        cmd = ScsiCommand(0, cdb, NEXUS, data_out=memoryview(bytearray(out)) if out else None,
                          data_in=data_in, expected_in=read, expected_out=len(out))
        result = lu.execute(cmd)
        got = bytes(data_in[:min(result.in_len, read)]) if data_in is not None else b""
        return Reply(result.status, result.sense, got)
    return run


def opened(path: Path) -> tuple[LogicalUnit, OsdClient]:
    """A LU over the store at ``path`` and a client past its power-on unit attention."""
    unit = make_lu(path)
    client = OsdClient(transport(unit))  # type: ignore[arg-type]
    client.send(bytes(6))  # TEST UNIT READY: takes the power-on unit attention
    return unit, client


@pytest.fixture
def lu(tmp_path: Path) -> Iterator[LogicalUnit]:
    unit = make_lu(tmp_path / "objects")
    yield unit
    unit.state.store.close()


@pytest.fixture
def osd(lu: LogicalUnit) -> OsdClient:
    client = OsdClient(transport(lu))  # type: ignore[arg-type]
    client.send(bytes(6))  # TEST UNIT READY: takes the power-on unit attention
    return client
