"""WRITE BUFFER and READ BUFFER in their echo buffer modes (SPC-5 6.49, 6.29).

WRITE BUFFER mode 0Ah keeps up to ``CAPACITY`` bytes for the I_T nexus that sent them (EBOS 1: no
other nexus overwrites them); READ BUFFER mode 0Ah returns them, mode 0Bh the echo buffer descriptor.
Reading before this nexus wrote is COMMAND SEQUENCE ERROR; other modes are INVALID FIELD IN CDB.
A reset, or the nexus's loss, forgets what it wrote.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, Asc, SenseKey
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import out_result

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

ECHO, ECHO_DESCRIPTOR = 0x0A, 0x0B  # MODE (CDB byte 1 bits 4..0)
CAPACITY = 4096  # BUFFER CAPACITY (at most 1FFFh)
EBOS = 0x01  # the echo buffer is per I_T nexus
COMMAND_SEQUENCE_ERROR = Asc(SenseKey.ILLEGAL_REQUEST, 0x2C, 0x00)


def _length(cmd: ScsiCommand) -> int:
    """The 24-bit PARAMETER LIST LENGTH / ALLOCATION LENGTH (bytes 6..8)."""
    return int.from_bytes(cmd.cdb[6:9], "big")


def write_buffer(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-5 WRITE BUFFER, echo buffer mode: up to CAPACITY bytes, kept for this I_T nexus."""
    if cmd.cdb[1] & 0x1F != ECHO:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    plen = _length(cmd)
    if plen > CAPACITY:
        raise SenseError(INVALID_FIELD_IN_CDB, field=6)
    data = bytes(parameter_list(cmd, plen))
    with lu.lock:
        lu.state.echo[cmd.nexus.initiator_port] = data
    return out_result(cmd, plen)


def read_buffer(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-5 READ BUFFER: the echo buffer (mode 0Ah) or its descriptor (0Bh)."""
    mode, alloc = cmd.cdb[1] & 0x1F, _length(cmd)
    if mode == ECHO_DESCRIPTOR:
        return cmd.reply(struct.pack(">BxH", EBOS, CAPACITY), alloc)
    if mode != ECHO:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    data = lu.state.echo.get(cmd.nexus.initiator_port)
    if data is None:
        raise SenseError(COMMAND_SEQUENCE_ERROR)
    return cmd.reply(data, alloc)


def forget(lu: LogicalUnit, initiator_port: str | None) -> None:
    """A reset (port None) or an I_T nexus's loss: the echo data written go."""
    if initiator_port is None:
        lu.state.echo.clear()
    else:
        lu.state.echo.pop(initiator_port, None)
