"""The OSD CDB itself (OSD-2 5.2): its length, buffer offsets, unknown service actions, the LU's
identity (peripheral device type 11h)."""

from __future__ import annotations

import pytest

from hpt.scsi.osd.cdb import decode_offset, encode_offset
from tests.osd.initiator import GET_ATTRIBUTES, READ, OsdClient, cdb, get_list, list_attrs
from tests.osd.initiator import encode_offset as initiator_offset

from .support import refused


@pytest.mark.parametrize("offset", [0, 8, 4096, 1 << 20, (1 << 28) * 256, 3 << 33])
def test_offsets_round_trip(offset: int) -> None:
    assert decode_offset(encode_offset(offset)) == offset
    assert decode_offset(initiator_offset(offset)) == offset
    assert decode_offset(0xFFFFFFFF) is None
    assert decode_offset(0xF0000001) == 1 << 7  # a negative exponent: -1 + 8
    assert encode_offset(0) == initiator_offset(0) == 0


@pytest.mark.parametrize("raw", [0x80000000, 0x90000001, 0xA0000001])
def test_reserved_offset_exponents_are_refused(osd: OsdClient, raw: int) -> None:
    with pytest.raises(ValueError):
        decode_offset(raw)
    params = list_attrs(get_len=16, get_off=raw, alloc=64, got_off=0)
    refused(osd, cdb(GET_ATTRIBUTES, specific=0x30, attrs=params), (0x5, 0x24, 0x00), field=56,
            out=get_list([(0x90000001, 4)]), read=64)


def test_a_cdb_of_another_length_is_refused(osd: OsdClient) -> None:
    short = cdb(READ, 0x10000, 0x10000)[:200]
    reply = osd.send(short[:7] + bytes([192]) + short[8:])  # refused by the LU before the OSD code
    assert reply.status == 2 and reply.key_asc == (0x5, 0x24, 0x00)
    longer = cdb(READ, 0x10000, 0x10000) + bytes(4)
    refused(osd, longer[:7] + bytes([232]) + longer[8:], (0x5, 0x24, 0x00), field=7)


def test_unknown_service_action_is_an_invalid_opcode(osd: OsdClient) -> None:
    raw = bytearray(cdb(READ))
    raw[8:10] = (0x88A0).to_bytes(2, "big")  # QUERY: not served
    reply = osd.send(bytes(raw))
    assert reply.status == 2 and reply.key_asc == (0x5, 0x20, 0x00)


def test_inquiry_says_object_based_storage(osd: OsdClient) -> None:
    reply = osd.send(bytes([0x12, 0, 0, 0, 96, 0]), read=96)
    assert reply.data[0] == 0x11
    assert reply.data[16:32].rstrip() == b"VIRTUAL-OSD"
