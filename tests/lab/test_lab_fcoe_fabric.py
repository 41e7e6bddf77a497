"""The Linux open-fcoe initiator in fabric mode against hptd's fabric-mode FCoE port, through the
test FCF (``tests/fcoe/fcf_switch.py``, FC-BB-6 7.8): both ENodes discover the FCF and log in with
FIP FLOGI, register with its name server; the initiator finds hptd with GPN_FT (FC-GS-7 5.2.5),
logs in to it through the FCF, sees the LUN as /dev/sdX, runs the sg3-utils identification and
a verified O_DIRECT write/read, then destroys its FCoE interface (FIP LOGO).

Topology, in a private network namespace: the FCF is a two-port switch with an AF_PACKET socket on
the guest's tap and one on ``fc1``, the peer of hptd's ``fc0`` veth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ci.lab.guest import TapNet
from ci.lab.netns import NetNamespace
from tests.fcoe.fcf_switch import FcfThread
from tests.fcoe.hptd import fcoe_config, running_hptd
from tests.fcoe.test_netns import socket_in_namespace

from .conftest import Lab, guest_script

INITIATOR_MAC = "52:54:00:bb:00:12"
INITIATOR_WWPN = f"20:00:{INITIATOR_MAC}"
HPTD_MAC = "52:54:00:aa:00:11"
TAP = "tapfab"

INITIATOR_SCRIPT = r"""
trap 'echo "---- kernel log"; dmesg | grep -Ei "fcoe|libfc|host[0-9]|scsi|sd " | tail -n 120' EXIT
modprobe sd_mod
modprobe sg
fcoe_fabric_up
lun() { ls /sys/class/fc_host/host*/device/rport-*/target*/*/block/ 2> /dev/null | head -n 1; }
have_lun() { [ -n "$(lun)" ] && [ -b "/dev/$(lun)" ]; }
wait_for "$PEER_TIMEOUT" have_lun
log "port_id $(cat /sys/class/fc_host/host*/port_id) fabric $(cat /sys/class/fc_host/host*/fabric_name)"
for rport in /sys/class/fc_remote_ports/*; do
    log "${rport##*/}: $(cat "$rport/port_name" "$rport/port_id" "$rport/roles" "$rport/port_state" | xargs)"
done
disk=/dev/$(lun)
log "LUN at $disk"
scsi_checks "$disk"
verify_disk "$disk" "$VERIFY_MIB"
echo eth0 > /sys/bus/fcoe/ctlr_destroy
wait_for 30 sh -c '! ls -d /sys/class/fc_host/host* > /dev/null 2>&1'
log "fcoe interface destroyed"
"""


@pytest.mark.lab
def test_open_fcoe_fabric_initiator_through_fcf(lab: Lab, tmp_path: Path) -> None:
    env = {"PEER_TIMEOUT": "150", "VERIFY_MIB": "4"}
    with NetNamespace("hptfab") as ns:
        ns.ip("tuntap", "add", "dev", TAP, "mode", "tap")
        ns.ip("link", "set", TAP, "mtu", "9000", "up")
        ns.ip("link", "add", "fc0", "mtu", "9000", "type", "veth", "peer", "name", "fc1", "mtu", "9000")
        ns.ip("link", "set", "fc0", "address", HPTD_MAC)
        for dev in ("fc0", "fc1"):
            ns.ip("link", "set", dev, "up")
        fcf = FcfThread([socket_in_namespace(ns.name, "fc1"), socket_in_namespace(ns.name, TAP)]).start()
        try:
            config = fcoe_config("fc0", [INITIATOR_WWPN], 1, "64M", tmp_path, mode="fabric")
            with running_hptd(ns, tmp_path, config):
                spec = lab.spec(
                    guest_script() + INITIATOR_SCRIPT,
                    name="fcoe-fabric",
                    env=env,
                    netns=ns.name,
                    nics=[TapNet(TAP, INITIATOR_MAC)],
                    timeout=300.0,
                )
                try:
                    output = lab.run(spec)[0].output
                finally:
                    with fcf.lock:
                        print("\nFCF:", fcf.switch.log)
        finally:
            fcf.stop()
    print("\n".join(line for line in output.splitlines() if line.startswith("== ")))
    log = (tmp_path / "hptd.log").read_text()
    events = fcf.switch.log.events
    # Both ENodes logged in with FIP FLOGI; the initiator discovered hptd through the name server.
    flogis = [e for e in events if e.startswith("flogi ")]
    assert {e.split()[1] for e in flogis} == {HPTD_MAC, INITIATOR_MAC}, events
    assert "CT fc 0172" in events and "SCR fffffd" in events, events  # GPN_FT, SCR
    assert any(e.startswith(f"logo {INITIATOR_MAC}") for e in events), events
    assert fcf.switch.log.switched >= 2 * (4 << 20) // 2112, fcf.switch.log  # 4 MiB each way
    assert re.search(r"LUN at /dev/sd[a-z]", output), output
    assert "FCP Target" in output and "Online" in output, output
    assert "fcoe interface destroyed" in output, output
    assert re.search(rf"remote port {INITIATOR_WWPN} \(02000\d\) logged in", log), log
    assert re.search(rf"remote port {INITIATOR_WWPN} \(02000\d\) logged out: LOGO", log), log
    assert "registered with the name server" in log, log
