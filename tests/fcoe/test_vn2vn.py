"""The FIP VN2VN address machine (FC-BB-6 7.8.7/7.8.8): timers, conflicts, peers, VLAN discovery."""

from __future__ import annotations

import random

from hpt.fcoe import fip
from hpt.fcoe.fip import VnId, decode_fip
from hpt.fcoe.frame import parse_mac
from hpt.fcoe.vn2vn import BEACON_FUZZ, BEACON_PERIOD, PEER_TIMEOUT, State, Vn2vn

ME = parse_mac("52:54:00:aa:00:01")
PEER = parse_mac("52:54:00:bb:00:02")
MY_WWPN, PEER_WWPN = 0x2000525400AA0001, 0x2000525400BB0002


def machine(vlan: int = 0) -> Vn2vn:
    vn = Vn2vn(ME, 0x1000525400AA0001, MY_WWPN, 2158, random.Random(3), vlan)
    vn.start(0.0)
    return vn


def up(vn: Vn2vn) -> float:
    now = 0.0
    while vn.state is not State.UP:
        now = vn.tick(now)
    vn.tick(now)
    return now


def peer_frame(
    subcode: int, port_id: int = 2, wwpn: int = PEER_WWPN, dst: bytes = fip.ALL_VN2VN_MACS
) -> fip.FipFrame:
    descs = [
        fip.mac_desc(PEER),
        fip.name_desc(0x1000525400BB0002),
        fip.vn_id_desc(VnId(fip.vn_mac(port_id), port_id, wwpn)),
    ]
    if subcode in (fip.VN_CLAIM_NOTIFY, fip.VN_CLAIM_REP):
        descs += [fip.fc4_features_desc(features=fip.FC4_FEATURE_INITIATOR), fip.size_desc(2158)]
    return decode_fip(fip.encode_fip(dst, PEER, fip.OP_VN2VN, subcode, descs))


def subcodes(vn: Vn2vn) -> list[int]:
    out = [decode_fip(f).subcode for f in vn.out]
    vn.out.clear()
    return out


def test_probe_twice_claim_then_beacon() -> None:
    vn = machine()
    assert (vn.state, vn.port_id, subcodes(vn)) == (State.PROBE1, 0x0001, [1])
    t1 = vn.tick(0.0)
    assert 0.1 <= t1 <= 0.2 and subcodes(vn) == []
    t2 = vn.tick(t1)
    assert (vn.state, subcodes(vn), round(t2 - t1, 3)) == (State.PROBE2, [1], 0.1)
    t3 = vn.tick(t2)
    assert (vn.state, subcodes(vn), round(t3 - t2, 3)) == (State.CLAIM, [3], 0.4)
    t4 = vn.tick(t3)
    assert vn.state is State.UP and subcodes(vn) == [5]
    assert BEACON_PERIOD <= t4 - t3 <= BEACON_PERIOD + BEACON_FUZZ
    vn.tick(t4)
    beacon = decode_fip(vn.out[0])
    assert beacon.subcode == 5 and beacon.src_mac == fip.vn_mac(1)


def test_claim_notification_gets_a_unicast_claim_response_and_a_peer() -> None:
    vn = machine()
    now = up(vn)
    vn.out.clear()
    vn.receive(peer_frame(fip.VN_CLAIM_NOTIFY), now)
    reply = decode_fip(vn.out[0])
    assert (reply.subcode, reply.dst_mac, len(vn.out[0])) == (4, PEER, 14 + 2158)
    assert [(e, p.port_id, p.wwpn) for e, p in vn.events] == [("up", 2, PEER_WWPN)]


def test_peer_ages_out_without_beacons_and_stays_with_them() -> None:
    vn = machine()
    now = up(vn)
    vn.receive(peer_frame(fip.VN_CLAIM_NOTIFY), now)
    vn.events.clear()
    vn.receive(peer_frame(fip.VN_BEACON), now + 15)
    vn.tick(now + PEER_TIMEOUT + 1)
    assert vn.events == [] and 2 in vn.peers
    vn.tick(now + 15 + PEER_TIMEOUT + 0.01)
    assert [e for e, _ in vn.events] == ["gone"] and not vn.peers


def test_probe_request_for_my_address_is_answered_when_up() -> None:
    vn = machine()
    now = up(vn)
    vn.out.clear()
    vn.receive(peer_frame(fip.VN_PROBE_REQ, port_id=1), now)
    reply = decode_fip(vn.out[0])
    assert (reply.subcode, reply.dst_mac, vn.port_id) == (fip.VN_PROBE_REP, PEER, 1)


def test_probe_reply_while_probing_moves_to_a_new_address() -> None:
    vn = machine()
    vn.out.clear()
    vn.receive(peer_frame(fip.VN_PROBE_REP, port_id=1), 0.05)
    assert vn.port_id != 1 and vn.state is State.PROBE1 and subcodes(vn) == [1]
    assert vn.counters["address_conflicts"] == 1


def test_probe_while_probing_higher_wwpn_keeps_the_address() -> None:
    vn = machine()
    vn.out.clear()
    vn.receive(peer_frame(fip.VN_PROBE_REQ, port_id=1, wwpn=0x1000000000000001), 0.05)
    assert vn.port_id == 1 and subcodes(vn) == [fip.VN_PROBE_REP]
    vn.receive(peer_frame(fip.VN_PROBE_REQ, port_id=1, wwpn=0x3000000000000001), 0.06)
    assert vn.port_id != 1


def test_conflicting_claim_from_higher_wwpn_restarts_and_loses_peers() -> None:
    vn = machine()
    now = up(vn)
    vn.receive(peer_frame(fip.VN_CLAIM_NOTIFY, port_id=2), now)
    vn.events.clear()
    vn.receive(peer_frame(fip.VN_CLAIM_NOTIFY, port_id=1, wwpn=0x3000000000000000), now)
    assert vn.port_id not in (1, 2) and vn.state is State.PROBE1
    assert [e for e, _ in vn.events] == ["gone"]


def test_conflicting_claim_from_lower_wwpn_is_defended() -> None:
    vn = machine()
    now = up(vn)
    vn.out.clear()
    vn.receive(peer_frame(fip.VN_CLAIM_NOTIFY, port_id=1, wwpn=0x1000000000000000), now)
    assert vn.port_id == 1 and vn.state is State.UP and subcodes(vn) == [fip.VN_CLAIM_NOTIFY]


def test_beacon_from_unknown_enode_triggers_a_claim() -> None:
    vn = machine()
    now = up(vn)
    vn.out.clear()
    vn.receive(peer_frame(fip.VN_BEACON, port_id=7), now)
    assert subcodes(vn) == [fip.VN_CLAIM_NOTIFY] and not vn.peers


def test_own_frames_and_bad_descriptors_are_ignored() -> None:
    vn = machine()
    now = up(vn)
    vn.out.clear()
    vn.receive(decode_fip(fip.encode_fip(fip.ALL_VN2VN_MACS, ME, 5, 3, [])), now)
    vn.receive(decode_fip(fip.encode_fip(fip.ALL_VN2VN_MACS, PEER, 5, 3, [fip.mac_desc(PEER)])), now)
    bad_id = [fip.mac_desc(PEER), fip.name_desc(1), fip.vn_id_desc(VnId(bytes(6), 2, 1))]
    vn.receive(decode_fip(fip.encode_fip(fip.ALL_VN2VN_MACS, PEER, 5, 3, bad_id)), now)
    vn.receive(peer_frame(9), now)
    assert vn.out == [] and not vn.peers
    assert (
        vn.counters["fip_missing_descriptor"],
        vn.counters["fip_bad_vn_id"],
        vn.counters["fip_unknown_subcode"],
    ) == (1, 1, 1)


def test_vlan_discovery_responder() -> None:
    request = decode_fip(
        fip.encode_fip(
            fip.ALL_VN2VN_MACS, PEER, fip.OP_VLAN, fip.VLAN_REQUEST, [fip.mac_desc(PEER), fip.name_desc(1)]
        )
    )
    silent = machine()
    silent.out.clear()
    silent.receive(request, 0.0)
    assert silent.out == []
    vn = machine(vlan=100)
    vn.out.clear()
    vn.receive(request, 0.0)
    reply = decode_fip(vn.out[0])
    assert (reply.op, reply.subcode, reply.dst_mac, reply.vlans) == (4, fip.VLAN_NOTIFY_VN2VN, PEER, [100])
