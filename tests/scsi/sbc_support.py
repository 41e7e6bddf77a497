"""Helpers for the SBC tests: a disk LU over a RAM store, CDB builders and a reply wrapper."""

from __future__ import annotations

import struct
from dataclasses import replace

from hpt.scsi.core.command import Nexus, ScsiCommand
from hpt.scsi.core.constants import Status
from hpt.scsi.core.opcodes import OpcodeTable
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.sbc.profile import DISK
from hpt.scsi.sbc.table import SBC_ENTRIES, disk_table
from hpt.store.base import BackingStore
from hpt.store.ram import RamStore
from tests.scsi.conftest import Reply as SpcReply

NEXUS = Nexus("iqn.1994-05.com.example:a,i,0x1", "iqn.2024-01.org.hpt:t,t,0x1", "iqn.1994-05.com.example:a")
OTHER = Nexus("iqn.1994-05.com.example:b,i,0x2", "iqn.2024-01.org.hpt:t,t,0x1", "iqn.1994-05.com.example:b")
BS = 512
NBLOCKS = 2048  # 1 MiB


class RecordingStore(RamStore):
    """A RAM store that records its sync calls."""

    def __init__(self, size: int, readonly: bool = False) -> None:
        super().__init__(size, readonly)
        self.syncs: list[tuple[int, int]] = []

    def sync(self, offset: int = 0, length: int = 0) -> None:
        self.syncs.append((offset, length))


class Reply(SpcReply):
    """The SPC tests' reply, plus the INFORMATION field of fixed-format sense."""

    @property
    def info(self) -> int | None:
        sense = self.result.sense
        return struct.unpack_from(">I", sense, 3)[0] if sense[0] & 0x80 else None


class Disk:
    """A disk LU with the SBC table only (SPC commands are tested on their own), or with
    ``spc=True`` the full disk table ``make_disk`` builds."""

    def __init__(self, store: BackingStore | None = None, *, spc: bool = False, **params: object) -> None:
        self.store = store if store is not None else RecordingStore(NBLOCKS * BS)
        lu_params = LuParams(**params)  # type: ignore[arg-type]
        table = disk_table(lu_params) if spc else OpcodeTable(SBC_ENTRIES)
        self.lu = LogicalUnit(replace(DISK, table=lambda _: table), lu_params, self.store)
        for nexus in (NEXUS, OTHER):
            self.lu.ua.clear(nexus.initiator_port)

    def run(self, cdb: bytes, data: bytes | None = None, *, alloc: int = 0, expected_out: int | None = None,
            nexus: Nexus = NEXUS) -> Reply:
        buf = bytearray(alloc)
        cmd = ScsiCommand(0, cdb, nexus, data_out=None if data is None else memoryview(bytearray(data)),
                          data_in=memoryview(buf) if alloc else None, expected_in=alloc,
                          expected_out=len(data or b"") if expected_out is None else expected_out)
        result = self.lu.execute(cmd)
        return Reply(result, bytes(buf[:min(result.in_len, alloc)]))

    def write(self, lba: int, data: bytes) -> None:
        reply = self.run(cdb16(0x8A, lba, len(data) // BS), data)
        assert reply.status == Status.GOOD, reply.result

    def read(self, lba: int, n: int) -> bytes:
        reply = self.run(cdb16(0x88, lba, n), alloc=n * BS)
        assert reply.status == Status.GOOD, reply.result
        return reply.data


def cdb6(op: int, lba: int, n: int) -> bytes:
    return struct.pack(">BBHBx", op, lba >> 16 & 0x1F, lba & 0xFFFF, n & 0xFF)


def cdb10(op: int, lba: int, n: int, b1: int = 0) -> bytes:
    return struct.pack(">BBIxHx", op, b1, lba & 0xFFFFFFFF, n)


def cdb12(op: int, lba: int, n: int, b1: int = 0) -> bytes:
    return struct.pack(">BBIIxx", op, b1, lba & 0xFFFFFFFF, n)


def cdb16(op: int, lba: int, n: int, b1: int = 0) -> bytes:
    return struct.pack(">BBQIxx", op, b1, lba & 0xFFFFFFFFFFFFFFFF, n)


def sa16(sa: int, lba: int, alloc: int) -> bytes:
    """SERVICE ACTION IN(16) (9Eh): READ CAPACITY(16) 10h, GET LBA STATUS 12h."""
    return struct.pack(">BBQIxx", 0x9E, sa, lba, alloc)
