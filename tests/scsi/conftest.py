"""Fixtures for the SCSI core tests: a target whose LUs are built from ``SPC_ENTRIES`` (plus
entries a test adds), and initiators (one I_T nexus each) that run CDBs and decode the replies.

``make_lu(..., extra=SBC_ENTRIES)`` builds a LU of any table; ``Initiator.run`` returns a
:class:`Reply` with the status, the data-in bytes and the decoded sense.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pytest

from hpt.scsi.core.command import GOOD, Nexus, ScsiCommand, ScsiResult, TaskAttr
from hpt.scsi.core.constants import Asc, DeviceType, Status
from hpt.scsi.core.opcodes import Access, OpcodeEntry, OpcodeTable
from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.core.sense import parse_sense
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.sbc.profile import DISK
from hpt.scsi.spc.commands import SPC_ENTRIES
from hpt.scsi.spc.mode import GENERIC_MEDIUM
from hpt.scsi.target import ScsiTarget
from hpt.store.base import BackingStore

TARGET_NAME = "iqn.2024-01.org.hpt:test"
HOST_A = "iqn.1994-05.com.example:host-a"
HOST_B = "iqn.1994-05.com.example:host-b"
HOST_C = "iqn.1994-05.com.example:host-c"
BLOCK = 512
NBLOCKS = 2048


def make_nexus(name: str, isid: int, rtpi: int = 1) -> Nexus:
    """An iSCSI I_T nexus: ``<name>,i,0x<isid>`` to ``<target>,t,0x<rtpi>`` (RFC 7143 4.2.7)."""
    return Nexus(f"{name},i,0x{isid:012x}", f"{TARGET_NAME},t,0x{rtpi:04x}", name, isid, rtpi)


class MemStore(BackingStore):
    """A bytearray store; ``path`` (optional) stands for a backing file's name (its LU's state is kept
    beside it)."""

    def __init__(self, size: int = BLOCK * NBLOCKS, path: str | None = None) -> None:
        self.size = size
        self.buf = bytearray(size)
        self.path = path

    def state_path(self, suffix: str) -> str | None:
        return None if self.path is None else self.path + suffix

    def read_into(self, offset: int, buf: memoryview) -> None:
        buf[:] = self.buf[offset : offset + len(buf)]

    def write_from(self, offset: int, buf: memoryview) -> None:
        self.buf[offset : offset + len(buf)] = buf

    def sync(self, offset: int = 0, length: int = 0) -> None:
        return None


def _no_op(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    return GOOD


# Stand-ins for medium commands, for reservation conflict tests without the SBC code.
MEDIUM_ENTRIES = [
    OpcodeEntry(0x28, "READ(10)", _no_op, 10, Access.READ),
    OpcodeEntry(0x2A, "WRITE(10)", _no_op, 10, Access.WRITE),
    OpcodeEntry(0x1E, "PREVENT ALLOW MEDIUM REMOVAL", _no_op, 6, Access.WRITE),
]
READ10 = bytes((0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0))
WRITE10 = bytes((0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0))
TUR = bytes(6)


def other_profile(device_type: DeviceType, **fields: object) -> DeviceProfile:
    """A profile of another device type with SPC's pages only (no disk pages, no block descriptor)."""
    base: dict[str, object] = {"name": device_type.name.lower(), "device_type": device_type,
                               "medium": GENERIC_MEDIUM, "vpd_pages": (), "mode_pages": (), "versions": (),
                               "ready": None, "reset": None}
    return replace(DISK, **{**base, **fields})  # type: ignore[arg-type]


def make_lu(lun: int = 0, extra: Iterable[OpcodeEntry] = MEDIUM_ENTRIES, store: BackingStore | None = None,
            profile: DeviceProfile = DISK, **params: object) -> LogicalUnit:
    """A LU of ``profile`` (the disk's pages) with SPC_ENTRIES plus ``extra`` as its table, over a
    MemStore unless ``store`` is given."""
    table = OpcodeTable(SPC_ENTRIES).extend(extra)
    profile = replace(profile, table=lambda _: table)
    return LogicalUnit(profile, LuParams(**params), MemStore() if store is None else store,  # type: ignore[arg-type]
                       lun=lun)


@dataclass
class Reply:
    result: ScsiResult
    data: bytes

    @property
    def status(self) -> int:
        return self.result.status

    @property
    def good(self) -> bool:
        return self.result.status == Status.GOOD

    @property
    def asc(self) -> Asc:
        assert self.result.status == Status.CHECK_CONDITION, self.result
        return parse_sense(self.result.sense)

    @property
    def sks(self) -> tuple[int, int | None, bool]:
        """(field pointer, bit or None, C/D) of fixed-format sense-key specific data."""
        sense = self.result.sense
        assert sense[0] & 0x7F == 0x70 and sense[15] & 0x80, f"no sense-key specific data: {sense.hex()}"
        bit = sense[15] & 0x07 if sense[15] & 0x08 else None
        return struct.unpack_from(">H", sense, 16)[0], bit, bool(sense[15] & 0x40)


class Initiator:
    """One I_T nexus to a target."""

    def __init__(self, target: ScsiTarget, nexus: Nexus) -> None:
        self.target = target
        self.nexus = nexus

    @property
    def port(self) -> str:
        return self.nexus.initiator_port

    def run(self, cdb: bytes | Iterable[int], data: bytes | None = None, *, alloc: int = 4096,
            lun: int = 0, attr: TaskAttr = TaskAttr.SIMPLE) -> Reply:
        buf = bytearray(alloc)
        out = None if data is None else memoryview(bytearray(data))
        cmd = ScsiCommand(lun, bytes(cdb), self.nexus, attr=attr, data_out=out, data_in=memoryview(buf),
                          expected_in=alloc, expected_out=0 if data is None else len(data))
        result = self.target.execute(cmd)
        return Reply(result, bytes(buf[: min(result.in_len, alloc)]))

    def clear_ua(self) -> None:
        for lun in self.target.luns():
            lu = self.target.lu(lun)
            assert lu is not None
            lu.ua.clear(self.port)


@pytest.fixture
def target() -> ScsiTarget:
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(make_lu(0))
    return t


@pytest.fixture
def lu(target: ScsiTarget) -> LogicalUnit:
    lu0 = target.lu(0)
    assert lu0 is not None
    return lu0


def _initiator(target: ScsiTarget, name: str, isid: int) -> Initiator:
    ini = Initiator(target, make_nexus(name, isid))
    ini.clear_ua()
    return ini


@pytest.fixture
def a(target: ScsiTarget) -> Initiator:
    return _initiator(target, HOST_A, 0x23D000000001)


@pytest.fixture
def b(target: ScsiTarget) -> Initiator:
    return _initiator(target, HOST_B, 0x23D000000002)


@pytest.fixture
def c(target: ScsiTarget) -> Initiator:
    return _initiator(target, HOST_C, 0x23D000000003)
