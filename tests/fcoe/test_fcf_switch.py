"""The test FCF switch (``fcf_switch``) with two ENodes: hptd's sans-I/O port in fabric mode on link 0
and a scapy ENode on link 1 that logs in as Linux libfc does (FIP FLOGI, name server PLOGI and
registrations, SCR, GPN_FT), then reaches hptd's LUN through the switch and logs out with FIP LOGO."""

from __future__ import annotations

import os
import struct

from scapy.layers.l2 import Ether
from scapy.packet import Packet

from hpt.native.ring import Ring
from hpt.scsi.core.constants import Status
from hpt.scsi.target import ScsiTarget
from tests.fcoe import layers as ly
from tests.fcoe.conftest import INITIATOR_MAC, TARGET_MAC, TARGET_WWNN, TARGET_WWPN, fabric_port
from tests.fcoe.fcf_switch import (
    CONTROLLER,
    DIRECTORY,
    GFF_ID,
    GID_FT,
    GNN_ID,
    GPN_FT,
    RFT_ID,
    FcfHarness,
    FcfSwitch,
)
from tests.fcoe.initiator import Initiator


def harness(target: ScsiTarget, ring: Ring) -> FcfHarness:
    """hptd's port on link 0 (virtual clock), the scapy ENode's frames from link 1 in ``to_enode``."""
    return fabric_port(target, ring)[1]


def registered(h: FcfHarness) -> None:
    h.run_until(lambda: "CT fc 0218" in h.switch.log.events, "RSPN_ID")  # hptd's last registration


def enode_login(h: FcfHarness) -> Initiator:
    """Solicitation, FIP FLOGI (FC-BB-6 7.8.9.7), name server PLOGI and RFT_ID, SCR."""
    adv = h.fip(
        Ether(dst=ly.ALL_FCFS, src=INITIATOR_MAC)
        / ly.FIP(
            op=1,
            subcode=1,
            descriptors=[ly.mac_d(INITIATOR_MAC), ly.name_d(0x10005254_00BB0002), ly.size_d()],
        )
    )
    assert adv.dst == INITIATOR_MAC and adv[ly.FIP].flags & ly.FLAG_SOLICITED
    ini = Initiator(h, INITIATOR_MAC, port_id=0)
    reply = h.flogi(ini, ox_id=0x10)
    acc = ly.FC(reply[ly.FIP].desc(7)[2:])  # type: ignore[index]
    assert acc.ox_id == 0x10 and ly.ELS_Login(bytes(acc.payload)).features & 0x1000  # F_Port
    assert ini.port_id == acc.d_id
    assert reply[ly.FIP].desc(2)[:6].hex(":") == h.fpma  # type: ignore[index]
    ini.target_id = DIRECTORY
    assert bytes(ini.plogi()[ly.FC].payload)[0] == 0x02
    assert ct(ini, RFT_ID, struct.pack(">I", ini.port_id) + ly.fc4_d().value[2:34]).cmd == 0x8002
    ini.target_id = CONTROLLER
    assert bytes(ini.els(struct.pack(">B3xI", 0x62, 3), "SCR reply")[ly.FC].payload)[0] == 0x02
    return ini


def ct(ini: Initiator, cmd: int, body: bytes) -> Packet:
    """A name server request (FC-GS-7 4.3); the CT_IU of the reply, the response body as payload."""
    ini.target_id = DIRECTORY
    ox = ini.next_ox()
    ini.send(ini.fc(ly.FC(r_ctl=0x02, type=0x20, f_ctl=0x290000, ox_id=ox), bytes(ly.CT(cmd=cmd)) + body))
    return ly.CT(bytes(ini.fc_reply(ox, "CT reply")[ly.FC].payload))


def test_two_enodes_log_in_discover_each_other_and_switch_fcp(target: ScsiTarget, ring: Ring) -> None:
    h = harness(target, ring)
    registered(h)
    hptd = h.switch.port_for(TARGET_WWPN)
    assert hptd is not None and hptd.enode == TARGET_MAC and hptd.has_type(8)
    ini = enode_login(h)
    assert ini.port_id != hptd.port_id

    # GPN_FT / GID_FT for FCP list both FCP ports, the last entry flagged (FC-GS-7 5.2.5.13).
    gpn = ct(ini, GPN_FT, b"\0\0\0\x08")
    entries = [struct.unpack_from(">I4xQ", bytes(gpn.payload), n) for n in range(0, 32, 16)]
    assert gpn.cmd == 0x8002 and entries == [
        (hptd.port_id, TARGET_WWPN),
        (0x80 << 24 | ini.port_id, ini.wwpn),
    ]
    assert bytes(ct(ini, GID_FT, b"\0\0\0\x08").payload) == struct.pack(
        ">II", hptd.port_id, 0x80 << 24 | ini.port_id
    )
    assert ct(ini, GPN_FT, b"\0\0\0\x05").explanation == 0x07  # no such TYPE: FS_RJT, not registered
    assert bytes(ct(ini, GNN_ID, struct.pack(">I", hptd.port_id)).payload) == struct.pack(">Q", TARGET_WWNN)
    assert bytes(ct(ini, GFF_ID, struct.pack(">I", hptd.port_id)).payload)[7] == 0x01  # FCP target

    ini.fabric_login(hptd.port_id)
    ini.clear_unit_attention()
    data = os.urandom(64 * 1024)
    assert ini.scsi(struct.pack(">BBIBHB", 0x2A, 0, 8, 0, 128, 0), data_out=data).status == Status.GOOD
    read = ini.scsi(struct.pack(">BBIBHB", 0x28, 0, 8, 0, 128, 0), read=len(data))
    assert read.status == Status.GOOD and read.data == data
    assert h.switch.log.switched > 64 and h.switch.log.dropped == 0

    logo = ly.FC(r_ctl=0x22, d_id=0xFFFFFE, s_id=ini.port_id, type=1, ox_id=0x11)
    reply = h.fip_els(9, bytes(logo) + struct.pack(">B3xIQ", 5, ini.port_id, ini.wwpn), INITIATOR_MAC, h.fpma)
    assert reply[ly.FIP].desc(9)[2 + 24] == 0x02 and h.switch.port_for(ini.wwpn) is None  # type: ignore[index]


def test_frames_from_unknown_sources_or_to_unknown_ports_are_dropped(target: ScsiTarget, ring: Ring) -> None:
    h = harness(target, ring)
    registered(h)
    ini = enode_login(h)
    ini.target_id = 0x0200FF  # nobody
    ini.send(ini.fc(ly.FC(r_ctl=0x22, type=1, ox_id=0x77), bytes(ly.ELS_Login())))
    h.fpma = "0e:fc:00:02:00:7f"  # not the FPMA of its S_ID
    ini.send(ini.fc(ly.FC(r_ctl=0x22, type=1, ox_id=0x78), bytes(ly.ELS_Login())))
    assert h.switch.log.dropped == 2


def test_advertisements_multicast_on_every_link_each_period() -> None:
    switch = FcfSwitch(2, fka_ms=1000)
    assert switch.tick(0.0) == 1.0 and [link for link, _ in switch.out] == [0, 1]
    adv = Ether(switch.out[0][1])
    assert adv.dst == ly.ALL_ENODES and not adv[ly.FIP].flags & ly.FLAG_SOLICITED
    switch.out.clear()
    assert switch.tick(0.5) == 1.0 and not switch.out
