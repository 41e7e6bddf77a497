"""MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-5 6.11-6.14, 7.5)."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    MODE_PARAMETERS_CHANGED,
    PARAMETER_LIST_LENGTH_ERROR,
    SAVING_PARAMETERS_NOT_SUPPORTED,
    DeviceType,
)
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.spc.mode import ModePage, page_bytes

from .conftest import BLOCK, NBLOCKS, Initiator, Reply, make_lu, other_profile


def sense6(page: int, subpage: int = 0, pc: int = 0, dbd: bool = False, alloc: int = 255) -> bytes:
    return bytes((0x1A, 0x08 if dbd else 0, pc << 6 | page, subpage, alloc, 0))


def sense10(page: int, subpage: int = 0, pc: int = 0, dbd: bool = False, llbaa: bool = False,
            alloc: int = 4096) -> bytes:
    return struct.pack(">BBBBxxxHB", 0x5A, (0x08 if dbd else 0) | (0x10 if llbaa else 0), pc << 6 | page,
                       subpage, alloc, 0)


def select6(length: int, sp: bool = False) -> bytes:
    return bytes((0x15, 0x10 | (1 if sp else 0), 0, 0, length, 0))


def select10(length: int) -> bytes:
    return struct.pack(">BBxxxxxHB", 0x55, 0x10, length, 0)


def pages_of(data: bytes, header: int) -> list[tuple[int, int, bytes]]:
    """(code, subpage, page bytes) after the mode parameter header and block descriptors."""
    bdl = data[3] if header == 4 else struct.unpack_from(">H", data, 6)[0]
    off, out = header + bdl, []
    while off < len(data):
        spf = data[off] & 0x40
        n = (4 + struct.unpack_from(">H", data, off + 2)[0]) if spf else 2 + data[off + 1]
        out.append((data[off] & 0x3F, data[off + 1] if spf else 0, data[off : off + n]))
        off += n
    return out


def current(ini: Initiator, code: int, subpage: int = 0) -> bytes:
    return pages_of(ini.run(sense6(code, subpage, dbd=True)).data, 4)[0][2]


def select_pages(ini: Initiator, *pages: bytes, bd: bytes = b"") -> Reply:
    body = bytes((0, 0, 0, len(bd))) + bd + b"".join(pages)
    return ini.run(select6(len(body)), body)


def test_sense6_all_pages(a: Initiator) -> None:
    r = a.run(sense6(0x3F))
    d = r.data
    assert r.good and d[0] == len(d) - 1 and d[1] == 0
    assert d[2] == 0x10  # DPOFUA, not write protected
    assert d[3] == 8 and struct.unpack_from(">II", d, 4) == (NBLOCKS, BLOCK)
    assert [(c, s) for c, s, _ in pages_of(d, 4)] == [(0x01, 0), (0x08, 0), (0x0A, 0), (0x1C, 0)]


def test_sense6_all_pages_and_subpages(a: Initiator) -> None:
    codes = [(c, s) for c, s, _ in pages_of(a.run(sense6(0x3F, 0xFF)).data, 4)]
    assert codes == [(0x01, 0), (0x08, 0), (0x0A, 0), (0x0A, 1), (0x1C, 0)]


def test_sense_one_page_and_its_subpages(a: Initiator) -> None:
    assert [(c, s) for c, s, _ in pages_of(a.run(sense6(0x0A, 0xFF)).data, 4)] == [(0x0A, 0), (0x0A, 1)]
    page = pages_of(a.run(sense6(0x0A, 0x01)).data, 4)[0][2]
    assert page[:4] == bytes((0x4A, 0x01, 0x00, 0x1C)) and len(page) == 32


def test_control_page(a: Initiator) -> None:
    page = current(a, 0x0A)
    assert page[:2] == bytes((0x0A, 0x0A))
    assert page[2] >> 5 == 0 and page[2] & 0x04 == 0  # TST 000b, D_SENSE off
    assert page[3] >> 4 == 1 and (page[3] >> 1) & 3 != 2  # QUEUE ALGORITHM MODIFIER 1, QERR valid
    assert struct.unpack_from(">H", page, 8)[0] == 0xFFFF  # busy timeout period: unlimited


def test_dbd_and_long_lba(a: Initiator) -> None:
    assert a.run(sense6(0x08, dbd=True)).data[3] == 0
    d = a.run(sense10(0x08, llbaa=True)).data
    assert d[4] & 1 and struct.unpack_from(">H", d, 6)[0] == 16
    assert struct.unpack_from(">Q4xI", d, 8) == (NBLOCKS, BLOCK)
    assert struct.unpack_from(">H", d, 0)[0] == len(d) - 2
    short = a.run(sense10(0x08)).data
    assert short[4] == 0 and struct.unpack_from(">H", short, 6)[0] == 8


def test_write_protect_bit(a: Initiator) -> None:
    a.target.add_lu(make_lu(1, readonly=True))
    a.clear_ua()
    assert a.run(sense6(0x3F), lun=1).data[2] & 0x80


def test_non_disk_has_no_block_descriptor_or_disk_pages(a: Initiator) -> None:
    a.target.add_lu(make_lu(2, profile=other_profile(DeviceType.TAPE)))
    a.clear_ua()
    d = a.run(sense6(0x3F, 0xFF), lun=2).data
    assert d[2] == 0 and d[3] == 0
    assert [(c, s) for c, s, _ in pages_of(d, 4)] == [(0x0A, 0), (0x0A, 1), (0x1C, 0)]
    assert a.run(sense6(0x08), lun=2).asc == INVALID_FIELD_IN_CDB


def test_changeable_and_default_values(a: Initiator, lu: LogicalUnit) -> None:
    caching = pages_of(a.run(sense6(0x08, pc=1, dbd=True)).data, 4)[0][2]
    assert caching[2] == 0x04 and not any(caching[3:])
    control = pages_of(a.run(sense6(0x0A, pc=1, dbd=True)).data, 4)[0][2]
    assert control[2] == 0x04 and control[3] & 0x08 == 0  # D_SENSE yes, SWP no
    lu.wce = False
    assert pages_of(a.run(sense6(0x08, pc=2, dbd=True)).data, 4)[0][2][2] & 0x04  # default WCE on
    assert current(a, 0x08)[2] & 0x04 == 0


def test_saved_values_not_supported(a: Initiator) -> None:
    r = a.run(sense6(0x08, pc=3))
    assert r.asc == SAVING_PARAMETERS_NOT_SUPPORTED and r.sks == (2, 7, True)


@pytest.mark.parametrize(("page", "subpage", "field"), [(0x05, 0, 2), (0x08, 0x02, 3), (0x3F, 0x05, 3)])
def test_unknown_page(a: Initiator, page: int, subpage: int, field: int) -> None:
    r = a.run(sense6(page, subpage))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == field


def test_allocation_length_cuts(a: Initiator) -> None:
    r = a.run(sense6(0x3F, alloc=4))
    assert r.good and r.result.in_len == 4 and len(r.data) == 4


def test_select_wce_round_trip(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    page = bytearray(current(a, 0x08))
    page[2] &= ~0x04
    assert select_pages(a, bytes(page)).good
    assert lu.wce is False and current(a, 0x08)[2] & 0x04 == 0
    assert lu.ua.peek(b.port) == MODE_PARAMETERS_CHANGED
    assert lu.ua.peek(a.port) is None


def test_select_unchanged_values_raise_no_unit_attention(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert select_pages(a, current(a, 0x08), current(a, 0x0A)).good
    assert lu.ua.peek(b.port) is None


def test_select_d_sense_switches_sense_format(a: Initiator, lu: LogicalUnit) -> None:
    page = bytearray(current(a, 0x0A))
    page[2] |= 0x04
    page[0] |= 0x80  # PS is ignored by MODE SELECT
    assert select_pages(a, bytes(page)).good
    assert lu.d_sense is True
    r = a.run(sense6(0x08, pc=3))
    assert r.result.sense[0] == 0x72 and r.asc == SAVING_PARAMETERS_NOT_SUPPORTED


def test_select10_with_long_block_descriptor(a: Initiator, lu: LogicalUnit) -> None:
    page = bytearray(current(a, 0x08))
    page[2] &= ~0x04
    bd = struct.pack(">Q4xI", 0, BLOCK)
    body = struct.pack(">HBBBxH", 0, 0, 0, 1, len(bd)) + bd + bytes(page)
    assert a.run(select10(len(body)), body).good
    assert lu.wce is False


def test_select_non_changeable_bit(a: Initiator, lu: LogicalUnit) -> None:
    caching = bytearray(current(a, 0x08))
    caching[2] &= ~0x04
    control = bytearray(current(a, 0x0A))
    control[3] ^= 0x02  # QERR is not changeable
    r = select_pages(a, bytes(caching), bytes(control))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST
    assert r.sks == (4 + 20 + 3, 1, False)
    assert lu.wce is True  # nothing applied


def test_select_wrong_page_length(a: Initiator) -> None:
    page = current(a, 0x08)
    bad = bytes((page[0], page[1] - 1)) + page[2:-1]
    r = select_pages(a, bad)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (5, None, False)


def test_select_unknown_page(a: Initiator) -> None:
    r = select_pages(a, page_bytes(0x05, bytes(10)))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 4


def test_select_truncated_page(a: Initiator) -> None:
    page = current(a, 0x08)
    body = bytes(4) + page[:10]
    assert a.run(select6(len(body)), body).asc == PARAMETER_LIST_LENGTH_ERROR


def test_select_header_checks(a: Initiator) -> None:
    assert a.run(select6(3), bytes(3)).asc == PARAMETER_LIST_LENGTH_ERROR
    r = a.run(select6(4), bytes((0, 5, 0, 0)))  # MEDIUM TYPE must be zero
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 1
    assert a.run(select6(12), bytes((0, 0, 0, 8))).asc == PARAMETER_LIST_LENGTH_ERROR
    r = a.run(select6(8), bytes((0, 0, 0, 4)) + bytes(4))  # 4-byte block descriptor
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 3
    assert a.run(select6(0)).good


def test_select_parameter_list_longer_than_data(a: Initiator) -> None:
    assert a.run(select6(24), bytes(8)).asc == PARAMETER_LIST_LENGTH_ERROR


def test_select_block_descriptor_checks(a: Initiator) -> None:
    r = select_pages(a, bd=struct.pack(">II", 0, 4096))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 4 + 5
    r = select_pages(a, bd=struct.pack(">II", 12345, BLOCK))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 4
    assert select_pages(a, bd=struct.pack(">II", NBLOCKS, BLOCK)).good


def test_select_saving_rejected(a: Initiator) -> None:
    r = a.run(select6(0, sp=True))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 0, True)


def test_lu_reset_restores_defaults(a: Initiator, lu: LogicalUnit) -> None:
    page = bytearray(current(a, 0x0A))
    page[2] |= 0x04
    select_pages(a, bytes(page))
    assert lu.d_sense
    a.target.lu_reset(0)
    assert not lu.d_sense and lu.wce


def test_a_profiles_own_page(a: Initiator) -> None:
    """A mode page of one device profile is served (and changed) on its LUs only."""
    body = bytes((0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    mask = page_bytes(0x0F, bytes((0x40,)) + bytes(13))
    page = ModePage(0x0F, 0, page_bytes(0x0F, body), mask)
    a.target.add_lu(make_lu(3, profile=other_profile(DeviceType.TAPE, mode_pages=(page,))))
    a.clear_ua()
    assert a.run(sense6(0x0F)).asc == INVALID_FIELD_IN_CDB  # LU 0 is a disk
    page = pages_of(a.run(sense6(0x0F, dbd=True), lun=3).data, 4)[0][2]
    assert page == page_bytes(0x0F, body)
    changed = bytearray(page)
    changed[2] = 0x00
    body6 = bytes(4) + bytes(changed)
    assert a.run(select6(len(body6)), body6, lun=3).good
    assert pages_of(a.run(sense6(0x0F, dbd=True), lun=3).data, 4)[0][2][2] == 0
