"""The Linux open-fcoe initiator (VN2VN on a guest's virtio NIC) against hptd's FCoE port on the
host end of the guest's tap: discovery and login, the LUN as /dev/sdX, sg3-utils identification, a
random pattern written with O_DIRECT and read back, then the FCoE interface destroyed (LOGO). Then two
LUNs and a sequential transfer whose MB/s the test prints."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ci.lab.guest import TapNet
from ci.lab.netns import NetNamespace
from tests.fcoe.hptd import fcoe_config, running_hptd

from .conftest import Lab, guest_script

INITIATOR_MAC = "52:54:00:bb:00:02"
INITIATOR_WWPN = f"20:00:{INITIATOR_MAC}"
TAP = "taphpt"
# hptd's WWPN is 20:00:<tap MAC>: lower than the initiator's, the initiator sends PLOGI; higher, hptd
# does (Linux libfc waits for it). The login test runs with the lower one, the sequential test with
# the higher one.
TAP_LOW, TAP_HIGH = "52:54:00:aa:00:01", "52:54:00:cc:00:01"
SEQ_MIB = int(os.environ.get("HPT_LAB_FCOE_SEQ_MIB", "1024"))

# The guest's own count of what its NIC and queue dropped, printed when the initiator script ends.
LINK_STATS = r"""
link_stats() { echo "---- guest eth0 at exit"; ip -s link show eth0; tc -s qdisc show dev eth0; }
"""
INITIATOR_SCRIPT = LINK_STATS + r"""
modprobe sd_mod
modprobe sg
fcoe_vn2vn_up
disks() {
    for block in /sys/class/fc_host/host*/device/rport-*/target*/*/block/*; do
        [ -b "/dev/${block##*/}" ] && echo "/dev/${block##*/}"
    done
}
have_luns() { [ "$(disks | wc -l)" -ge "$LUNS" ]; }
wait_for "$PEER_TIMEOUT" have_luns
for rport in /sys/class/fc_remote_ports/*; do
    log "${rport##*/}: $(cat "$rport/port_name") $(cat "$rport/roles") $(cat "$rport/port_state")"
done
for disk in $(disks); do
    log "LUN at $disk"
    scsi_checks "$disk"
    verify_disk "$disk" "$VERIFY_MIB"
done
if [ "$SEQ_MIB" -gt 0 ]; then
    for disk in $(disks); do
        for dir in write read; do
            start=$(date +%s%N)
            if [ "$dir" = write ]; then
                dd if=/dev/zero of="$disk" bs=1M count="$SEQ_MIB" oflag=direct status=none
            else
                dd if="$disk" of=/dev/null bs=1M count="$SEQ_MIB" iflag=direct status=none
            fi
            end=$(date +%s%N)
            log "sequential $dir $disk: $SEQ_MIB MiB in $(( (end - start) / 1000000 )) ms"
        done
    done
fi
echo eth0 > /sys/bus/fcoe/ctlr_destroy
wait_for 30 sh -c '! ls -d /sys/class/fc_host/host* > /dev/null 2>&1'
log "fcoe interface destroyed"
"""


def rates(output: str, who: str) -> list[str]:
    """The sequential transfers the guest logged, as MB/s lines."""
    found = re.findall(r"sequential (write|read) (\S+): (\d+) MiB in (\d+) ms", output)
    return [
        f"{who} FCoE sequential {d} {disk}: {int(mib) * 1.048576 / (int(ms) / 1000):.1f} MB/s"
        for d, disk, mib, ms in found
    ]


def print_drops(ns: NetNamespace) -> None:
    """The frames the host dropped on the guests' taps (FCoE assumes a lossless link; the lab's is not)."""
    drops = {name: d for name, d in ns.drops().items() if name.startswith("tap")}
    print(f"\nframes dropped on the taps: {drops}")


def run_initiator(
    lab: Lab,
    tmp_path: Path,
    luns: int,
    size: str,
    seq_mib: int,
    timeout: float = 240.0,
    tap_mac: str = TAP_HIGH,
) -> tuple[str, str]:
    """Boot the initiator guest against hptd (its WWPN derived from ``tap_mac``); returns the
    guest's output and hptd's log."""
    env = {"PEER_TIMEOUT": "120", "LUNS": str(luns), "VERIFY_MIB": "4", "SEQ_MIB": str(seq_mib)}
    with NetNamespace("hptfcl") as ns:
        ns.ip("tuntap", "add", "dev", TAP, "mode", "tap")
        ns.ip("link", "set", TAP, "address", tap_mac, "mtu", "9000", "up")
        config = fcoe_config(TAP, [INITIATOR_WWPN], luns, size, tmp_path)
        with running_hptd(ns, tmp_path, config):
            spec = lab.spec(
                guest_script() + "trap link_stats EXIT\n" + INITIATOR_SCRIPT,
                name="fcoe-hpt",
                env=env,
                netns=ns.name,
                nics=[TapNet(TAP, INITIATOR_MAC)],
                timeout=timeout,
            )
            try:
                result = lab.run(spec)[0]
            finally:
                print_drops(ns)
    return result.output, (tmp_path / "hptd.log").read_text()


@pytest.mark.lab
def test_open_fcoe_initiator_against_hptd(lab: Lab, tmp_path: Path) -> None:
    output, log = run_initiator(lab, tmp_path, luns=1, size="64M", seq_mib=0, tap_mac=TAP_LOW)
    assert re.search(r"LUN at /dev/sd[a-z]", output), output
    assert "FCP Target" in output and "Online" in output
    assert "fcoe interface destroyed" in output
    assert f"remote port {INITIATOR_WWPN} (" in log and "logged out: LOGO" in log


@pytest.mark.lab
def test_open_fcoe_two_luns_sequential(lab: Lab, tmp_path: Path) -> None:
    output, _log = run_initiator(
        lab, tmp_path, luns=2, size=f"{max(SEQ_MIB, 64)}M", seq_mib=SEQ_MIB, timeout=240.0 + SEQ_MIB
    )
    assert len(set(re.findall(r"LUN at (/dev/sd[a-z]+)", output))) == 2, output
    lines = rates(output, "hpt")
    assert len(lines) == 4, output
    print("\n".join(lines))
