"""TransportID codec (SPC-5 7.6.4): iSCSI round trips and malformed TransportIDs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.sense import SenseError
from hpt.scsi.pr.transport_id import PROTOCOL_FCP, PROTOCOL_ISCSI, TransportId, decode, encode

iscsi_names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","),
                      min_size=1, max_size=223)


@given(name=iscsi_names, isid=st.one_of(st.none(), st.integers(0, (1 << 48) - 1)),
       prefix=st.binary(max_size=8))
def test_iscsi_round_trip(name: str, isid: int | None, prefix: bytes) -> None:
    raw = encode(PROTOCOL_ISCSI, name, isid)
    assert len(raw) % 4 == 0 and len(raw) >= 24
    assert raw[0] == (0x40 if isid is not None else 0x00) | PROTOCOL_ISCSI
    tid, n = decode(prefix + raw + b"\xff" * 4, len(prefix))
    assert n == len(raw)
    assert tid == TransportId(PROTOCOL_ISCSI, name.lower(), isid)


def test_port_format_text() -> None:
    raw = encode(PROTOCOL_ISCSI, "iqn.a", 0x23D000000001)
    assert raw[4:].rstrip(b"\0") == b"iqn.a,i,0x23d000000001"


def test_fibre_channel_encoding() -> None:
    raw = encode(PROTOCOL_FCP, "21:00:00:24:ff:00:00:01", None)
    assert len(raw) == 24 and raw[0] == 0 and raw[8:16] == bytes.fromhex("21000024ff000001")
    assert encode(PROTOCOL_FCP, "not-a-wwpn", None)[8:16] == bytes(8)


def _tid(first: int, text: bytes, add_len: int | None = None) -> bytes:
    body = text + bytes(-len(text) % 4 or 4)
    body = body.ljust(20, b"\0")
    return struct.pack(">BxH", first, len(body) if add_len is None else add_len) + body


@pytest.mark.parametrize(("raw", "asc", "field"), [
    (_tid(0x00, b"iqn.a"), INVALID_FIELD_IN_PARAMETER_LIST, 0),  # protocol 0 is not decoded
    (_tid(0x85, b"iqn.a"), INVALID_FIELD_IN_PARAMETER_LIST, 0),  # format 10b
    (_tid(0x05, b"iqn.a", add_len=16), INVALID_FIELD_IN_PARAMETER_LIST, 2),  # under 20 bytes
    (_tid(0x05, b"iqn.a", add_len=22), PARAMETER_LIST_LENGTH_ERROR, None),  # past the end
    (_tid(0x45, b"iqn.a"), INVALID_FIELD_IN_PARAMETER_LIST, 4),  # no ",i,0x"
    (_tid(0x45, b"iqn.a,i,0xzz"), INVALID_FIELD_IN_PARAMETER_LIST, 4),
    (_tid(0x45, b"iqn.a,i,0x1234567890abc"), INVALID_FIELD_IN_PARAMETER_LIST, 4),  # ISID over 48 bits
    (_tid(0x05, b""), INVALID_FIELD_IN_PARAMETER_LIST, 4),
    (b"\x05\x00", PARAMETER_LIST_LENGTH_ERROR, None),
])
def test_malformed(raw: bytes, asc: object, field: int | None) -> None:
    with pytest.raises(SenseError) as err:
        decode(raw, 0)
    assert err.value.asc == asc and err.value.field == field
    if field is not None:
        assert err.value.in_cdb is False
