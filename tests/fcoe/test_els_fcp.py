"""ELS (FC-LS-3) and FCP (FCP-4) payload codecs against the reference capture, scapy and hypothesis."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.lab.pcap import Frame
from hpt.fcoe import els, fcp
from hpt.fcoe.frame import FrameError, decode_fcoe
from hpt.scsi.core.command import TaskAttr
from tests.fcoe.layers import FCP_CMND, FCP_RSP


def payload(capture: list[Frame], number: int) -> bytes:
    return bytes(decode_fcoe(capture[number - 1].data).payload)


def test_plogi_of_the_capture(capture: list[Frame]) -> None:
    login = els.decode_login(payload(capture, 14))
    assert (login.wwpn, login.wwnn, login.rx_size, login.class3) == (
        0x2000525400BB0002,
        0x1000525400BB0002,
        2112,
        True,
    )


def test_plogi_accept_is_lio_s_byte_for_byte(capture: list[Frame]) -> None:
    assert els.encode_login(els.LS_ACC, 0x2000525400AA0001, 0x1000525400AA0001, 2112) == payload(capture, 15)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(256, 2112))
def test_login_roundtrip(wwpn: int, wwnn: int, rx: int) -> None:
    login = els.decode_login(els.encode_login(els.PLOGI, wwpn, wwnn, rx))
    assert (login.wwpn, login.wwnn, login.rx_size) == (wwpn, wwnn, rx & ~3)


def test_prli_pages_of_the_capture(capture: list[Frame]) -> None:
    (page,) = els.decode_pages(payload(capture, 17))
    assert (page.fc4_type, page.flags, page.params) == (8, 0x20, 0x1A2)


@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**32 - 1)), min_size=1, max_size=8
    )
)
def test_pages_roundtrip(pages: list[tuple[int, int, int]]) -> None:
    raw = els.encode_pages(els.PRLI, [els.ServicePage(*p) for p in pages])
    assert [(p.fc4_type, p.flags, p.params) for p in els.decode_pages(raw)] == pages


@pytest.mark.parametrize(
    "raw",
    [
        b"\x20\x10",
        bytes.fromhex("20100018") + bytes(16),
        bytes.fromhex("20080014") + bytes(16),
        bytes.fromhex("20100014") + bytes(8),
    ],
)
def test_bad_pages(raw: bytes) -> None:
    with pytest.raises(FrameError):
        els.decode_pages(raw)


def test_short_login_and_rec() -> None:
    with pytest.raises(FrameError):
        els.decode_login(bytes(100))
    with pytest.raises(FrameError):
        els.rec_request(bytes(8))


def test_reply_payloads() -> None:
    assert els.ls_rjt(els.RJT_NOT_SUPPORTED) == bytes.fromhex("01000000 000b0000")
    assert els.rtv_acc() == bytes.fromhex("02000000 00000fa0 000007d0 00000000")
    assert els.ba_rjt(3, 3) == bytes.fromhex("00030300")
    assert els.ba_acc(0x10, 0x20) == bytes.fromhex("00000000 00100020 0000ffff")


def test_every_fcp_cmnd_of_the_capture(capture: list[Frame]) -> None:
    cmnds = [decode_fcoe(f.data) for f in capture if f.fc_header() and f.fc_header()[0] == 0x06]  # type: ignore[index]
    decoded = [fcp.decode_cmnd(c.payload) for c in cmnds]
    assert len(decoded) == 221
    ops = {c.cdb[0] for c in decoded}
    assert {0x12, 0x9E, 0x00, 0xA0, 0x2A, 0x28} <= ops
    write = next(c for c in decoded if c.cdb[0] == 0x2A)
    assert write.write and not write.read and write.dl == 1 << 20 and write.attr == TaskAttr.SIMPLE


@given(
    st.integers(0, 255),
    st.sampled_from([0, 1, 2, 4]),
    st.integers(0, 3),
    st.sampled_from([0, 1, 2]),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 2**32 - 1),
    st.integers(0, 255),
)
def test_cmnd_from_scapy(lun: int, attr: int, add: int, rw: int, cdb: bytes, dl: int, tmf: int) -> None:
    raw = bytes(
        FCP_CMND(
            lun=bytes([0, lun]) + bytes(6),
            task_attr=attr,
            tmf=tmf,
            add_cdb_len=add,
            rddata=rw >> 1,
            wrdata=rw & 1,
            cdb=cdb + bytes(4 * add),
            dl=dl,
        )
    )
    cmnd = fcp.decode_cmnd(raw)
    assert (cmnd.lun, cmnd.tmf, cmnd.read, cmnd.write, cmnd.cdb, cmnd.dl) == (
        lun,
        tmf,
        bool(rw & 2),
        bool(rw & 1),
        cdb + bytes(4 * add),
        dl,
    )


@pytest.mark.parametrize(
    "raw",
    [
        bytes(31),
        bytes(9) + b"\x03" + bytes(22),
        bytes(11) + b"\x04" + bytes(20),
    ],
)
def test_bad_cmnd(raw: bytes) -> None:
    with pytest.raises(FrameError):
        fcp.decode_cmnd(raw)


@given(
    st.integers(0, 255), st.binary(max_size=96), st.integers(-(2**31), 2**31), st.none() | st.integers(0, 9)
)
def test_rsp_read_by_scapy(status: int, sense: bytes, resid: int, code: int | None) -> None:
    rsp = FCP_RSP(fcp.rsp(status, sense, resid, code))
    assert rsp.status == status and bytes(rsp.sense) == sense and rsp.resid == abs(resid)
    assert bool(rsp.flags & fcp.RESID_UNDER) == (resid > 0) and bool(rsp.flags & fcp.RESID_OVER) == (
        resid < 0
    )
    assert (rsp.rsp_info[3] if code is not None else None) == code


def test_xfer_rdy() -> None:
    assert fcp.xfer_rdy(4096, 1 << 20) == struct.pack(">III", 4096, 1 << 20, 0)
