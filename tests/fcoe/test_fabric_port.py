"""The sans-I/O port in fabric mode behind the test FCF (``fcf_switch``): discovery, FLOGI, name server
registration, then an initiator's PLOGI/PRLI and SCSI through the FCF; Clear Virtual Links and a
new login; LOGO on stop."""

from __future__ import annotations

import os
import struct

from scapy.layers.l2 import Ether

from hpt.fcoe.port import FcoePort
from hpt.native.ring import Ring
from hpt.scsi.core.constants import Status
from hpt.scsi.target import ScsiTarget
from tests.fcoe.conftest import INITIATOR_MAC, TARGET_MAC, TARGET_WWPN, PortLink, fabric_port
from tests.fcoe.fcf_switch import FC_MAP, FCF_MAC, INITIATOR_ID, NAME_SERVER, TARGET_ID, FcfHarness
from tests.fcoe.initiator import Initiator
from tests.fcoe.layers import FC, vn_mac


def fabric_setup(target: ScsiTarget, ring: Ring) -> tuple[FcoePort, FcfHarness, Initiator]:
    port, fcf = fabric_port(target, ring)
    fcf.run_until(lambda: len(fcf.seen(*NAME_SERVER)) == 4, "name server registrations")
    ini = fcf.initiator(INITIATOR_MAC)
    assert ini.port_id == INITIATOR_ID
    return port, fcf, ini


def test_fabric_login_registration_and_status(target: ScsiTarget, ring: Ring) -> None:
    port, fcf, _ = fabric_setup(target, ring)
    assert fcf.seen(*NAME_SERVER) == ["PLOGI fffffc", "CT fc 0217", "CT fc 021f", "CT fc 0218"]
    assert fcf.seen("flogi ")[0] == f"flogi {TARGET_MAC} {TARGET_ID:06x}"
    status = port.status()
    assert (status["mode"], status["state"], status["port_id"]) == ("fabric", "ready", f"{TARGET_ID:06x}")
    assert status["fcf"] == {
        "mac": FCF_MAC,
        "name": "20:01:52:54:00:fc:f0:02",
        "fabric": "10:01:52:54:00:fc:f0:02",
        "priority": 128,
        "state": "ready",
    }
    assert port.local_mac.hex(":") == vn_mac(TARGET_ID, FC_MAP)


def test_initiator_through_the_fcf(target: ScsiTarget, ring: Ring) -> None:
    port, fcf, ini = fabric_setup(target, ring)
    ini.fabric_login(TARGET_ID)
    ini.clear_unit_attention()
    data = os.urandom(64 * 1024)
    assert ini.scsi(struct.pack(">BBIBHB", 0x2A, 0, 8, 0, 128, 0), data_out=data).status == Status.GOOD
    read = ini.scsi(struct.pack(">BBIBHB", 0x28, 0, 8, 0, 128, 0), read=len(data))
    assert read.status == Status.GOOD and read.data == data
    assert port.status()["rports"] == [
        {"wwpn": "20:00:52:54:00:bb:00:02", "port_id": f"{INITIATOR_ID:06x}", "state": "ready"}
    ]
    assert fcf.switch.log.dropped == 0  # every frame of hptd's came from its FPMA to the FCF


def test_clear_virtual_links_drops_the_rports_and_logs_in_again(target: ScsiTarget, ring: Ring) -> None:
    port, fcf, ini = fabric_setup(target, ring)
    ini.fabric_login(TARGET_ID)
    fcf.clear_virtual_links(TARGET_ID, TARGET_WWPN)
    assert port.rports == {} and port.counters["cvl"] == 1
    fcf.run_until(lambda: len(fcf.seen("flogi ")) == 2 and len(fcf.seen(*NAME_SERVER)) == 8, "a new login")
    assert port.status()["state"] == "ready"
    ini.fabric_login(TARGET_ID)
    ini.clear_unit_attention()


def test_clear_virtual_links_for_another_port_is_ignored(target: ScsiTarget, ring: Ring) -> None:
    port, fcf, ini = fabric_setup(target, ring)
    ini.fabric_login(TARGET_ID)
    fcf.clear_virtual_links(0x020077, 0x2000000000000077)
    assert len(port.rports) == 1 and port.counters["cvl_other_vn_port"] == 1


def test_fc_frames_not_through_the_fcf_are_dropped(target: ScsiTarget, ring: Ring) -> None:
    port, fcf, ini = fabric_setup(target, ring)
    ini.fabric_login(TARGET_ID)
    frame = bytes(ini.fc(FC(r_ctl=0x06, type=8, ox_id=0x99), bytes(32)))
    fcf.hptd.send(bytes.fromhex(vn_mac(TARGET_ID, FC_MAP).replace(":", "")) + bytes(6) + frame[12:])
    assert port.counters["not_from_fcf"] == 1


def test_stop_logs_out_rports_then_the_fabric(target: ScsiTarget, ring: Ring) -> None:
    port, fcf, ini = fabric_setup(target, ring)
    ini.fabric_login(TARGET_ID)
    port.stop()
    link = fcf.hptd
    assert isinstance(link, PortLink)
    link.drain()
    logo = Ether(link.queue[0])
    assert (logo.dst, logo[FC].d_id, bytes(logo[FC].payload)[0]) == (FCF_MAC, INITIATOR_ID, 0x05)
    while fcf.pump():
        pass
    assert len(fcf.seen("logo ")) == 1 and port.rports == {} and port.status()["state"] == "stopped"
