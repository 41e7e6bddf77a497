"""INQUIRY standard data and VPD pages (SPC-5 6.7, 7.7; SBC-4 6.6)."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, LUN_NOT_SUPPORTED, DeviceType
from hpt.scsi.core.transfer import MAX_BUFFER
from hpt.scsi.sbc import vpd as sbc_vpd
from hpt.scsi.sbc.profile import SBC_3, SBC_4
from hpt.scsi.spc import vpd
from hpt.scsi.spc.inquiry import SAM_5, SPC_5
from hpt.scsi.target import ScsiTarget

from .conftest import TARGET_NAME, Initiator, make_lu, make_nexus, other_profile


def inquiry(evpd: int = 0, page: int = 0, alloc: int = 255, cmddt: int = 0) -> bytes:
    return struct.pack(">BBBHB", 0x12, evpd | cmddt << 1, page, alloc, 0)


def designators(page: bytes) -> list[tuple[int, int, int, int, int, bytes]]:
    """(protocol, code set, PIV, association, type, value) of each designation descriptor."""
    out = []
    off = 4
    while off < len(page):
        b0, b1, n = page[off], page[off + 1], page[off + 3]
        out.append((b0 >> 4, b0 & 0xF, b1 >> 7, (b1 >> 4) & 3, b1 & 0xF, page[off + 4 : off + 4 + n]))
        off += 4 + n
    return out


def test_standard_inquiry_fields(a: Initiator) -> None:
    r = a.run(inquiry(alloc=260))
    assert r.good and len(r.data) == 96
    d = r.data
    assert d[0] == 0x00  # qualifier 000b, direct access
    assert d[2] == 0x06  # SPC-4: libiscsi accepts only 04h..06h
    assert d[3] == 0x12  # HISUP, RESPONSE DATA FORMAT 2
    assert d[4] == 91
    assert d[5] == 0x10  # TPGS 01b: implicit ALUA
    assert d[7] == 0x02  # CMDQUE
    assert d[8:16] == b"HPT     " and d[16:32] == b"VIRTUAL-DISK    " and d[32:36] == b"0001"
    versions = struct.unpack_from(">8H", d, 58)
    assert {SAM_5, SPC_5, 0x0960, SBC_4, SBC_3} <= set(versions)
    assert d[74:] == bytes(22)


def test_standard_inquiry_params(a: Initiator) -> None:
    target = a.target
    target.add_lu(make_lu(1, vendor="Acme\x01Co-Long-Vendor", product="P", revision="R9", removable=True))
    d = a.run(inquiry(), lun=1).data
    assert d[1] == 0x80  # RMB
    assert d[8:16] == b"Acme Co-"  # non-ASCII becomes a space, cut to 8
    assert d[16:32] == b"P".ljust(16) and d[32:36] == b"R9  "


def test_multiport_bit() -> None:
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(1, 2))
    t.add_lu(make_lu(0))
    assert Initiator(t, make_nexus("iqn.x", 1)).run(inquiry()).data[6] & 0x10


@pytest.mark.parametrize("alloc", [0, 5, 36, 95])
def test_allocation_length_cuts(a: Initiator, alloc: int) -> None:
    r = a.run(inquiry(alloc=alloc))
    assert r.good and r.result.in_len == alloc


def test_alloc_511_and_512_same(a: Initiator) -> None:
    assert a.run(inquiry(alloc=511)).data == a.run(inquiry(alloc=512)).data


def test_cmddt_rejected(a: Initiator) -> None:
    r = a.run(inquiry(cmddt=1))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 1, True)


def test_page_code_without_evpd(a: Initiator) -> None:
    r = a.run(inquiry(page=1, alloc=256))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (2, None, True)


def test_unknown_vpd_page(a: Initiator) -> None:
    r = a.run(inquiry(evpd=1, page=0x99))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == 2


def test_supported_pages_disk(a: Initiator) -> None:
    d = a.run(inquiry(evpd=1, page=0)).data
    assert d[1] == 0 and list(d[4:]) == [0x00, 0x80, 0x83, 0x86, 0x8F, 0xB0, 0xB1, 0xB2]
    assert struct.unpack_from(">H", d, 2)[0] == len(d) - 4


def test_supported_pages_other_type_lacks_sbc_pages(a: Initiator) -> None:
    a.target.add_lu(make_lu(2, profile=other_profile(DeviceType.TAPE)))
    d = a.run(inquiry(evpd=1, page=0), lun=2).data
    assert d[0] == DeviceType.TAPE and list(d[4:]) == [0x00, 0x80, 0x83, 0x86]
    r = a.run(inquiry(evpd=1, page=0xB0), lun=2)
    assert r.asc == INVALID_FIELD_IN_CDB


def test_every_listed_page_reads(a: Initiator) -> None:
    for code in a.run(inquiry(evpd=1, page=0)).data[4:]:
        d = a.run(inquiry(evpd=1, page=code)).data
        assert d[1] == code and struct.unpack_from(">H", d, 2)[0] == len(d) - 4


def test_unit_serial(a: Initiator) -> None:
    target = a.target
    target.add_lu(make_lu(3, serial="SN-42"))
    assert a.run(inquiry(evpd=1, page=0x80), lun=3).data[4:] == b"SN-42"
    derived = a.run(inquiry(evpd=1, page=0x80)).data[4:]
    assert len(derived) == 16 and derived.isalnum()
    twin = ScsiTarget(TARGET_NAME)
    twin.add_lu(make_lu(0))
    assert Initiator(twin, a.nexus).run(inquiry(evpd=1, page=0x80)).data[4:] == derived  # stable
    assert a.run(inquiry(evpd=1, page=0x80), lun=3).data[4:] != derived


def test_device_identification(a: Initiator) -> None:
    page = a.run(inquiry(evpd=1, page=0x83)).data
    ds = designators(page)
    naa = [d for d in ds if d[4] == vpd.TYPE_NAA]
    assert len(naa) == 1 and naa[0][1:4] == (vpd.CODE_BINARY, 0, 0) and naa[0][5][0] >> 4 == 3
    vendor = [d for d in ds if d[4] == vpd.TYPE_T10_VENDOR][0]
    assert vendor[5].startswith(b"HPT     ")
    names = {(d[3], d[5].rstrip(b"\0")) for d in ds if d[4] == vpd.TYPE_SCSI_NAME}
    assert (0, b"naa." + naa[0][5].hex().upper().encode()) in names
    assert (1, f"{TARGET_NAME},t,0x0001".encode()) in names
    assert (2, TARGET_NAME.encode()) in names
    rel = [d for d in ds if d[4] == vpd.TYPE_RELATIVE_PORT][0]
    assert rel[0] == 5 and rel[2] == 1 and rel[3] == 1 and rel[5] == b"\0\0\0\1"
    tpg = [d for d in ds if d[4] == vpd.TYPE_PORT_GROUP][0]
    assert tpg[3] == 1 and tpg[5] == b"\0\0\0\1"
    for d in ds:
        if d[4] == vpd.TYPE_SCSI_NAME:
            assert len(d[5]) % 4 == 0 and d[5].endswith(b"\0")


def test_configured_naa(a: Initiator) -> None:
    a.target.add_lu(make_lu(4, naa=0x5001405123456789))
    ds = designators(a.run(inquiry(evpd=1, page=0x83), lun=4).data)
    assert [d[5] for d in ds if d[4] == vpd.TYPE_NAA] == [bytes.fromhex("5001405123456789")]


def test_relative_port_follows_nexus(target: ScsiTarget) -> None:
    ini = Initiator(target, make_nexus("iqn.x", 7, rtpi=2))
    ds = designators(ini.run(inquiry(evpd=1, page=0x83)).data)
    assert [d[5] for d in ds if d[4] == vpd.TYPE_RELATIVE_PORT] == [b"\0\0\0\2"]


def test_extended_inquiry(a: Initiator) -> None:
    d = a.run(inquiry(evpd=1, page=0x86)).data
    assert len(d) == 64 and d[5] == 0x07 and d[6] == 0x01 and d[7] == 0x01


def test_block_limits_full(a: Initiator) -> None:
    d = a.run(inquiry(evpd=1, page=0xB0)).data
    assert len(d) == 64 and d[3] == 0x3C
    assert not d[4] & 1 and d[5] == sbc_vpd.MAX_CAW_BLOCKS  # WSNZ 0
    assert struct.unpack_from(">II", d, 20) == (0, 0)  # no UNMAP on a fully provisioned LU
    assert struct.unpack_from(">H", d, 6)[0] == 0  # one logical block per physical block
    assert struct.unpack_from(">5I", d, 44) == (0xFFFF, 0, 0, 0, 0)  # WRITE ATOMIC(16)'s 16-bit length
    # MAXIMUM TRANSFER LENGTH: what one command's buffer may hold (larger ones are CHECK CONDITION)
    assert struct.unpack_from(">I", d, 8)[0] == MAX_BUFFER // 512


def test_block_limits_physical_blocks_and_atomics(a: Initiator) -> None:
    """512 B logical blocks on 16 KiB physical ones: the unmap and transfer granularity are a physical
    block; a MAXIMUM TRANSFER LENGTH bounds the MAXIMUM ATOMIC TRANSFER LENGTH."""
    lu = make_lu(8, thin=True, max_xfer_blocks=4096)
    lu.params.extra["physical_block_size"] = 16384
    a.target.add_lu(lu)
    d = a.run(inquiry(evpd=1, page=0xB0), lun=8).data
    assert struct.unpack_from(">H", d, 6)[0] == 32 and struct.unpack_from(">I", d, 28)[0] == 32
    assert struct.unpack_from(">5I", d, 44) == (4096, 0, 0, 0, 0)


def test_block_limits_thin(a: Initiator) -> None:
    a.target.add_lu(make_lu(5, thin=True, max_xfer_blocks=2048, optimal_xfer_blocks=128))
    d = a.run(inquiry(evpd=1, page=0xB0), lun=5).data
    assert struct.unpack_from(">II", d, 8) == (2048, 128)
    assert struct.unpack_from(">II", d, 20) == (
        sbc_vpd.MAX_UNMAP_LBA_COUNT, sbc_vpd.MAX_UNMAP_BLOCK_DESCRIPTORS)
    assert struct.unpack_from(">I", d, 28)[0] == 8 and d[32] & 0x80  # 4 KiB granularity, UGAVALID


def test_block_device_characteristics(a: Initiator) -> None:
    a.target.add_lu(make_lu(6, rotation_rate=7200))
    assert struct.unpack_from(">H", a.run(inquiry(evpd=1, page=0xB1), lun=6).data, 4)[0] == 7200


def test_logical_block_provisioning(a: Initiator) -> None:
    assert a.run(inquiry(evpd=1, page=0xB2)).data == bytes((0, 0xB2, 0, 4, 0, 0, 0, 0))
    a.target.add_lu(make_lu(7, thin=True))
    d = a.run(inquiry(evpd=1, page=0xB2), lun=7).data
    assert d[5] == 0xE4 and d[6] & 0x07 == 2  # LBPU LBPWS LBPWS10, LBPRZ 001b; thin


def test_absent_lun(a: Initiator) -> None:
    r = a.run(inquiry(), lun=9)
    assert r.good and r.data[0] == 0x7F and len(r.data) == 96
    assert a.run(inquiry(evpd=1), lun=9).asc == LUN_NOT_SUPPORTED
    assert a.run(inquiry(cmddt=1), lun=9).asc == INVALID_FIELD_IN_CDB
