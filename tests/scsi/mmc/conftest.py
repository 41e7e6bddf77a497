"""DVD drive LUs (LUN 0) over an ISO made with pycdlib, a blank DVD+R, or nothing; initiators to them."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pycdlib
import pytest

from hpt.media import disc
from hpt.options import resolve
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.mmc.profile import DVD
from hpt.scsi.params import COMMON_OPTIONS, lu_params
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import HOST_A, HOST_B, TARGET_NAME, Initiator, _initiator

BLOCK = 2048
HELLO = b"hello from a DVD\n" * 300  # 5100 bytes: three blocks


def make_iso(path: Path, files: dict[str, bytes] | None = None) -> Path:
    """An ISO 9660 image made by pycdlib holding ``files`` (ISO names such as ``/HELLO.TXT;1``)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident="HPTTEST")
    for name, data in (files or {"/HELLO.TXT;1": HELLO}).items():
        iso.add_fp(io.BytesIO(data), len(data), name)
    iso.write(str(path))
    iso.close()
    return path


def dvd_lu(path: Path | None, **keys: object) -> LogicalUnit:
    """A DVD LU whose keys are resolved through the common and the DVD schemas, as hptd does."""
    given = {"disc": None if path is None else str(path), **keys}
    return LogicalUnit(DVD, lu_params(DVD, resolve((*COMMON_OPTIONS, *DVD.options), given)), None, lun=0)


def cdb(opcode: int, size: int, **fields: tuple[int, str, int]) -> bytes:
    """A CDB of ``size`` bytes: ``name=(offset, struct format, value)`` fields."""
    buf = bytearray(size)
    buf[0] = opcode
    for offset, fmt, value in fields.values():
        struct.pack_into(fmt, buf, offset, value)
    return bytes(buf)


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba: int, blocks: int, fua: bool = False) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0x08 if fua else 0, lba, 0, blocks, 0)


@pytest.fixture
def iso(tmp_path: Path) -> Path:
    return make_iso(tmp_path / "DVD001.iso")


@pytest.fixture
def blank(tmp_path: Path) -> Path:
    path = tmp_path / "BLANK01"
    disc.create(path, 4096)  # 8 MiB
    return path


def _target(lu: LogicalUnit) -> ScsiTarget:
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(lu)
    return t


@pytest.fixture
def rom(iso: Path) -> ScsiTarget:
    return _target(dvd_lu(iso))


@pytest.fixture
def burner(blank: Path) -> ScsiTarget:
    return _target(dvd_lu(blank))


@pytest.fixture
def empty() -> ScsiTarget:
    return _target(dvd_lu(None))


@pytest.fixture
def a(rom: ScsiTarget) -> Initiator:
    return _initiator(rom, HOST_A, 0x23D000000001)


@pytest.fixture
def b(rom: ScsiTarget) -> Initiator:
    return _initiator(rom, HOST_B, 0x23D000000002)


@pytest.fixture
def w(burner: ScsiTarget) -> Initiator:
    return _initiator(burner, HOST_A, 0x23D000000001)


@pytest.fixture
def e(empty: ScsiTarget) -> Initiator:
    return _initiator(empty, HOST_A, 0x23D000000001)
