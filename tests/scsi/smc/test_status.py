"""READ ELEMENT STATUS (SMC-3 6.10): pages, volume tags, device identifiers, filtering, truncation."""

from __future__ import annotations

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.smc.elements import INVALID_ELEMENT_ADDRESS
from tests.scsi.conftest import Initiator
from tests.scsi.smc.conftest import DRIVE0, IE0, SLOT0, move, parse_status, read_element_status


def test_every_element_with_barcodes(a: Initiator) -> None:
    reply = a.run(read_element_status(), alloc=4096)
    assert reply.good
    header, elements = parse_status(reply.data)
    assert header["first"] == 1 and header["count"] == 12
    assert header["bytes"] == len(reply.data) - 8
    assert [e["type"] for e in elements] == [1] + [2] * 8 + [3] + [4] * 2
    storage = [e for e in elements if e["type"] == 2]
    assert [e["barcode"] for e in storage] == [f"HPT{i:03d}L6" for i in range(1, 9)]
    assert all(e["flags"] == 0x09 for e in storage)  # ACCESS, FULL
    assert elements[0]["flags"] == 0 and elements[9]["flags"] == 0x38  # picker; INENAB EXENAB ACCESS
    assert all(e["length"] == 12 + 36 for e in elements)


def test_drive_shows_its_medium_and_where_it_came_from(a: Initiator) -> None:
    assert a.run(move(SLOT0 + 2, DRIVE0)).good
    _, elements = parse_status(a.run(read_element_status(kind=4)).data)
    first = elements[0]
    assert first["flags"] == 0x09 and first["barcode"] == "HPT003L6"
    assert first["svalid"] and first["source"] == SLOT0 + 2
    assert first["lun"] == 0x10 | 1  # LU VALID, LUN 1
    assert elements[1]["flags"] == 0x08 and elements[1]["barcode"] == ""


def test_dvcid_reports_the_drives_identifiers(a: Initiator) -> None:
    header, elements = parse_status(a.run(read_element_status(kind=0, dvcid=True)).data)
    drives = [e for e in elements if e["type"] == 4]
    ident = drives[1]["ident"]
    assert isinstance(ident, bytes) and ident[:4] == bytes((2, 1, 0, 34))
    assert ident[4:38] == b"HPT     VIRTUAL-TAPE    DRV1      "
    slots = [e for e in elements if e["type"] == 2]
    assert slots[0]["ident"] == bytes(4)  # an empty identifier for elements that are no drive


def test_without_voltag(a: Initiator) -> None:
    header, elements = parse_status(a.run(read_element_status(kind=2, voltag=False)).data)
    assert header["count"] == 8 and all("barcode" not in e and e["length"] == 12 for e in elements)


@pytest.mark.parametrize(("kind", "start", "count", "addresses"), [
    (2, 0, 0xFFFF, list(range(SLOT0, SLOT0 + 8))),
    (2, SLOT0 + 6, 0xFFFF, [SLOT0 + 6, SLOT0 + 7]),
    (0, SLOT0 + 7, 3, [SLOT0 + 7, IE0, DRIVE0]),
    (3, 0, 1, [IE0]),
    (1, 0, 5, [1]),
    (0, 0, 0, []),
])
def test_type_start_and_count_filter(a: Initiator, kind: int, start: int, count: int,
                                     addresses: list[int]) -> None:
    header, elements = parse_status(a.run(read_element_status(kind, start, count)).data)
    assert [e["address"] for e in elements] == addresses
    assert header["count"] == len(addresses) and header["first"] == (addresses[0] if addresses else 0)


def test_allocation_length_cuts_the_data_not_the_byte_count(a: Initiator) -> None:
    full = a.run(read_element_status()).data
    reply = a.run(read_element_status(alloc=50))
    assert reply.good and reply.result.in_len == 50 and reply.data == full[:50]
    assert int.from_bytes(reply.data[5:8], "big") == len(full) - 8


def test_bad_element_type_and_start(a: Initiator) -> None:
    reply = a.run(read_element_status(kind=5))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 3, True)
    assert a.run(read_element_status(kind=1, start=2)).asc == INVALID_ELEMENT_ADDRESS
    assert a.run(read_element_status(kind=0, start=0xFFFF)).asc == INVALID_ELEMENT_ADDRESS
