"""Opcode tables: each device type is a table of :class:`OpcodeEntry` over the shared SPC entries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpt.scsi.core.command import ScsiResult
    from hpt.store.base import BackingStore


# Opcodes whose service action sits in CDB byte 1 bits 4..0 (SPC-5 4.2.2 table 10).
SA_IN_BYTE1 = frozenset({0x5E, 0x5F, 0x7E, 0x83, 0x84, 0x9E, 0x9F, 0xA3, 0xA4, 0x48})
VARIABLE_LENGTH = 0x7F  # service action in bytes 8..9 (SPC-5 4.2.3)


class Access(IntEnum):
    """How a command meets a reservation (SPC-5 5.13.1 table 64, SPC-2 5.5.1 table 10)."""

    ALWAYS = 0  # INQUIRY, REPORT LUNS, REQUEST SENSE, PR IN/OUT ...: never a conflict
    READ = 1  # reads the medium: a conflict under Exclusive Access types only
    WRITE = 2  # changes the medium or LU state: a conflict under any reservation held by another
    CONFLICT = 3  # conflicts under any reservation held by another (e.g. MODE SENSE under SPC-2 RESERVE)


@dataclass(frozen=True, slots=True)
class OpcodeEntry:
    """One supported command: handler, name, CDB length, reservation access and RSOC usage data.

    ``usage`` is the CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES (SPC-5 6.35.3): the
    opcode byte followed by a bit mask of the CDB bits the handler looks at.
    ``ua_exempt`` marks INQUIRY, REPORT LUNS and REQUEST SENSE, which report no unit attention (SAM-5 5.14).
    """

    opcode: int
    name: str
    handler: Callable[..., ScsiResult]
    cdb_len: int
    access: Access = Access.WRITE
    service_action: int | None = None
    usage: bytes = b""
    ua_exempt: bool = False
    store_work: bool = False  # calls the store synchronously: runs off the transport's thread
    io: Callable[..., None] | None = None  # ``io(lu, cmd, complete)``: the asynchronous data path
    span: Callable[[bytes | memoryview], Span] | None = None  # the LBA range it touches (TaskSet)
    exclusive: bool = False  # it changes its range as a unit: no overlapping command runs beside it
    # ``quick(lu, cdb, buf)``: the fast lane on a store in memory (``LogicalUnit.quick``): the bytes
    # moved, or -1 to leave the command to the full path (which then gives any sense)
    quick: Callable[..., int] | None = None
    # ``streamed(lu, cmd, complete, stopped)``: ``io`` with the data in pieces (hpt.scsi.core.stream)
    streamed: Callable[..., None] | None = None
    # ``offered(store)``: whether a LU over this store offers the command (what the store can do, e.g.
    # SANITIZE CRYPTO ERASE); None: always. Decided once, when the LU is built (OpcodeTable.offered_by)
    offered: Callable[[BackingStore | None], bool] | None = None


#: (first LBA, end LBA, exclusive): the blocks a command touches; exclusive ones change them as a unit.
Span = tuple[int, int, bool]
NO_RANGE: Span = (0, 0, False)

NACA = 0x04  # CONTROL byte bit 2 (SAM-5 5.2): ACA on CHECK CONDITION, which hpt does not support


def control_offset(entry: OpcodeEntry) -> int:
    """Offset of the CDB's CONTROL byte (SPC-5 4.2.5): the last byte; byte 1 if variable-length."""
    return 1 if entry.opcode == VARIABLE_LENGTH else entry.cdb_len - 1


def service_action_of(cdb: bytes | memoryview) -> int | None:
    op = cdb[0]
    if op in SA_IN_BYTE1:
        return cdb[1] & 0x1F if len(cdb) > 1 else None
    if op == VARIABLE_LENGTH:
        return (cdb[8] << 8 | cdb[9]) if len(cdb) > 9 else None
    return None


class OpcodeTable:
    """Opcode (and service action) to entry; a device type builds one from SPC's plus its own."""

    def __init__(self, entries: Iterable[OpcodeEntry] = ()) -> None:
        self._plain: dict[int, OpcodeEntry] = {}
        self._sa: dict[int, dict[int, OpcodeEntry]] = {}
        for e in entries:
            self.add(e)

    def add(self, entry: OpcodeEntry) -> None:
        if entry.service_action is None:
            self._plain[entry.opcode] = entry
        else:
            self._sa.setdefault(entry.opcode, {})[entry.service_action] = entry

    def extend(self, entries: Iterable[OpcodeEntry]) -> OpcodeTable:
        for e in entries:
            self.add(e)
        return self

    def offered_by(self, store: BackingStore | None) -> OpcodeTable:
        """This table without the entries ``store`` cannot serve (their ``offered``); itself when none."""
        entries = list(self)
        keep = [e for e in entries if e.offered is None or e.offered(store)]
        return self if len(keep) == len(entries) else OpcodeTable(keep)

    def lookup(self, cdb: bytes | memoryview) -> OpcodeEntry | None:
        """The entry for this CDB, or None (ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE)."""
        op = cdb[0]
        e = self._plain.get(op)
        if e is not None:
            return e
        sas = self._sa.get(op)
        if sas is None:
            return None
        sa = service_action_of(cdb)
        return None if sa is None else sas.get(sa)

    def has_service_actions(self, opcode: int) -> bool:
        return opcode in self._sa

    def get(self, opcode: int, service_action: int | None = None) -> OpcodeEntry | None:
        if service_action is None:
            return self._plain.get(opcode)
        return self._sa.get(opcode, {}).get(service_action)

    def __iter__(self) -> Iterator[OpcodeEntry]:
        """Every entry, sorted by opcode then service action."""
        items = list(self._plain.values())
        for sas in self._sa.values():
            items.extend(sas.values())
        return iter(sorted(items, key=lambda e: (e.opcode, e.service_action or 0)))
