"""Fixtures for the changer tests: a library of 8 slots, 1 import/export slot and 2 fake drives
(``FakeDrive``, a MediumDrive that records loads), the changer at LUN 0 of a target."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.scsi.core.constants import MEDIUM_REMOVAL_PREVENTED, Asc, SenseKey
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.smc.changer import Changer
from hpt.scsi.smc.elements import Cartridge, DriveSlot, layout
from hpt.scsi.smc.profile import CHANGER, make_changer
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import HOST_A, HOST_B, TARGET_NAME, Initiator, make_nexus

MEDIUM_FORMAT_CORRUPTED = Asc(SenseKey.MEDIUM_ERROR, 0x31, 0x00)
SLOT0, IE0, DRIVE0, DRIVE1 = 1000, 1008, 1009, 1010  # the addresses of the 8/1/2 layout


class FakeDrive:
    """A MediumDrive: refuses to unload while ``prevented``, to load a file named ``bad``."""

    def __init__(self, serial: str) -> None:
        self.serial = serial
        self.prevented = False
        self.medium: Path | None = None
        self.history: list[str] = []

    @property
    def loaded(self) -> Path | None:
        return self.medium

    def load(self, medium: Path) -> None:
        assert self.medium is None, "loaded twice"
        if medium.name == "bad":
            raise SenseError(MEDIUM_FORMAT_CORRUPTED)
        self.medium = medium
        self.history.append(f"load {medium.name}")

    def unload(self) -> Path:
        if self.prevented:
            raise SenseError(MEDIUM_REMOVAL_PREVENTED)
        assert self.medium is not None
        medium, self.medium = self.medium, None
        self.history.append(f"unload {medium.name}")
        return medium

    def identifier(self) -> bytes:
        """A T10 vendor ID designator in ASCII: vendor, product, serial (34 bytes)."""
        ident = b"HPT     " + b"VIRTUAL-TAPE    " + self.serial.encode().ljust(10)
        return bytes((0x02, 0x01, 0x00, len(ident))) + ident


def barcode(i: int) -> str:
    return f"HPT{i + 1:03d}L6"


def new_changer(drives: list[FakeDrive], full: int = 8) -> Changer:
    changer = Changer(layout(8, 1, len(drives)), [DriveSlot(d, i + 1) for i, d in enumerate(drives)])
    for i in range(full):
        changer.place(changer.elements[1 + i], Cartridge(barcode(i), Path(f"/media/{barcode(i)}")))
    return changer


@pytest.fixture
def drives() -> list[FakeDrive]:
    return [FakeDrive("DRV0"), FakeDrive("DRV1")]


@pytest.fixture
def changer(drives: list[FakeDrive]) -> Changer:
    return new_changer(drives)


@pytest.fixture
def lu(changer: Changer) -> LogicalUnit:
    target = ScsiTarget(TARGET_NAME)
    lu = make_changer(0, LuParams(product=CHANGER.product), changer)
    target.add_lu(lu)
    return lu


def _initiator(lu: LogicalUnit, name: str, isid: int) -> Initiator:
    assert lu.target is not None
    ini = Initiator(lu.target, make_nexus(name, isid))
    ini.clear_ua()
    return ini


@pytest.fixture
def a(lu: LogicalUnit) -> Initiator:
    return _initiator(lu, HOST_A, 0x23D000000001)


@pytest.fixture
def b(lu: LogicalUnit) -> Initiator:
    return _initiator(lu, HOST_B, 0x23D000000002)


def move(src: int, dst: int, transport: int = 0, invert: int = 0) -> bytes:
    """A MOVE MEDIUM CDB."""
    return bytes((0xA5, 0, *transport.to_bytes(2, "big"), *src.to_bytes(2, "big"), *dst.to_bytes(2, "big"),
                  0, 0, invert, 0))


def exchange(src: int, first: int, second: int, transport: int = 0, invert: int = 0) -> bytes:
    """An EXCHANGE MEDIUM CDB."""
    return bytes((0xA6, 0, *transport.to_bytes(2, "big"), *src.to_bytes(2, "big"), *first.to_bytes(2, "big"),
                  *second.to_bytes(2, "big"), invert, 0))


def read_element_status(kind: int = 0, start: int = 0, count: int = 0xFFFF, alloc: int = 0xFFFF, *,
                        voltag: bool = True, dvcid: bool = False) -> bytes:
    """A READ ELEMENT STATUS CDB."""
    return bytes((0xB8, kind | (0x10 if voltag else 0), *start.to_bytes(2, "big"), *count.to_bytes(2, "big"),
                  0x01 if dvcid else 0, *alloc.to_bytes(3, "big"), 0, 0))


def parse_status(data: bytes) -> tuple[dict[str, int], list[dict[str, object]]]:
    """Element status data decoded: the header's fields and one dict per descriptor."""
    header = {"first": int.from_bytes(data[0:2], "big"), "count": int.from_bytes(data[2:4], "big"),
              "bytes": int.from_bytes(data[5:8], "big")}
    out: list[dict[str, object]] = []
    off = 8
    while off + 8 <= len(data):
        kind, flags = data[off], data[off + 1]
        length = int.from_bytes(data[off + 2:off + 4], "big")
        body = int.from_bytes(data[off + 5:off + 8], "big")
        off += 8
        for d in range(off, off + body, length):
            desc = data[d:d + length]
            entry: dict[str, object] = {"type": kind, "address": int.from_bytes(desc[0:2], "big"),
                                        "flags": desc[2], "lun": desc[6], "svalid": bool(desc[9] & 0x80),
                                        "source": int.from_bytes(desc[10:12], "big"), "length": length}
            rest = desc[12:]
            if flags & 0x80:
                entry["barcode"] = rest[:32].decode().rstrip(" \0")
                rest = rest[36:]
            entry["ident"] = bytes(rest)
            out.append(entry)
        off += body
    return header, out
