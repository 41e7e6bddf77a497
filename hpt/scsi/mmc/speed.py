"""SET CD SPEED, SET STREAMING, GET PERFORMANCE and READ BUFFER CAPACITY (MMC-6): speeds are asked for
and reported, and the buffer is always empty (a write goes straight to the medium file)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16, u32
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, INVALID_FIELD_IN_PARAMETER_LIST
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import MAX_SPEED, state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

BUFFER_BYTES = 4 << 20
PERFORMANCE, WRITE_SPEED = 0x00, 0x03  # GET PERFORMANCE types
DESCRIPTOR = 28  # bytes of a SET STREAMING performance descriptor
MAX = 0xFFFF  # SET CD SPEED: the drive's maximum


def set_cd_speed(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SET CD SPEED: read and write speed in kB/s (FFFFh: the maximum), capped at the drive's."""
    cdb = cmd.cdb
    if cdb[1] & 0x03 == 0x03:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)  # rotational control 11b is reserved
    st = state_of(lu)
    st.read_speed = MAX_SPEED if u16(cdb, 2) == MAX else min(u16(cdb, 2), MAX_SPEED)
    st.write_speed = MAX_SPEED if u16(cdb, 4) == MAX else min(u16(cdb, 4), MAX_SPEED)
    return GOOD


def set_streaming(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SET STREAMING with a performance descriptor (TYPE 0): its read and write rates become the
    speeds (kB/s, capped at the drive's); START LBA must not pass END LBA."""
    cdb = cmd.cdb
    if cdb[8] != PERFORMANCE:
        raise SenseError(INVALID_FIELD_IN_CDB, field=8)
    length = u16(cdb, 9)
    if length < DESCRIPTOR:
        raise SenseError(INVALID_FIELD_IN_CDB, field=9)
    data = parameter_list(cmd, DESCRIPTOR)
    start, end, read_size, read_ms, write_size, write_ms = struct.unpack_from(">4x6I", data)
    if start > end:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=4, in_cdb=False)
    if not read_ms or not write_ms:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=16 if not read_ms else 24, in_cdb=False)
    st = state_of(lu)
    st.read_speed = min(read_size * 1000 // read_ms, MAX_SPEED)  # kB per second from kB per ms
    st.write_speed = min(write_size * 1000 // write_ms, MAX_SPEED)
    return GOOD


def get_performance(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """GET PERFORMANCE: TYPE 00h nominal performance over the disc (read, or with WRITE in DATA TYPE
    write), TYPE 03h the write speed descriptor; at most MAXIMUM NUMBER OF DESCRIPTORS."""
    cdb = cmd.cdb
    kind, most = cdb[10], u16(cdb, 8)
    st = state_of(lu)
    end = max(st.disc.capacity - 1, 0) if st.disc is not None and not st.tray_open else 0
    if kind == PERFORMANCE:
        if cdb[1] & 0x03:
            raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)  # EXCEPT: no exception list kept
        writing = bool(cdb[1] & 0x04)
        speed = st.write_speed if writing else st.read_speed
        descriptors = [struct.pack(">IIII", u32(cdb, 2), speed, end, speed)]
        flags = 0x02 if writing else 0
    elif kind == WRITE_SPEED:
        descriptors = [struct.pack(">B3xIII", 0, end, st.read_speed, st.write_speed)]
        flags = 0
    else:
        raise SenseError(INVALID_FIELD_IN_CDB, field=10)
    body = b"".join(descriptors[:most])
    return cmd.reply(struct.pack(">IB3x", 4 + len(body), flags) + body)


def read_buffer_capacity(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ BUFFER CAPACITY: BLOCK 0 gives the buffer's bytes and blank bytes, BLOCK 1 its free blocks."""
    cdb = cmd.cdb
    state_of(lu).medium()
    if cdb[1] & 0x01:
        data = struct.pack(">HxBxxxxI", 10, 0x01, BUFFER_BYTES // 2048)
    else:
        data = struct.pack(">HxxII", 10, BUFFER_BYTES, BUFFER_BYTES)
    return cmd.reply(data, u16(cdb, 7))
