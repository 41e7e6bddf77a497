"""The iSER header before every iSCSI PDU in a SEND (RFC 7145 9.2), and Hello/HelloReply (9.3, 9.4).

Layout (28 bytes, big-endian): flags (opcode in the high nibble; W = Write STag valid, R = Read STag valid),
3 reserved bytes, Write STag (4), Write Base Offset (8), Read STag (4), Read Base Offset (8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

ISER_HDR_LEN = 28
ISER_VERSION = 1  # the only version (RFC 7145 9.3)

_HDR = struct.Struct(">B3xIQIQ")
_HELLO = struct.Struct(">BBH")  # opcode/flags, MaxVer|MinVer (or MaxVer|CurVer), IRD (or ORD)

WSV = 0x08  # Write STag valid
RSV = 0x04  # Read STag valid
_REJECT = 0x01  # HelloReply: the target refuses the initiator's versions


class IserOpcode(IntEnum):
    """The high nibble of the iSER header's first byte (RFC 7145 9.1)."""

    CONTROL = 0x1  # an iSCSI control-type PDU follows
    HELLO = 0x2
    HELLO_REPLY = 0x3


class IserFormatError(ValueError):
    """A message too short for an iSER header, or with an unknown opcode."""


@dataclass(frozen=True, slots=True)
class IserHeader:
    """One iSER header: the initiator's advertised buffers for a SCSI command, zero otherwise."""

    opcode: IserOpcode = IserOpcode.CONTROL
    write_stag: int | None = None  # with ``write_va``: where the target RDMA-Reads solicited write data
    write_va: int = 0
    read_stag: int | None = None  # with ``read_va``: where the target RDMA-Writes read data
    read_va: int = 0

    def encode(self) -> bytes:
        flags = self.opcode << 4
        if self.write_stag is not None:
            flags |= WSV
        if self.read_stag is not None:
            flags |= RSV
        return _HDR.pack(flags, self.write_stag or 0, self.write_va, self.read_stag or 0, self.read_va)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> IserHeader:
        if len(data) < ISER_HDR_LEN:
            raise IserFormatError(f"iSER message of {len(data)} bytes < {ISER_HDR_LEN}-byte header")
        flags, wstag, wva, rstag, rva = _HDR.unpack_from(data)
        try:
            op = IserOpcode(flags >> 4)
        except ValueError:
            raise IserFormatError(f"unknown iSER opcode {flags >> 4:#x}") from None
        return cls(op, wstag if flags & WSV else None, wva, rstag if flags & RSV else None, rva)


CONTROL_HEADER = IserHeader().encode()  # what the target puts before each PDU it sends (no buffers)


@dataclass(frozen=True, slots=True)
class Hello:
    """iSER Hello (RFC 7145 9.3): the initiator's version range and inbound RDMA Read depth."""

    max_version: int = ISER_VERSION
    min_version: int = ISER_VERSION
    ird: int = 0

    def encode(self) -> bytes:
        body = _HELLO.pack(IserOpcode.HELLO << 4, self.max_version << 4 | self.min_version, self.ird)
        return body.ljust(ISER_HDR_LEN, b"\0")

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Hello:
        flags, ver, ird = _unpack_hello(data, IserOpcode.HELLO)
        return cls(ver >> 4, ver & 0xF, ird)


@dataclass(frozen=True, slots=True)
class HelloReply:
    """iSER HelloReply (RFC 7145 9.4): the version chosen (or a reject), the target's outbound Read depth."""

    max_version: int = ISER_VERSION
    current_version: int = ISER_VERSION
    ord: int = 0
    reject: bool = False

    def encode(self) -> bytes:
        flags = IserOpcode.HELLO_REPLY << 4 | (_REJECT if self.reject else 0)
        body = _HELLO.pack(flags, self.max_version << 4 | self.current_version, self.ord)
        return body.ljust(ISER_HDR_LEN, b"\0")

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> HelloReply:
        flags, ver, ord_ = _unpack_hello(data, IserOpcode.HELLO_REPLY)
        return cls(ver >> 4, ver & 0xF, ord_, bool(flags & _REJECT))


def _unpack_hello(data: bytes | bytearray | memoryview, want: IserOpcode) -> tuple[int, int, int]:
    if len(data) < ISER_HDR_LEN:
        raise IserFormatError(f"iSER {want.name} of {len(data)} bytes: shorter than {ISER_HDR_LEN}")
    flags, ver, depth = _HELLO.unpack_from(data)
    if flags >> 4 != want:
        raise IserFormatError(f"iSER opcode {flags >> 4:#x} is not {want.name}")
    return flags, ver, depth


def answer_hello(hello: Hello, ord_: int) -> HelloReply:
    """The target's reply: version 1 when the initiator's range holds it, else a reject (RFC 7145 9.4)."""
    ok = hello.min_version <= ISER_VERSION <= hello.max_version
    return HelloReply(ISER_VERSION, ISER_VERSION, min(ord_, hello.ird) if ok else 0, reject=not ok)
