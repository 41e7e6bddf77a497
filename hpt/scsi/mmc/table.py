"""The DVD drive's opcode table (MMC-6, as Linux ``sr``/``cdrom``, ``cdrom_id``, ``growisofs`` and
``xorriso`` use it; tgt's MMC for comparison): one row per command, its CDB usage map (opcode and the
bits the handler reads, for REPORT SUPPORTED OPERATION CODES), name, handler and reservation access.

Every command runs under the drive's lock, exclusive in the task set (a drive has one disc and one
tray: a WRITE never interleaves with a CLOSE TRACK); the ones that read or write the disc file run on
the blocking pool. GET CONFIGURATION and GET EVENT STATUS NOTIFICATION report no unit attention, so a
polling initiator sees the media event itself.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from hpt.scsi.core.opcodes import Access, OpcodeEntry, OpcodeTable
from hpt.scsi.mmc import capacity, discinfo, events, features, recording, rw, speed, structure, toc, tray
from hpt.scsi.mmc.state import state_of
from hpt.scsi.spc.commands import SPC_ENTRIES
from hpt.scsi.spc.removable import Handler, serial_row

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit, LuParams

R, W, A = Access.READ, Access.WRITE, Access.ALWAYS


def _lock(lu: LogicalUnit) -> threading.RLock:
    return state_of(lu).lock


def _row(usage: str, name: str, handler: Handler, access: Access, *, disc_io: bool = False,
         exempt: bool = False) -> OpcodeEntry:
    """``disc_io``: the command reads or writes the disc file (it runs on the blocking pool)."""
    return serial_row(usage, name, handler, access, _lock, medium_io=disc_io, exempt=exempt)


MMC_ENTRIES: list[OpcodeEntry] = [
    _row("04 1f 00 00 00 00", "FORMAT UNIT", capacity.format_unit, W),
    _row("1b 01 00 00 f3 00", "START STOP UNIT", tray.start_stop_unit, W, disc_io=True),
    _row("1e 00 00 00 03 00", "PREVENT ALLOW MEDIUM REMOVAL", tray.prevent_allow, W),
    _row("23 00 00 00 00 00 00 ff ff 00", "READ FORMAT CAPACITIES", capacity.read_format_capacities, R),
    _row("25 00 00 00 00 00 00 00 00 00", "READ CAPACITY(10)", capacity.read_capacity, R),
    _row("28 08 ff ff ff ff 00 ff ff 00", "READ(10)", rw.read, R, disc_io=True),
    _row("2a 08 ff ff ff ff 00 ff ff 00", "WRITE(10)", rw.write, W, disc_io=True),
    _row("2e 02 ff ff ff ff 00 ff ff 00", "WRITE AND VERIFY(10)", rw.write, W, disc_io=True),
    _row("35 02 00 00 00 00 00 00 00 00", "SYNCHRONIZE CACHE(10)", rw.synchronize_cache, W, disc_io=True),
    _row("43 02 0f 00 00 00 ff ff ff c0", "READ TOC/PMA/ATIP", toc.read_toc, R),
    _row("46 03 ff ff 00 00 00 ff ff 00", "GET CONFIGURATION", features.get_configuration, A, exempt=True),
    _row("4a 01 00 00 ff 00 00 ff ff 00", "GET EVENT STATUS NOTIFICATION", events.get_event_status, A,
         exempt=True),
    _row("51 07 00 00 00 00 00 ff ff 00", "READ DISC INFORMATION", discinfo.read_disc_information, R),
    _row("52 03 ff ff ff ff 00 ff ff 00", "READ TRACK INFORMATION", discinfo.read_track_information, R),
    _row("53 01 00 00 00 ff ff ff ff 00", "RESERVE TRACK", recording.reserve_track, W, disc_io=True),
    _row("54 01 00 00 00 00 00 ff ff 00", "SEND OPC INFORMATION", recording.send_opc_information, W),
    _row("5b 01 07 00 ff ff 00 00 00 00", "CLOSE TRACK/SESSION", recording.close_track_session, W,
         disc_io=True),
    _row("5c 01 00 00 00 00 00 ff ff 00", "READ BUFFER CAPACITY", speed.read_buffer_capacity, R),
    _row("a8 08 ff ff ff ff ff ff ff ff 00 00", "READ(12)", rw.read, R, disc_io=True),
    _row("aa 08 ff ff ff ff ff ff ff ff 00 00", "WRITE(12)", rw.write, W, disc_io=True),
    _row("ac 07 ff ff ff ff 00 00 ff ff ff 00", "GET PERFORMANCE", speed.get_performance, R),
    _row("ad 0f ff ff ff ff ff ff ff ff 00 00", "READ DVD STRUCTURE", structure.read_dvd_structure, R),
    _row("b6 00 00 00 00 00 00 00 ff ff ff 00", "SET STREAMING", speed.set_streaming, W),
    _row("bb 03 ff ff ff ff 00 00 00 00 00 00", "SET CD SPEED", speed.set_cd_speed, W),
    _row("bd 00 00 00 00 00 00 00 ff ff 00 00", "MECHANISM STATUS", tray.mechanism_status, R),
    _row("be 1c ff ff ff ff ff ff ff ff 07 00", "READ CD", rw.read_cd, R, disc_io=True),
    _row("bf 00 00 00 00 00 00 ff ff ff 00 00", "SEND DVD STRUCTURE", structure.send_dvd_structure, W),
]


def dvd_table(params: LuParams) -> OpcodeTable:
    """SPC's shared commands plus the DVD drive's."""
    return OpcodeTable(SPC_ENTRIES).extend(MMC_ENTRIES)
