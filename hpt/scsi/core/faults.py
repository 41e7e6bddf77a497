"""Injected faults: commands of a LU that fail or misbehave on purpose, so an initiator's error paths can
be tested against a real target (``lun.inject`` on the control socket, ``docs/testing.md``).

A :class:`Fault` names the commands it hits (``op``: ``read``, ``write`` or ``any``, by the command's
reservation access class, and an LBA range) and what happens to them (``error``). Commands that never
meet a reservation (INQUIRY, REPORT LUNS, REQUEST SENSE, READ CAPACITY ...) are never hit, so the
initiator can still find and inspect the LU. A LU holds its faults as one immutable :class:`Faults`, or
None, which is what keeps the command path free of any cost while no fault is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpt.scsi.core.command import BUSY, DISCONNECT, TASK_SET_FULL, ScsiResult
from hpt.scsi.core.constants import (
    INTERNAL_TARGET_FAILURE,
    LU_NOT_READY_CAUSE_NOT_REPORTABLE,
    UNRECOVERED_READ_ERROR,
    WRITE_ERROR,
    Asc,
    Status,
)
from hpt.scsi.core.opcodes import Access, OpcodeEntry
from hpt.scsi.core.sense import build_sense

OPS = {"read": (Access.READ,), "write": (Access.WRITE,), "any": (Access.READ, Access.WRITE, Access.CONFLICT)}
SENSE_ERRORS = ("medium", "hardware", "not_ready")
STATUS_ERRORS = {"busy": BUSY, "task_set_full": TASK_SET_FULL, "drop": DISCONNECT}
ERRORS = (*SENSE_ERRORS, *STATUS_ERRORS, "delay:SECONDS")
MAX_DELAY = 3600.0
MAX_LBA = (1 << 64) - 1


class FaultError(ValueError):
    """A fault that cannot be: the message says which parameter and why."""


@dataclass(frozen=True, slots=True)
class Fault:
    """Commands of class ``op`` touching LBAs ``first``..``last`` (inclusive) end with ``error``;
    ``delay`` (seconds) is set for ``delay:SECONDS``, whose commands run normally but answer late."""

    op: str
    first: int
    last: int
    error: str
    delay: float = 0.0

    @classmethod
    def parse(cls, op: object, lba: object, error: object) -> Fault:
        """A fault from its three parameters as a caller gives them (``lba``: ``[first, last]`` or None
        for every block); :class:`FaultError` says what is wrong."""
        if op not in OPS:
            raise FaultError(f"op must be one of {', '.join(OPS)}, got {op!r}")
        first, last = _lba_range(lba)
        if not isinstance(error, str):
            raise FaultError(f"error must be one of {', '.join(ERRORS)}, got {error!r}")
        kind, sep, seconds = error.partition(":")
        if kind == "delay" and sep:
            return cls(str(op), first, last, "delay", _seconds(seconds))
        if sep or (kind not in SENSE_ERRORS and kind not in STATUS_ERRORS):
            raise FaultError(f"error must be one of {', '.join(ERRORS)}, got {error!r}")
        return cls(str(op), first, last, kind)

    def hits(self, entry: OpcodeEntry, cdb: bytes | memoryview) -> int | None:
        """The first LBA of this command the fault hits (0 for a command that addresses no blocks, hit
        only by a fault over every block), or None when the command is not hit."""
        if entry.access not in OPS[self.op]:
            return None
        if entry.span is None:
            return 0 if self.first == 0 and self.last == MAX_LBA else None
        lba, end, _ = entry.span(cdb)
        if end <= lba:  # no blocks (a transfer length of 0)
            return None
        if lba > self.last or end - 1 < self.first:
            return None
        return max(lba, self.first)

    def result(self, entry: OpcodeEntry, lba: int | None, descriptor: bool) -> ScsiResult | None:
        """The command's result; None for a delay (the command runs, its answer waits)."""
        if self.error in STATUS_ERRORS:
            return STATUS_ERRORS[self.error]
        if self.error == "delay":
            return None
        asc: Asc
        if self.error == "medium":
            asc = WRITE_ERROR if entry.access == Access.WRITE else UNRECOVERED_READ_ERROR
        elif self.error == "hardware":
            asc = INTERNAL_TARGET_FAILURE
        else:
            asc = LU_NOT_READY_CAUSE_NOT_REPORTABLE
        info = lba if self.error == "medium" and entry.span is not None else None
        return ScsiResult(Status.CHECK_CONDITION, build_sense(asc, descriptor, info=info))

    def as_dict(self) -> dict[str, object]:
        every = self.first == 0 and self.last == MAX_LBA
        error = f"delay:{self.delay:g}" if self.error == "delay" else self.error
        return {"op": self.op, "lba": None if every else [self.first, self.last], "error": error}


@dataclass(frozen=True, slots=True)
class Faults:
    """A LU's faults, in the order they were set: the first that hits a command decides."""

    faults: tuple[Fault, ...]

    def find(self, entry: OpcodeEntry, cdb: bytes | memoryview) -> tuple[Fault, int | None] | None:
        """The fault that hits this command and the first LBA it hits, or None."""
        for fault in self.faults:
            lba = fault.hits(entry, cdb)
            if lba is not None:
                return fault, lba if entry.span is not None else None
        return None

    def adding(self, fault: Fault) -> Faults:
        return Faults((*self.faults, fault))


def _lba_range(lba: object) -> tuple[int, int]:
    if lba is None:
        return 0, MAX_LBA
    if not isinstance(lba, Sequence) or isinstance(lba, str) or len(lba) != 2:
        raise FaultError(f"lba must be a (first, last) pair or None for every block, got {lba!r}")
    first, last = lba
    for value in (first, last):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LBA:
            raise FaultError(f"lba must hold two block numbers 0..2**64-1, got {lba!r}")
    if first > last:
        raise FaultError(f"lba: the first block {first} is after the last {last}")
    return first, last


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise FaultError(f"delay wants seconds (delay:0.5), got {text!r}") from None
    if not 0 <= seconds <= MAX_DELAY:  # also refuses nan
        raise FaultError(f"delay must be 0..{MAX_DELAY:g} seconds, got {text}")
    return seconds
