"""Sense data: the error every SCSI handler raises, and its fixed/descriptor encodings (SPC-5 4.4)."""

from __future__ import annotations

import struct

from hpt.scsi.core.constants import Asc


class SenseError(Exception):
    """Raised by a handler to end a command with CHECK CONDITION and this sense.

    ``field`` is the byte offset of the offending field (sense-key specific, SPC-5 4.4.2.4.2),
    ``bit`` its bit (or None), ``in_cdb`` says whether it is in the CDB or the parameter data.
    ``info`` fills the INFORMATION field (e.g. the first bad LBA on a miscompare); ``stream`` holds the
    FILEMARK, EOM and ILI bits of sequential-access commands (SPC-5 4.4.2.6, SSC-4 4.2.4: fixed-format
    byte 2 bits 7..5, the stream commands sense data descriptor in descriptor format). ``progress``
    (0..65535, a fraction of 65536) is the sense-key specific PROGRESS INDICATION of a NOT READY
    operation in progress (SPC-5 4.4.2.4.4), used instead of a field pointer.
    """

    def __init__(
        self,
        asc: Asc,
        *,
        field: int | None = None,
        bit: int | None = None,
        in_cdb: bool = True,
        info: int | None = None,
        stream: int = 0,
        progress: int | None = None,
    ) -> None:
        super().__init__(f"{asc.key.name} asc={asc.asc:#04x} ascq={asc.ascq:#04x}")
        self.asc = asc
        self.field = field
        self.bit = bit
        self.in_cdb = in_cdb
        self.info = info
        self.stream = stream
        self.progress = progress

    def encode(self, descriptor: bool = False) -> bytes:
        return build_sense(self.asc, descriptor, self.field, self.bit, self.in_cdb, self.info, self.stream,
                           self.progress)


def _sks(field: int | None, bit: int | None, in_cdb: bool, progress: int | None = None) -> bytes | None:
    if progress is not None:  # SKSV and the PROGRESS INDICATION (SPC-5 4.4.2.4.4)
        return struct.pack(">BH", 0x80, max(0, min(progress, 0xFFFF)))
    if field is None:
        return None
    b0 = 0x80 | (0x40 if in_cdb else 0)
    if bit is not None:
        b0 |= 0x08 | (bit & 7)
    return bytes((b0,)) + struct.pack(">H", field & 0xFFFF)


def build_sense(
    asc: Asc,
    descriptor: bool = False,
    field: int | None = None,
    bit: int | None = None,
    in_cdb: bool = True,
    info: int | None = None,
    stream: int = 0,
    progress: int | None = None,
) -> bytes:
    """Encode sense data: fixed format 0x70 (SPC-5 4.4.3) or descriptor format 0x72 (SPC-5 4.4.2)."""
    sks = _sks(field, bit, in_cdb, progress)
    if descriptor:
        descs = b""
        if info is not None:
            descs += struct.pack(">BBBxQ", 0x00, 0x0A, 0x80, info & 0xFFFFFFFFFFFFFFFF)
        if sks is not None:
            descs += struct.pack(">BBxx", 0x02, 0x06) + sks + b"\x00"
        if stream:
            descs += struct.pack(">BBxB", 0x04, 0x02, stream & 0xE0)
        return struct.pack(">BBBBxxxB", 0x72, asc.key, asc.asc, asc.ascq, len(descs)) + descs
    buf = bytearray(18)
    buf[0] = 0x70
    buf[2] = asc.key | (stream & 0xE0)
    buf[7] = 10
    buf[12] = asc.asc
    buf[13] = asc.ascq
    if info is not None:
        buf[0] |= 0x80
        struct.pack_into(">I", buf, 3, info & 0xFFFFFFFF)
    if sks is not None:
        buf[15:18] = sks
    return bytes(buf)


def parse_sense(data: bytes) -> Asc:
    """Read the key/asc/ascq out of fixed or descriptor sense (for tests and logs)."""
    from hpt.scsi.core.constants import SenseKey

    code = data[0] & 0x7F
    if code in (0x72, 0x73):
        return Asc(SenseKey(data[1] & 0xF), data[2], data[3])
    return Asc(SenseKey(data[2] & 0xF), data[12], data[13])
