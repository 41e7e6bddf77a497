"""The tape drive's opcode table (SSC-4 5, table 2, as Linux ``st``, ``mt-st`` and Bacula use it).

One row per command: usage map (opcode and the CDB bits the handler evaluates, for REPORT SUPPORTED
OPERATION CODES), name, handler, reservation access. Every tape command locks the whole medium in the
task set (a tape has one position: two commands never run at once, so two initiators' WRITEs never
interleave) and runs under the drive's lock; the ones that read or write the cartridge file run on the
blocking pool, off the transport's thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from hpt.scsi.core.opcodes import Access, OpcodeEntry, OpcodeTable
from hpt.scsi.spc.commands import SPC_ENTRIES
from hpt.scsi.spc.removable import Handler, serial_row
from hpt.scsi.ssc import attributes, log_pages, medium, position, rw
from hpt.scsi.ssc.common import state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit, LuParams

R, W, A = Access.READ, Access.WRITE, Access.ALWAYS


def _lock(lu: LogicalUnit) -> threading.RLock:
    return state_of(lu).lock


def _row(usage: str, name: str, handler: Handler, access: Access, *, file: bool = True) -> OpcodeEntry:
    """``file``: the command reads or writes the cartridge file (runs on the blocking pool)."""
    return serial_row(usage, name, handler, access, _lock, medium_io=file)


SSC_ENTRIES: list[OpcodeEntry] = [
    _row("01 01 00 00 00 00", "REWIND", position.rewind, W),
    _row("05 01 00 00 00 00", "READ BLOCK LIMITS", medium.read_block_limits, A, file=False),
    _row("08 03 ff ff ff 00", "READ(6)", rw.read6, R),
    _row("0a 01 ff ff ff 00", "WRITE(6)", rw.write6, W),
    _row("10 03 ff ff ff 00", "WRITE FILEMARKS(6)", rw.write_filemarks6, W),
    _row("11 0f ff ff ff 00", "SPACE(6)", position.space6, R),
    _row("13 3f ff ff ff 00", "VERIFY(6)", rw.verify6, R),
    _row("19 03 00 00 00 00", "ERASE(6)", medium.erase, W),
    _row("1b 01 00 00 0f 00", "LOAD UNLOAD", medium.load_unload, W),
    _row("1e 00 00 00 03 00", "PREVENT ALLOW MEDIUM REMOVAL", medium.prevent_allow, W, file=False),
    _row("2b 07 00 ff ff ff ff 00 ff 00", "LOCATE(10)", position.locate10, R),
    _row("34 1f 00 00 00 00 00 ff ff 00", "READ POSITION", position.read_position, R, file=False),
    _row("44 03 00 00 00 00 00 ff ff 00", "REPORT DENSITY SUPPORT", medium.report_density_support, A,
         file=False),
    _row("4d 03 ff ff 00 ff ff ff ff 00", "LOG SENSE", log_pages.log_sense, A, file=False),
    _row("8c 1f 00 00 00 ff 00 ff ff ff ff ff ff ff 01 00", "READ ATTRIBUTE", attributes.read_attribute, A,
         file=False),
    _row("91 0f 00 00 ff ff ff ff ff ff ff ff ff ff 00 00", "SPACE(16)", position.space16, R),
    _row("92 3b 01 ff ff ff ff ff ff ff ff ff 00 00 00 00", "LOCATE(16)", position.locate16, R),
]


def tape_table(params: LuParams) -> OpcodeTable:
    """SPC's shared commands plus the tape commands."""
    return OpcodeTable(SPC_ENTRIES).extend(SSC_ENTRIES)
