"""MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS (WITH RANGE) and the
SPC commands a changer LU answers (SMC-3 6; SPC-5 6.7, 6.11, 6.35)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MEDIUM_REMOVAL_PREVENTED, DeviceType
from hpt.scsi.profiles import PLANNED, PROFILES
from hpt.scsi.smc.changer import Changer
from hpt.scsi.smc.elements import (
    INVALID_ELEMENT_ADDRESS,
    MEDIUM_DESTINATION_FULL,
    MEDIUM_SOURCE_EMPTY,
)
from hpt.scsi.smc.profile import CHANGER
from tests.scsi.conftest import Initiator
from tests.scsi.smc.conftest import DRIVE0, DRIVE1, IE0, SLOT0, FakeDrive, exchange, move


def test_move_medium_to_and_from_a_drive(a: Initiator, drives: list[FakeDrive]) -> None:
    assert a.run(move(SLOT0, DRIVE0)).good
    assert drives[0].loaded == Path("/media/HPT001L6")
    assert a.run(move(DRIVE0, SLOT0 + 0, transport=1)).good
    assert drives[0].loaded is None


@pytest.mark.parametrize(("cdb", "asc", "field"), [
    (move(IE0, SLOT0), MEDIUM_SOURCE_EMPTY, 4),
    (move(SLOT0, SLOT0 + 1), MEDIUM_DESTINATION_FULL, 6),
    (move(SLOT0, 999), INVALID_ELEMENT_ADDRESS, 6),
    (move(999, IE0), INVALID_ELEMENT_ADDRESS, 4),
    (move(SLOT0, IE0, transport=SLOT0), INVALID_ELEMENT_ADDRESS, 2),
    (move(SLOT0, IE0, transport=3), INVALID_ELEMENT_ADDRESS, 2),
    (move(SLOT0, IE0, invert=1), INVALID_FIELD_IN_CDB, 10),
    (exchange(IE0, SLOT0, IE0), MEDIUM_SOURCE_EMPTY, 4),
    (exchange(SLOT0, SLOT0 + 1, SLOT0 + 2), MEDIUM_DESTINATION_FULL, 8),
    (exchange(SLOT0, SLOT0 + 1, SLOT0, invert=2), INVALID_FIELD_IN_CDB, 10),
])
def test_bad_moves_say_which_field(a: Initiator, changer: Changer, cdb: bytes, asc: object,
                                   field: int) -> None:
    before = [e.medium for e in changer.elements]
    reply = a.run(cdb)
    assert reply.asc == asc and reply.sks[0] == field
    assert [e.medium for e in changer.elements] == before


def test_drive_refusing_to_unload(a: Initiator, drives: list[FakeDrive]) -> None:
    assert a.run(move(SLOT0, DRIVE1)).good
    drives[1].prevented = True
    assert a.run(move(DRIVE1, IE0)).asc == MEDIUM_REMOVAL_PREVENTED
    drives[1].prevented = False
    assert a.run(move(DRIVE1, IE0)).good


def test_exchange_medium(a: Initiator, drives: list[FakeDrive], changer: Changer) -> None:
    assert a.run(move(SLOT0, DRIVE0)).good
    assert a.run(exchange(SLOT0 + 1, DRIVE0, SLOT0)).good
    assert drives[0].loaded == Path("/media/HPT002L6")
    assert changer.element(SLOT0).medium.barcode == "HPT001L6"  # type: ignore[union-attr]


def test_position_to_element(a: Initiator) -> None:
    assert a.run(bytes((0x2B, 0, 0, 1, *DRIVE0.to_bytes(2, "big"), 0, 0, 0, 0))).good
    reply = a.run(bytes((0x2B, 0, 0, 0, 0x10, 0, 0, 0, 0, 0)))
    assert reply.asc == INVALID_ELEMENT_ADDRESS and reply.sks[0] == 4
    assert a.run(bytes((0x2B, 0, 0, 0, *SLOT0.to_bytes(2, "big"), 0, 0, 1, 0))).asc == INVALID_FIELD_IN_CDB


def test_initialize_element_status_reads_barcodes_again(a: Initiator, changer: Changer) -> None:
    changer.label = lambda c: "NEW" + c.barcode[3:]
    assert a.run(bytes((0x37, 0x01, *(SLOT0 + 1).to_bytes(2, "big"), 0, 0, 0, 2, 0, 0))).good
    assert [e.medium.barcode for e in changer.elements[1:5]] == [  # type: ignore[union-attr]
        "HPT001L6", "NEW002L6", "NEW003L6", "HPT004L6"]
    assert a.run(bytes(6)[:0] + bytes((0x07, 0, 0, 0, 0, 0))).good
    assert all(e.medium.barcode.startswith("NEW") for e in changer.elements[1:9])  # type: ignore[union-attr]


def test_initialize_with_range_checks_its_fields(a: Initiator) -> None:
    assert a.run(bytes((0x37, 0x01, 0, 7, 0, 0, 0, 1, 0, 0))).asc == INVALID_ELEMENT_ADDRESS
    reply = a.run(bytes((0x37, 0x00, 0, 0, 0, 0, 0, 1, 0, 0)))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks[0] == 6
    assert a.run(bytes((0x37, 0x02, 0, 0, 0, 0, 0, 0, 0, 0))).good


def test_changer_profile_is_registered() -> None:
    assert PROFILES["changer"] is CHANGER and "changer" not in PLANNED
    assert CHANGER.device_type == DeviceType.CHANGER == 0x08


def test_inquiry_and_test_unit_ready(a: Initiator) -> None:
    data = a.run(bytes((0x12, 0, 0, 0, 96, 0))).data
    assert data[0] == 0x08 and data[16:32] == b"VIRTUAL-CHANGER "
    assert 0x0480 in struct.unpack_from(">8H", data, 58)  # SMC-3
    assert a.run(bytes(6)).good


def test_rsoc_lists_the_changer_commands(a: Initiator) -> None:
    data = a.run(bytes((0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0)), alloc=4096).data
    (length,) = struct.unpack_from(">I", data)
    ops = {data[i] for i in range(4, 4 + length, 8)}
    assert {0x07, 0x1E, 0x2B, 0x37, 0xA5, 0xA6, 0xB8} <= ops
    assert not {0x28, 0x2A} & ops


def _mode_sense(a: Initiator, page: int) -> bytes:
    reply = a.run(bytes((0x1A, 0x08, page, 0, 255, 0)), alloc=255)
    assert reply.good
    return reply.data


def test_mode_page_1d_reports_the_layout(a: Initiator) -> None:
    data = _mode_sense(a, 0x1D)
    assert data[3] == 0  # no block descriptor
    page = data[4:]
    assert page[:2] == b"\x1d\x12"
    assert struct.unpack_from(">8H", page, 2) == (1, 1, SLOT0, 8, IE0, 1, DRIVE0, 2)


def test_mode_pages_1e_1f_and_all(a: Initiator) -> None:
    assert _mode_sense(a, 0x1E)[4:] == b"\x1e\x02\x00\x00"
    cap = _mode_sense(a, 0x1F)[4:]
    assert cap[:2] == b"\x1f\x12" and cap[2] == 0x0E and cap[4:8] == bytes((0, 0x0E, 0x0E, 0x0E))
    every = _mode_sense(a, 0x3F)
    codes = []
    off = 4
    while off < len(every):
        codes.append(every[off] & 0x3F)
        off += 2 + every[off + 1]
    assert {0x0A, 0x1D, 0x1E, 0x1F} <= set(codes)


def test_mode_select_cannot_change_the_layout(a: Initiator) -> None:
    page = bytearray(_mode_sense(a, 0x1D)[4:])
    page[3] = 2
    reply = a.run(bytes((0x15, 0x10, 0, 0, 4 + len(page), 0)), bytes(4) + bytes(page))
    assert reply.asc.asc == 0x26

