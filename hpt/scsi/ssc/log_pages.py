"""LOG SENSE for the tape drive (SPC-5 6.8): Supported Log Pages (00h), Sequential-Access Device
(0Ch, SSC-4: bytes moved, capacities in MiB, cleaning required) and TapeAlert (2Eh:
64 one-byte flags, cleared once read).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.ssc.common import state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

SUPPORTED, SEQUENTIAL_ACCESS, TAPE_ALERT = 0x00, 0x0C, 0x2E
PAGES = (SUPPORTED, SEQUENTIAL_ACCESS, TAPE_ALERT)
MIB = 1 << 20
_COUNTER, _LIST = 0x00, 0x03  # parameter control bytes: bounded data counter, binary list


def _param(code: int, control: int, value: int, size: int) -> bytes:
    return struct.pack(">HBB", code, control, size) + value.to_bytes(size, "big")


def _sequential_access(lu: LogicalUnit) -> list[tuple[int, bytes]]:
    st = state_of(lu)
    cart = st.cartridge
    written, read = st.counters["written"], st.counters["read"]
    to_eod = 0 if cart is None else cart.used // MIB
    to_ew = 0 if cart is None else (cart.info.capacity - cart.info.early_warning) // MIB
    ew_to_end = 0 if cart is None else cart.info.early_warning // MIB
    clean = int(cart is not None and cart.info.medium_type == "clean")
    values = [(0x0000, written, 8), (0x0001, written, 8), (0x0002, read, 8), (0x0003, read, 8),
              (0x0004, to_eod, 4), (0x0005, to_ew, 4), (0x0006, ew_to_end, 4), (0x0007, to_eod, 4),
              (0x0008, 0, 4), (0x0100, clean, 1)]
    return [(code, _param(code, _COUNTER, value, size)) for code, value, size in values]


def _tape_alert(lu: LogicalUnit) -> list[tuple[int, bytes]]:
    st = state_of(lu)
    flags, st.alerts = st.alerts, set()  # read once (SSC-4 TapeAlert)
    return [(f, _param(f, _LIST, int(f in flags), 1)) for f in range(1, 65)]


def log_sense(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """LOG SENSE: the page asked for from PARAMETER POINTER on; saving parameters is not supported."""
    cdb = cmd.cdb
    if cdb[1] & 0x01:  # SP
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
    if cdb[1] & 0x02:  # PPC
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)
    page, subpage = cdb[2] & 0x3F, cdb[3]
    pointer, alloc = struct.unpack_from(">HH", cdb, 5)
    if subpage or page not in PAGES:
        raise SenseError(INVALID_FIELD_IN_CDB, field=3 if subpage else 2)
    if page == SUPPORTED:
        body = bytes(PAGES)
    else:
        params = (_sequential_access if page == SEQUENTIAL_ACCESS else _tape_alert)(lu)
        if pointer > params[-1][0]:
            raise SenseError(INVALID_FIELD_IN_CDB, field=5)
        body = b"".join(raw for code, raw in params if code >= pointer)
    return cmd.reply(struct.pack(">BBH", page, 0, len(body)) + body, alloc)
