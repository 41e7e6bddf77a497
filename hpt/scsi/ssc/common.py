"""What the tape command handlers share: CDB fields, results that carry data and sense, residues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, Status
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.core.command import ScsiCommand
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.ssc.state import TapeState

_EMPTY = memoryview(bytearray(0))


def u24(cdb: bytes | memoryview, offset: int) -> int:
    return cdb[offset] << 16 | cdb[offset + 1] << 8 | cdb[offset + 2]


def s24(cdb: bytes | memoryview, offset: int) -> int:
    """A signed 24-bit field (SPACE(6) COUNT: negative counts move toward beginning of partition)."""
    value = u24(cdb, offset)
    return value - (1 << 24) if value & 0x800000 else value


def state_of(lu: LogicalUnit) -> TapeState:
    return lu.state  # type: ignore[no-any-return]


def data_in(cmd: ScsiCommand) -> memoryview:
    return cmd.data_in if cmd.data_in is not None else _EMPTY


def data_out(cmd: ScsiCommand, nbytes: int) -> memoryview:
    """The write data, cut to what the CDB asks for (a shorter Data-Out gives fewer bytes)."""
    buf = cmd.data_out
    if buf is None:
        return _EMPTY
    return buf if len(buf) == nbytes else buf[:nbytes]


def result(lu: LogicalUnit, moved: int, err: SenseError | None) -> ScsiResult:
    """GOOD with ``moved`` data-in bytes, or CHECK CONDITION whose data-in (read before a filemark,
    a short block ...) still counts ``moved`` bytes (SSC-4)."""
    if err is None:
        return ScsiResult(Status.GOOD, in_len=moved) if moved else GOOD
    return ScsiResult(Status.CHECK_CONDITION, err.encode(lu.d_sense), in_len=moved)


def reject_fixed_without_length(fixed: bool, state: TapeState) -> None:
    """FIXED=1 while the drive is in variable-block mode (block length 0) is an invalid field."""
    if fixed and not state.block_length:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
