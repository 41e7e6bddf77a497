"""REPORT TIMESTAMP and SET TIMESTAMP (SPC-5 6.36, 6.45; the device clock, SPC-5 5.2).

The disk's clock is the host's UTC clock (TIMESTAMP ORIGIN 011b: initialized by a method outside the
standard) until SET TIMESTAMP sets it (010b); from then on it runs from the value set, an offset kept
in the LU's state, until a reset puts it back on the host's clock. Setting it establishes TIMESTAMP
CHANGED for the other I_T nexuses.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u32
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import PARAMETER_LIST_LENGTH_ERROR, Asc, SenseKey
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import out_result

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

TIMESTAMP = 0x0F  # the service action of both (MAINTENANCE IN A3h, MAINTENANCE OUT A4h)
ORIGIN_SET, ORIGIN_OUTSIDE = 0b010, 0b011
PARAMETERS = struct.Struct(">HBx6s2x")  # LENGTH (0Ah), TIMESTAMP ORIGIN, TIMESTAMP (48-bit ms)
TIMESTAMP_CHANGED = Asc(SenseKey.UNIT_ATTENTION, 0x2A, 0x10)


def _host_ms() -> int:
    return time.time_ns() // 1_000_000


def report_timestamp(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-5 REPORT TIMESTAMP: milliseconds since 1970-01-01 UTC and where the clock came from."""
    offset = lu.state.timestamp_offset
    origin = ORIGIN_OUTSIDE if offset is None else ORIGIN_SET
    now = (_host_ms() + (offset or 0)) & 0xFFFFFFFFFFFF
    data = PARAMETERS.pack(PARAMETERS.size - 2, origin, now.to_bytes(6, "big"))
    return cmd.reply(data, u32(cmd.cdb, 6))


def set_timestamp(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-5 SET TIMESTAMP: the clock runs from the TIMESTAMP given; a list shorter than the
    parameter data is a PARAMETER LIST LENGTH ERROR, none at all changes nothing."""
    plen = u32(cmd.cdb, 6)
    if not plen:
        return out_result(cmd, 0)
    if plen < PARAMETERS.size:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=6)
    data = parameter_list(cmd, plen)
    value = int.from_bytes(data[4:10], "big")
    lu.state.timestamp_offset = value - _host_ms()
    lu.ua.establish(TIMESTAMP_CHANGED, exclude=cmd.nexus.initiator_port)
    return out_result(cmd, plen)
