"""The fabric-mode FIP machine (FC-BB-6 7.8, ENode side) on crafted frames: solicitation,
advertisement selection, FIP FLOGI accept/reject/timeout, name server registration, keep-alive
timing, FCF loss, Clear Virtual Links for us and for others, LOGO."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from hpt.fcoe import fip, nameserver
from hpt.fcoe.fabric import FLOGI_TIMEOUT, FLOGI_TRIES, SELECT_DELAY, VN_KEEP_ALIVE, Fabric, State
from hpt.fcoe.fip import Enode, decode_fip
from hpt.fcoe.frame import decode_fcoe, parse_mac
from tests.fcoe.fcf_switch import FABRIC_NAME, FC_MAP, FCF_MAC, SWITCH_NAME, TARGET_ID
from tests.fcoe.layers import (
    CT,
    FC,
    FIP,
    FLAG_SOLICITED,
    ELS_Login,
    FCoE,
    advertisement,
    clear_virtual_links,
    fip_els_reply,
    vn_id_d,
    vn_mac,
)

ME = "52:54:00:aa:00:01"
WWNN, WWPN = 0x1000525400AA0001, 0x2000525400AA0001
FPMA = vn_mac(TARGET_ID, FC_MAP)
SOLICITED = 0x8005 | FLAG_SOLICITED


def machine() -> Fabric:
    fab = Fabric(Enode(parse_mac(ME), WWNN, WWPN, 2158), 2048, "hpt test")
    fab.start(0.0)
    return fab


def take(fab: Fabric) -> list[Packet]:
    out = [Ether(frame) for frame in fab.out]
    fab.out.clear()
    return out


def feed(fab: Fabric, pkt: Packet, now: float) -> None:
    fab.receive(decode_fip(bytes(pkt)), now)


def adv(
    flags: int = SOLICITED,
    mac: str = FCF_MAC,
    priority: int = 128,
    dst: str = ME,
    no_keep_alive: bool = False,
) -> Packet:
    return advertisement(
        mac, SWITCH_NAME, FABRIC_NAME, priority, flags=flags, dst=dst, no_keep_alive=no_keep_alive
    )


def flogi_of(pkt: Packet) -> Packet:
    return FC(bytes(pkt[FIP].descriptors[0].value)[2:])


def accept(fab: Fabric, flogi: Packet, now: float, granted: str = FPMA, d_id: int = TARGET_ID) -> None:
    reply = FC(r_ctl=0x23, d_id=d_id, s_id=0xFFFFFE, type=1, f_ctl=0x990000, ox_id=flogi_of(flogi).ox_id)
    acc = ELS_Login(cmd=0x02, wwpn=SWITCH_NAME, wwnn=FABRIC_NAME, features=0x1000)
    feed(fab, fip_els_reply(FCF_MAC, ME, 7, bytes(reply / acc), granted), now)


def selected(fab: Fabric) -> tuple[Packet, float]:
    """Advertise (solicited) and run to the FLOGI; returns it and the time."""
    feed(fab, adv(), 0.1)
    take(fab)
    now = fab.tick(0.1)
    assert now == pytest.approx(0.1 + SELECT_DELAY)
    fab.tick(now)
    (flogi,) = take(fab)
    return flogi, now


def logged_in(fab: Fabric) -> float:
    flogi, now = selected(fab)
    accept(fab, flogi, now)
    return now


def ns_answer(fab: Fabric, pkt: Packet, now: float, accept_it: bool = True) -> None:
    fc = pkt[FC]
    r_ctl = 0x23 if fc.type == 1 else 0x03
    reply = FC(r_ctl=r_ctl, d_id=fc.s_id, s_id=0xFFFFFC, type=fc.type, f_ctl=0x990000, ox_id=fc.ox_id)
    if fc.type == 1:
        body = ELS_Login(cmd=0x02) if accept_it else struct.pack(">B3xxBBx", 1, 9, 0)
    else:
        body = CT(cmd=0x8002 if accept_it else 0x8001)
    frame = decode_fcoe(bytes(Ether(dst=FPMA, src=FCF_MAC) / FCoE() / reply / body))
    fab.receive_fc(frame.header, frame.payload, now)


def registered(fab: Fabric) -> float:
    now = logged_in(fab)
    while fab.state is State.REGISTER:
        (req,) = take(fab)
        ns_answer(fab, req, now)
    return now


def test_multicast_solicitation_with_mac_name_and_size() -> None:
    fab = machine()
    (sol,) = take(fab)
    assert (sol.dst, sol.src, sol[FIP].op, sol[FIP].subcode) == ("01:10:18:01:00:02", ME, 1, 1)
    assert sol[FIP].flags & 0x8000  # FPMA
    assert sol[FIP].desc(2)[:6] == parse_mac(ME)
    assert int.from_bytes(sol[FIP].desc(4)[2:10], "big") == WWNN
    assert struct.unpack(">H", sol[FIP].desc(6)[:2])[0] == 2158
    assert fab.tick(0.0) == pytest.approx(2.0)  # solicited again while no FCF is usable
    fab.tick(2.0)
    assert [p[FIP].subcode for p in take(fab)] == [1]


def test_unsolicited_advertisement_gets_a_unicast_solicitation_then_selection() -> None:
    fab = machine()
    take(fab)
    feed(fab, adv(flags=0x8005, dst="01:10:18:01:00:01"), 0.5)
    (sol,) = take(fab)
    assert sol.dst == FCF_MAC and sol[FIP].subcode == 1
    assert fab.fcfs[0].usable is False and fab.select_at == float("inf")
    feed(fab, adv(), 0.6)
    assert fab.fcfs[0].usable and fab.select_at == pytest.approx(0.6 + SELECT_DELAY)
    assert take(fab) == []


def test_best_fcf_is_the_lowest_priority_value_that_is_available() -> None:
    fab = machine()
    feed(fab, adv(mac="52:54:00:fc:00:0a", priority=50, flags=SOLICITED & ~0x4), 0.1)  # not available
    feed(fab, adv(mac="52:54:00:fc:00:0b", priority=200), 0.1)
    feed(fab, adv(mac="52:54:00:fc:00:0c", priority=100), 0.2)
    take(fab)
    fab.tick(0.1 + SELECT_DELAY)
    (flogi,) = take(fab)
    assert fab.fcf is not None and fab.fcf.mac == parse_mac("52:54:00:fc:00:0c")
    assert flogi.dst == "52:54:00:fc:00:0c"


@pytest.mark.parametrize("drop", [1, 2, 4, 5, 12])  # priority, MAC, name, fabric, FKA: each is required
def test_advertisement_missing_a_descriptor_is_dropped(drop: int) -> None:
    fab = machine()
    pkt = adv()
    pkt[FIP].descriptors = [d for d in pkt[FIP].descriptors if d.type != drop]
    pkt[FIP].dl_len = None
    feed(fab, Ether(bytes(pkt)), 0.1)
    assert fab.fcfs == [] and fab.counters["fip_missing_descriptor"] == 1


def test_flogi_in_fip_asks_for_an_fpma() -> None:
    fab = machine()
    flogi, _ = selected(fab)
    assert (flogi.dst, flogi.src, flogi[FIP].op, flogi[FIP].subcode) == (FCF_MAC, ME, 2, 1)
    fc = flogi_of(flogi)
    assert (fc.r_ctl, fc.d_id, fc.s_id, fc.type) == (0x22, 0xFFFFFE, 0, 1)
    assert ELS_Login(bytes(fc.payload)).cmd == 0x04 and ELS_Login(bytes(fc.payload)).wwpn == WWPN
    assert flogi[FIP].desc(2)[:6] == bytes(6)  # zero MAC: FPMA requested
    assert fab.state is State.FLOGI


def test_flogi_accept_gives_port_id_and_fpma_then_name_server_plogi() -> None:
    fab = machine()
    flogi, now = selected(fab)
    accept(fab, flogi, now)
    assert (fab.state, fab.port_id, fab.vn_mac, fab.events) == (
        State.REGISTER,
        TARGET_ID,
        parse_mac(FPMA),
        ["login"],
    )
    (plogi,) = take(fab)
    assert (plogi.dst, plogi.src) == (FCF_MAC, FPMA)
    assert (plogi[FC].d_id, plogi[FC].s_id, ELS_Login(bytes(plogi[FC].payload)).cmd) == (
        0xFFFFFC,
        TARGET_ID,
        3,
    )


def test_flogi_accept_with_a_mac_that_is_not_the_fpma_is_refused() -> None:
    fab = machine()
    flogi, now = selected(fab)
    accept(fab, flogi, now, granted="52:54:00:00:00:99")
    assert fab.state is State.FLOGI and fab.counters["flogi_bad_mac"] == 1
    assert [p[FIP].op for p in take(fab)] == [2]  # FLOGI again


def test_flogi_reject_is_retried_then_discovery_starts_over() -> None:
    fab = machine()
    flogi, now = selected(fab)
    rjt = FC(r_ctl=0x23, s_id=0xFFFFFE, type=1, f_ctl=0x990000)
    for _ in range(FLOGI_TRIES):
        rjt.ox_id = flogi_of(flogi).ox_id
        feed(fab, fip_els_reply(FCF_MAC, ME, 7, bytes(rjt) + struct.pack(">B3xxBBx", 1, 9, 0)), now)
        out = take(fab)
        if fab.state is State.FLOGI:
            (flogi,) = out
    assert fab.counters["flogi_rejected"] == FLOGI_TRIES
    assert fab.state is State.SOLICIT and fab.fcf is None and fab.fcfs == []
    assert [(p.dst, p[FIP].subcode) for p in out] == [("01:10:18:01:00:02", 1)]


def test_flogi_timeout_is_retried() -> None:
    fab = machine()
    _, now = selected(fab)
    assert fab.tick(now) == pytest.approx(now + FLOGI_TIMEOUT)
    fab.tick(now + FLOGI_TIMEOUT)
    assert fab.counters["flogi_timeout"] == 1 and [p[FIP].op for p in take(fab)] == [2]


def test_reply_to_another_exchange_is_ignored() -> None:
    fab = machine()
    flogi, now = selected(fab)
    flogi[FIP].descriptors[0].value = bytes(2) + bytes(flogi_of(flogi).copy())  # unchanged request
    reply = FC(r_ctl=0x23, d_id=TARGET_ID, s_id=0xFFFFFE, type=1, f_ctl=0x990000, ox_id=0x1234)
    feed(fab, fip_els_reply(FCF_MAC, ME, 7, bytes(reply / ELS_Login(cmd=2)), FPMA), now)
    assert fab.state is State.FLOGI and fab.counters["fip_ls_unexpected"] == 1


def test_name_server_registration_plogi_rft_rff_rspn() -> None:
    fab = machine()
    now = logged_in(fab)
    sent = []
    while fab.state is State.REGISTER:
        (req,) = take(fab)
        sent.append(req)
        ns_answer(fab, req, now)
    assert fab.state is State.READY
    assert [p[FC].type for p in sent] == [1, 0x20, 0x20, 0x20]
    cts = [CT(bytes(p[FC].payload)) for p in sent[1:]]
    assert [c.cmd for c in cts] == [0x0217, 0x021F, 0x0218]
    assert all(
        (c.gs_type, c.gs_subtype, p[FC].r_ctl) == (0xFC, 0x02, 0x02)
        for c, p in zip(cts, sent[1:], strict=True)
    )
    rft, rff, rspn = (bytes(c.payload) for c in cts)
    assert rft[:4] == TARGET_ID.to_bytes(4, "big") and rft[4 + 2] == 0x01  # FC-4 TYPE 8
    assert rff == TARGET_ID.to_bytes(4, "big") + bytes([0, 0, 0x01, 0x08])  # FCP target feature
    assert rspn[5 : 5 + rspn[4]] == b"hpt test"


def test_name_server_reject_of_an_optional_registration_is_skipped() -> None:
    fab = machine()
    now = logged_in(fab)
    (plogi,) = take(fab)
    ns_answer(fab, plogi, now)
    (rft,) = take(fab)
    ns_answer(fab, rft, now, accept_it=False)
    assert fab.counters["ns_RFT_ID_rejected"] == 1
    (rff,) = take(fab)
    assert CT(bytes(rff[FC].payload)).cmd == 0x021F


def test_name_server_timeout_retries_then_logs_in_again() -> None:
    fab = machine()
    now = logged_in(fab)
    plogis = take(fab)
    while fab.state is State.REGISTER and now < 60:
        now = fab.tick(now)
        plogis += [p for p in take(fab) if FC in p]
    assert len(plogis) == nameserver.TRIES and fab.counters["ns_timeout"] == nameserver.TRIES
    assert len({p[FC].ox_id for p in plogis}) == nameserver.TRIES  # a new exchange each time
    assert fab.state is State.SOLICIT and fab.events == ["login", "logout"]


def test_keep_alives_enode_every_fka_period_vn_port_every_90_s() -> None:
    fab = machine()
    start = registered(fab)
    sent: list[tuple[float, Packet]] = []
    for step in range(1, 2 * int(VN_KEEP_ALIVE) + 4):  # the clock in half seconds
        now = start + step / 2
        if step % 16 == 0:  # the FCF advertises every 8 s, as it must for the login to last
            feed(fab, adv(flags=0x8005, dst="01:10:18:01:00:01"), now)
        assert fab.tick(now) <= now + 8.0
        sent += [(now - start, p) for p in take(fab) if FIP in p and p[FIP].op == 3]
    enode = [t for t, p in sent if p.src == ME]
    assert enode == pytest.approx([8.0 * n for n in range(1, len(enode) + 1)], abs=0.5)
    assert len(enode) == int((VN_KEEP_ALIVE + 1.5) // 8.0)
    ((t, ka),) = [(t, p) for t, p in sent if p.src == FPMA]
    assert t == pytest.approx(VN_KEEP_ALIVE, abs=0.5)
    assert ka.dst == FCF_MAC and ka[FIP].desc(2)[:6] == parse_mac(ME)
    vn = ka[FIP].desc(11)
    assert (vn[:6], vn[7:10], int.from_bytes(vn[10:18], "big")) == (
        parse_mac(FPMA),
        TARGET_ID.to_bytes(3, "big"),
        WWPN,
    )


def test_no_enode_keep_alive_with_the_d_bit() -> None:
    fab = machine()
    feed(fab, adv(no_keep_alive=True), 0.1)
    take(fab)
    fab.tick(0.1 + SELECT_DELAY)
    (flogi,) = take(fab)
    accept(fab, flogi, 2.1)
    assert fab.ka_at == float("inf") and fab.vn_ka_at == pytest.approx(2.1 + VN_KEEP_ALIVE)


def test_fcf_lost_after_2_5_periods_without_advertisement() -> None:
    fab = machine()
    registered(fab)
    assert fab.fcf is not None
    lost = fab.fcf.lost_at
    assert lost == pytest.approx(0.1 + 2.5 * 8.0)
    fab.tick(lost - 0.01)
    assert fab.state is State.READY
    fab.tick(lost)
    assert fab.state is State.SOLICIT and fab.events == ["login", "logout"]
    assert fab.counters["fcf_lost"] == 1 and fab.port_id == 0
    assert [(p.dst, p[FIP].subcode) for p in take(fab) if FIP in p][-1] == ("01:10:18:01:00:02", 1)


def test_advertisements_keep_the_fcf() -> None:
    fab = machine()
    now = registered(fab)
    for t in range(8, 80, 8):
        feed(fab, adv(flags=0x8005, dst="01:10:18:01:00:01"), now + t)
        fab.tick(now + t)
    assert fab.state is State.READY


def cvl(vn_ids: list[Packet], src: str = FCF_MAC) -> Packet:
    pkt = clear_virtual_links(FCF_MAC, SWITCH_NAME, ME, vn_ids)
    pkt.src = src
    return pkt


def test_clear_virtual_links_naming_this_vn_port_logs_in_again() -> None:
    fab = machine()
    now = registered(fab)
    feed(
        fab,
        cvl(
            [vn_id_d(0x010009, 0x2000000000000009, vn_mac(0x010009, FC_MAP)), vn_id_d(TARGET_ID, WWPN, FPMA)]
        ),
        now,
    )
    assert fab.state is State.SOLICIT and fab.events == ["login", "logout"] and fab.counters["cvl"] == 1
    assert [p[FIP].subcode for p in take(fab)] == [1]
    flogi, now = selected(fab)
    accept(fab, flogi, now)
    assert fab.state is State.REGISTER and fab.events[-1] == "login"


def test_clear_virtual_links_without_vn_port_descriptors_clears_all() -> None:
    fab = machine()
    now = registered(fab)
    feed(fab, cvl([]), now)
    assert fab.state is State.SOLICIT and fab.counters["cvl"] == 1


def test_clear_virtual_links_for_another_vn_port_or_from_another_mac_is_ignored() -> None:
    fab = machine()
    now = registered(fab)
    feed(fab, cvl([vn_id_d(0x010009, 0x2000000000000009, vn_mac(0x010009, FC_MAP))]), now)
    feed(fab, cvl([vn_id_d(TARGET_ID, WWPN, FPMA)], src="52:54:00:66:66:66"), now)
    assert fab.state is State.READY
    assert (fab.counters["cvl_other_vn_port"], fab.counters["cvl_ignored"]) == (1, 1)


def test_stop_sends_fip_logo() -> None:
    fab = machine()
    now = registered(fab)
    fab.stop(now)
    (logo,) = take(fab)
    assert (logo.dst, logo.src, logo[FIP].op, logo[FIP].subcode) == (FCF_MAC, ME, 2, 1)
    assert logo[FIP].descriptors[0].type == 9 and logo[FIP].desc(2)[:6] == parse_mac(FPMA)
    fc = FC(bytes(logo[FIP].descriptors[0].value)[2:])
    assert (fc.d_id, fc.s_id, bytes(fc.payload)[0]) == (0xFFFFFE, TARGET_ID, 0x05)
    assert fab.state is State.STOPPED and fab.events[-1] == "logout" and fab.tick(now + 100) == float("inf")


def test_fip_from_itself_and_unknown_operations() -> None:
    fab = machine()
    take(fab)
    own = adv()
    own.src = ME
    feed(fab, own, 0.1)
    feed(fab, Ether(dst=ME, src=FCF_MAC) / FIP(op=5, subcode=1), 0.1)
    assert fab.fcfs == [] and fab.counters["fip_unsupported"] == 1
    assert decode_fip(bytes(adv())).flags == SOLICITED and parse_mac("01:10:18:01:00:02") == fip.ALL_FCF_MACS
