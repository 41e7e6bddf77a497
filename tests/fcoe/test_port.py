"""The sans-I/O port end to end with the scapy initiator: FIP VN2VN login, PLOGI/PRLI, SCSI
commands over FCP, ABTS, task management, logout, and malformed or unexpected frames."""

from __future__ import annotations

import os
import struct

import pytest
from scapy.layers.l2 import Ether

from hpt.fcoe import exchange
from hpt.fcoe.port import FcoePort
from hpt.native.ring import Ring
from hpt.scsi.core.constants import Status
from tests.fcoe.conftest import INITIATOR_MAC, LandingLink, PortLink, free_slots, make_port, make_target
from tests.fcoe.initiator import Initiator, as_layer
from tests.fcoe.layers import ELS_ADISC, ELS_LS_RJT, ELS_PRLI, ELS_REC, FC, FCP_RSP, FIP, ELS_Login, FCoE

INQUIRY = bytes([0x12, 0, 0, 0, 96, 0])
READ_CAPACITY_16 = bytes([0x9E, 0x10]) + bytes(8) + struct.pack(">I", 32) + bytes(2)
TEST_UNIT_READY = bytes(6)


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0)


def test_vn2vn_login_and_prli(logged_in: Initiator, port: FcoePort) -> None:
    status = port.status()
    assert status["state"] == "up" and status["port_id"] == "000001"
    assert status["rports"] == [{"wwpn": "20:00:52:54:00:bb:00:02", "port_id": "000002", "state": "ready"}]
    prli = as_layer([p for p in logged_in.seen if FC in p and p[FC].r_ctl == 0x23][-1], ELS_PRLI)
    assert prli.params & 0x10 and not prli.params & 0x20  # target function, no initiator function


def test_claim_response_pads_to_max_fcoe_size(logged_in: Initiator) -> None:
    claim_rsp = next(p for p in logged_in.seen if FIP in p and p[FIP].subcode == 4)
    assert len(claim_rsp) == 14 + 2158 and claim_rsp.dst == INITIATOR_MAC


def test_target_with_higher_wwpn_sends_plogi(target, ring: Ring) -> None:  # type: ignore[no-untyped-def]
    port = make_port(target, ring, wwpn=0x2000FFFFFFFFFFFF)
    ini = Initiator(PortLink(port), INITIATOR_MAC)
    ini.login()
    ini.clear_unit_attention()
    assert any(
        FC in p and p[FC].r_ctl == 0x22 and ELS_Login in p and p[ELS_Login].cmd == 0x03 for p in ini.seen
    )
    assert ini.scsi(TEST_UNIT_READY).status == Status.GOOD


def test_target_plogi_is_retried_after_a_busy_reject(target, ring: Ring) -> None:  # type: ignore[no-untyped-def]
    port = make_port(target, ring, wwpn=0x2000FFFFFFFFFFFF)
    ini = Initiator(PortLink(port), INITIATOR_MAC)
    ini.fip_login()
    ini.flogi()
    first = ini.target_plogi()
    rjt = ELS_LS_RJT(reason=0x0E)  # logical busy, as Linux answers a PLOGI that overtook the FLOGI accept
    ini.send(ini.fc(FC(r_ctl=0x23, type=1, f_ctl=0x990000, ox_id=first[FC].ox_id, rx_id=0xFFFF), rjt))
    second = ini.target_plogi()
    assert second[FC].ox_id != first[FC].ox_id and not port.rports
    ini.on_unexpected(second)
    assert as_layer(ini.prli(), ELS_PRLI).flags & 0x0F == 1 and port.rports[2].state == "ready"


def test_inquiry_and_read_capacity(logged_in: Initiator) -> None:
    inq = logged_in.scsi(INQUIRY, read=96)
    assert inq.status == Status.GOOD and inq.data[8:16].rstrip() == b"HPT"
    cap = logged_in.scsi(READ_CAPACITY_16, read=32)
    assert cap.status == Status.GOOD
    assert struct.unpack_from(">QI", cap.data) == ((8 << 20) // 512 - 1, 512)


def test_write_read_verify_multi_frame_and_bursts(
    logged_in: Initiator, monkeypatch: pytest.MonkeyPatch, ring: Ring
) -> None:
    monkeypatch.setattr(exchange, "MAX_BURST", 64 * 1024)
    data = os.urandom(200 * 1024 + 512)
    blocks = len(data) // 512
    wr = logged_in.scsi(write10(100, blocks), data_out=data)
    assert wr.status == Status.GOOD and wr.resid == 0
    assert wr.xfer_rdys == [(0, 65536), (65536, 65536), (131072, 65536), (196608, len(data) - 196608)]
    rd = logged_in.scsi(read10(100, blocks), read=len(data))
    assert rd.status == Status.GOOD and rd.data == data
    data_frames = [p for p in logged_in.seen if FC in p and p[FC].r_ctl == 0x01]
    assert max(len(bytes(p[FC].payload)) for p in data_frames) == 2048  # the initiator's PLOGI receive size
    assert free_slots(ring) == ring.nslots


def test_large_transfer_beyond_a_slot_uses_a_heap_buffer(logged_in: Initiator, ring: Ring) -> None:
    data = os.urandom(ring.slot_size + 4096)
    assert logged_in.scsi(write10(0, len(data) // 512), data_out=data).status == Status.GOOD
    assert logged_in.scsi(read10(0, len(data) // 512), read=len(data)).data == data
    assert free_slots(ring) == ring.nslots


def test_residual_underflow_and_overflow(logged_in: Initiator) -> None:
    under = logged_in.scsi(INQUIRY[:4] + bytes([36, 0]), read=255)
    assert under.flags & 0x08 and under.resid == 255 - 36 and len(under.data) == 36
    over = logged_in.scsi(read10(0, 2), read=512)
    assert over.flags & 0x04 and over.resid == 512 and len(over.data) == 512


def test_unknown_lun_check_condition_with_sense(logged_in: Initiator) -> None:
    reply = logged_in.scsi(TEST_UNIT_READY, lun=5)
    assert reply.status == Status.CHECK_CONDITION and reply.flags & 0x02
    assert reply.sense[2] & 0x0F == 0x05 and reply.sense[12] == 0x25  # ILLEGAL REQUEST, LUN NOT SUPPORTED


def test_bidirectional_command_is_refused_with_check_condition(logged_in: Initiator, port: FcoePort) -> None:
    reply = logged_in.scsi(write10(0, 1), read=64, data_out=bytes(512))  # RDDATA and WRDATA both set
    assert reply.status == Status.CHECK_CONDITION
    assert (reply.sense[2] & 0x0F, reply.sense[12]) == (0x05, 0x24)  # ILLEGAL REQUEST, INVALID FIELD IN CDB
    assert port.counters["fcp_bidirectional"] == 1 and not port.engine.open
    assert logged_in.scsi(TEST_UNIT_READY).status == Status.GOOD  # the port goes on


def test_abts_of_outstanding_write(logged_in: Initiator, port: FcoePort, ring: Ring) -> None:
    ox = logged_in.command(write10(0, 8), data_out=bytes(4096))
    xfer = logged_in.fc_reply(ox, "XFER_RDY")
    assert xfer[FC].r_ctl == 0x05
    assert free_slots(ring) == ring.nslots - 1
    reply = logged_in.abts(ox)
    assert reply[FC].r_ctl == 0x84
    acc = Initiator.ba_acc(reply)
    assert (acc.ox_id, acc.rx_id, acc.high_seq_cnt) == (ox, xfer[FC].rx_id, 0xFFFF)
    assert free_slots(ring) == ring.nslots and not port.engine.open
    # Data for the aborted exchange is dropped and counted.
    logged_in.send_data(ox, xfer[FC].rx_id, bytes(4096), 0)
    assert port.counters["fcp_data_unknown_exchange"] == 2
    assert logged_in.scsi(TEST_UNIT_READY).status == Status.GOOD


def test_write_data_lands_in_its_buffer_and_interleaved_writes_stay_whole(port: FcoePort, ring: Ring) -> None:
    """Received as the driver does (``LandingLink``): a write's data frames land in its buffer; a frame
    of another write that lands there is moved to its own (counted), and both writes stay whole."""
    link = LandingLink(port)
    ini = Initiator(link, INITIATOR_MAC)
    ini.login()
    ini.clear_unit_attention()
    a, b = os.urandom(16384), os.urandom(16384)
    ox_a = ini.command(write10(0, 32), data_out=a)
    rx_a = ini.fc_reply(ox_a, "XFER_RDY")[FC].rx_id
    ox_b = ini.command(write10(64, 32), data_out=b)
    rx_b = ini.fc_reply(ox_b, "XFER_RDY")[FC].rx_id
    ini.send_data(ox_a, rx_a, a, 0)  # b's XFER_RDY went last: the port expected b's data first
    assert ini.response(ox_a).status == Status.GOOD
    ini.send_data(ox_b, rx_b, b, 0)
    assert ini.response(ox_b).status == Status.GOOD
    assert link.in_place == 16 and port.counters.get("fcp_data_moved") == 1  # 8 frames each, one moved
    assert ini.scsi(read10(0, 32), read=16384).data == a
    assert ini.scsi(read10(64, 32), read=16384).data == b
    assert free_slots(ring) == ring.nslots


def test_abts_of_unknown_exchange_is_rejected(logged_in: Initiator) -> None:
    reply = logged_in.abts(0x7777)
    assert reply[FC].r_ctl == 0x85 and bytes(reply[FC].payload)[1:3] == b"\x03\x03"


def test_lu_reset_aborts_open_writes(logged_in: Initiator, port: FcoePort) -> None:
    logged_in.command(write10(0, 8), data_out=bytes(4096))
    ox = logged_in.command(b"", tmf=0x10)
    reply = logged_in.response(ox)
    assert reply.rsp_info[3] == 0 and not port.engine.open
    ua = logged_in.scsi(TEST_UNIT_READY)
    assert ua.status == Status.CHECK_CONDITION and ua.sense[12] == 0x29  # BUS DEVICE RESET FUNCTION OCCURRED


def test_task_management_codes(logged_in: Initiator) -> None:
    assert logged_in.response(logged_in.command(b"", lun=9, tmf=0x02)).rsp_info[3] == 9  # incorrect LUN
    assert logged_in.response(logged_in.command(b"", tmf=0x40)).rsp_info[3] == 4  # CLEAR ACA: not supported
    assert logged_in.response(logged_in.command(b"", tmf=0x04)).rsp_info[3] == 0


def test_out_of_order_seq_cnt_fails_the_command(logged_in: Initiator, port: FcoePort) -> None:
    ox = logged_in.command(write10(0, 16), data_out=bytes(8192))
    rx_id = logged_in.fc_reply(ox, "XFER_RDY")[FC].rx_id
    first = logged_in.fc(
        FC(r_ctl=0x01, type=8, f_ctl=0x8, seq_id=1, seq_cnt=0, ox_id=ox, rx_id=rx_id), bytes(2048)
    )
    skipped = logged_in.fc(
        FC(r_ctl=0x01, type=8, f_ctl=0x8, seq_id=1, seq_cnt=2, ox_id=ox, rx_id=rx_id, parameter=2048),
        bytes(2048),
    )
    logged_in.send(first)
    logged_in.send(skipped)
    rsp = logged_in.fc_reply(ox, "FCP_RSP")[FCP_RSP]
    assert rsp.status == Status.CHECK_CONDITION and rsp.sense[12] == 0x4B  # DATA PHASE ERROR
    assert port.counters["fcp_data_out_of_order"] == 1 and not port.engine.open


def test_els_adisc_rtv_rrq_rscn_rec(logged_in: Initiator) -> None:
    adisc = as_layer(logged_in.els(ELS_ADISC(), "ADISC"), ELS_ADISC)
    assert (adisc.cmd, adisc.wwpn, adisc.port_id) == (0x02, 0x2000525400AA0001, 1)
    rtv = logged_in.els(bytes([0x0E, 0, 0, 0]), "RTV")
    assert bytes(rtv[FC].payload)[:12] == bytes.fromhex("02000000 00000fa0 000007d0")
    assert bytes(logged_in.els(bytes([0x12, 0, 0, 0]) + bytes(8), "RRQ")[FC].payload)[0] == 0x02
    assert bytes(logged_in.els(bytes.fromhex("61040008 00000002"), "RSCN")[FC].payload)[0] == 0x02
    ox = logged_in.command(write10(0, 8), data_out=bytes(4096))
    logged_in.fc_reply(ox, "XFER_RDY")
    rec = logged_in.els(ELS_REC(originator=2, ox_id=ox), "REC")
    assert bytes(rec[FC].payload)[0] == 0x02
    rec_unknown = logged_in.els(ELS_REC(originator=2, ox_id=0x4444), "REC")[ELS_LS_RJT]
    assert (rec_unknown.reason, rec_unknown.explanation) == (0x03, 0x17)


def test_unknown_els_is_rejected_as_not_supported(logged_in: Initiator, port: FcoePort) -> None:
    rjt = logged_in.els(bytes([0x77, 0, 0, 0]), "LS_RJT")[ELS_LS_RJT]
    assert (rjt.cmd, rjt.reason) == (0x01, 0x0B)
    short = logged_in.els(b"", "LS_RJT")[ELS_LS_RJT]
    assert short.reason == 0x07 and port.counters["bad_els"] == 1


def test_prli_before_plogi_needs_login(initiator: Initiator) -> None:
    initiator.fip_login()
    rjt = initiator.prli()[ELS_LS_RJT]
    assert (rjt.reason, rjt.explanation) == (0x09, 0x1E)


def test_command_without_login_gets_logo(initiator: Initiator, port: FcoePort) -> None:
    initiator.fip_login()
    initiator.command(TEST_UNIT_READY)
    logo = initiator.expect(lambda p: FC in p and p[FC].r_ctl == 0x22, "LOGO")
    assert bytes(logo[FC].payload)[0] == 0x05 and port.counters["fcp_not_logged_in"] == 1


def test_initiator_acl(target, ring: Ring) -> None:  # type: ignore[no-untyped-def]
    port = make_port(target, ring, initiators=[0x2000000000000001])
    ini = Initiator(PortLink(port), INITIATOR_MAC)
    ini.fip_login()
    flogi = ini.flogi()
    assert bytes(flogi[FIP].descriptors[0].value)[2 + 24] == 0x01  # LS_RJT inside FIP
    assert ini.plogi()[ELS_LS_RJT].reason == 0x09
    assert not port.rports and port.counters["initiator_not_allowed"] == 2


def test_logo_ends_the_nexus(logged_in: Initiator, port: FcoePort) -> None:
    assert bytes(logged_in.logo()[FC].payload)[0] == 0x02 and not port.rports
    logged_in.command(TEST_UNIT_READY)
    assert logged_in.expect(lambda p: FC in p and p[FC].r_ctl == 0x22, "LOGO")[FC].s_id == 1


def test_logo_in_fip_ends_the_login(logged_in: Initiator, port: FcoePort) -> None:
    reply = logged_in.fip_logo()[FIP]
    desc = reply.descriptors[0]
    assert (reply.subcode, desc.type, bytes(desc.value)[2], bytes(desc.value)[2 + 24]) == (2, 9, 0x23, 0x02)
    assert not port.rports


def test_prlo_ends_the_image_pair(logged_in: Initiator, port: FcoePort) -> None:
    acc = as_layer(logged_in.els(ELS_PRLI(cmd=0x21, flags=0, params=0), "PRLO"), ELS_PRLI)
    assert acc.cmd == 0x02 and acc.flags & 0x0F == 1
    assert port.rports[2].state == "plogi"


def test_peer_ages_out_after_two_and_a_half_beacon_periods(logged_in: Initiator, port: FcoePort) -> None:
    link = logged_in.link
    assert isinstance(link, PortLink)
    link.limit = link.now + 21.0
    assert logged_in.link.recv() is not None  # a beacon at 8 s
    while logged_in.link.recv() is not None:
        pass
    assert not port.rports and not port.vn.peers and port.counters["peers_aged_out"] == 1


def test_fc_traffic_keeps_a_peer_alive_without_beacons(logged_in: Initiator, port: FcoePort) -> None:
    link = logged_in.link
    assert isinstance(link, PortLink)
    for _ in range(4):  # 4 x 8 s of virtual time without a beacon from the initiator
        link.now += 8.0
        assert logged_in.scsi(TEST_UNIT_READY).status == Status.GOOD
    assert port.rports and "peers_aged_out" not in port.counters


@pytest.mark.parametrize(
    ("mangle", "counter"),
    [
        (lambda raw: raw[:40], "truncated"),
        (lambda raw: raw[:-8] + bytes([raw[-8] ^ 1]) + raw[-7:], "bad_crc"),
        (lambda raw: raw[:27] + b"\x99" + raw[28:], "bad_sof"),
        (lambda raw: raw[:-4] + b"\x77" + raw[-3:], "bad_eof"),
        (lambda raw: raw[:14] + b"\x10" + raw[15:], "bad_version"),
    ],
)
def test_malformed_frames_are_dropped_and_counted(
    logged_in: Initiator, port: FcoePort, mangle, counter
) -> None:  # type: ignore[no-untyped-def]
    good = bytes(logged_in.fc(FC(r_ctl=0x06, type=8, ox_id=0x999), bytes(32)))
    logged_in.send(mangle(good))
    assert port.counters[counter] == 1
    assert logged_in.scsi(TEST_UNIT_READY).status == Status.GOOD


def test_oversized_frame_is_dropped(logged_in: Initiator, port: FcoePort) -> None:
    logged_in.send(logged_in.fc(FC(r_ctl=0x22, type=1), bytes(2116)))
    assert port.counters["oversized"] == 1


def test_frame_for_another_port_is_ignored(logged_in: Initiator, port: FcoePort) -> None:
    pkt = logged_in.fc(FC(r_ctl=0x22, type=1, d_id=0x000099), bytes([0x0E, 0, 0, 0]))
    logged_in.send(pkt)
    assert port.counters["not_for_us"] == 1


def test_two_luns(ring: Ring) -> None:
    port = make_port(make_target(2), ring)
    ini = Initiator(PortLink(port), INITIATOR_MAC)
    ini.login()
    ini.clear_unit_attention(0)
    ini.clear_unit_attention(1)
    a, b = os.urandom(4096), os.urandom(4096)
    assert ini.scsi(write10(0, 8), lun=0, data_out=a).status == Status.GOOD
    assert ini.scsi(write10(0, 8), lun=1, data_out=b).status == Status.GOOD
    assert ini.scsi(read10(0, 8), lun=0, read=4096).data == a
    assert ini.scsi(read10(0, 8), lun=1, read=4096).data == b


def test_scapy_layers_read_what_the_port_sends(logged_in: Initiator) -> None:
    frames = [p for p in logged_in.seen if FCoE in p]
    assert frames and all(Ether(bytes(p)) == p for p in frames)
