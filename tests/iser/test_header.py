"""iSER header, Hello/HelloReply (RFC 7145 9.2-9.4) and CM private data (5.1, 5.2) codecs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpt.iser.cm import CmPrivateData, reply_private_data
from hpt.iser.header import (
    CONTROL_HEADER,
    ISER_HDR_LEN,
    Hello,
    HelloReply,
    IserFormatError,
    IserHeader,
    IserOpcode,
    answer_hello,
)

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
nibble = st.integers(0, 15)


@given(st.sampled_from(IserOpcode), st.none() | u32, u64, st.none() | u32, u64)
def test_header_round_trip(op: IserOpcode, wstag: int | None, wva: int, rstag: int | None, rva: int) -> None:
    h = IserHeader(op, wstag, wva, rstag, rva)
    raw = h.encode()
    assert len(raw) == ISER_HDR_LEN
    assert IserHeader.decode(raw + b"PDU follows") == h


def test_header_layout_matches_the_rfc() -> None:
    raw = IserHeader(write_stag=0x11223344, write_va=0x55, read_stag=0x66778899, read_va=0xAB).encode()
    assert raw[0] == 0x10 | 0x08 | 0x04  # control opcode, WSV, RSV
    assert raw[1:4] == bytes(3)
    assert struct.unpack(">IQIQ", raw[4:]) == (0x11223344, 0x55, 0x66778899, 0xAB)
    assert b"\x10" + bytes(27) == CONTROL_HEADER


def test_header_without_valid_bits_ignores_stags() -> None:
    raw = bytearray(IserHeader(write_stag=7, write_va=1, read_stag=9, read_va=2).encode())
    raw[0] = 0x10
    h = IserHeader.decode(raw)
    assert h.write_stag is None and h.read_stag is None


@given(st.binary(max_size=ISER_HDR_LEN - 1))
def test_short_header_is_refused(raw: bytes) -> None:
    with pytest.raises(IserFormatError):
        IserHeader.decode(raw)


@given(st.sampled_from([0, 4, 5, 15]))
def test_unknown_opcode_is_refused(op: int) -> None:
    with pytest.raises(IserFormatError, match="opcode"):
        IserHeader.decode(bytes([op << 4]) + bytes(27))


@given(nibble, nibble, st.integers(0, 0xFFFF))
def test_hello_round_trip(mx: int, mn: int, ird: int) -> None:
    h = Hello(mx, mn, ird)
    raw = h.encode()
    assert len(raw) == ISER_HDR_LEN and raw[0] >> 4 == IserOpcode.HELLO
    assert Hello.decode(raw) == h
    assert IserHeader.decode(raw).opcode == IserOpcode.HELLO


@given(nibble, nibble, st.integers(0, 0xFFFF), st.booleans())
def test_hello_reply_round_trip(mx: int, cur: int, ord_: int, reject: bool) -> None:
    r = HelloReply(mx, cur, ord_, reject)
    assert HelloReply.decode(r.encode()) == r


def test_hello_decoders_check_the_opcode() -> None:
    with pytest.raises(IserFormatError, match="HELLO"):
        Hello.decode(HelloReply().encode())
    with pytest.raises(IserFormatError):
        HelloReply.decode(b"\x30")


def test_answer_hello() -> None:
    assert answer_hello(Hello(1, 1, 8), 16) == HelloReply(1, 1, 8, reject=False)
    assert answer_hello(Hello(3, 2, 8), 16).reject
    assert answer_hello(Hello(0, 0, 8), 16).ord == 0


@given(st.booleans(), st.booleans())
def test_cm_private_data_round_trip(zbva: bool, sie: bool) -> None:
    pd = CmPrivateData(zbva, sie)
    raw = pd.encode()
    assert len(raw) == 4 and raw[1:] == bytes(3)
    assert CmPrivateData.decode(raw + bytes(52)) == pd  # the CM pads private data with zeros


def test_cm_private_data_bits_and_reply() -> None:
    assert CmPrivateData(True, True).encode()[0] == 0xC0
    assert CmPrivateData.decode(b"\x80\0") is None
    assert CmPrivateData.decode(b"") is None
    assert reply_private_data(None) == b"\xc0\0\0\0"
    assert reply_private_data(CmPrivateData(False, False)) == b"\x40\0\0\0"  # never Send with Invalidate
