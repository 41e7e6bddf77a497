"""ALUA seen by Linux (issue 12): the guest's kernel initiator logs in to one hptd target through two
portal groups, `sg_rtpg` shows both target port groups and their states, dm-multipath (`prio alua`,
`scsi_dh_alua`) makes the active/optimized path its active path group, and when the host swaps the
states with `hptadm` (implicit ALUA, SPC-5 5.16.2.6) the map follows and the pattern written before
reads back through the other path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.lab.guest import UserNet
from tests.integration.hptd import free_port, hptadm, start_hptd

from .conftest import INITIATOR_IQN, HostStep, Lab, guest_script, hptd_missing

IQN = "iqn.2026-11.org.hpt.lab:alua"
CONFIG = f"""
[daemon]
control_socket = "{{tmp}}/control.sock"

[[portal]]
address = "127.0.0.1:{{port}}"

[[portal]]
address = "127.0.0.1:{{port2}}"
group = 2

[[target]]
name = "{IQN}"
alua = {{ 2 = "standby" }}
  [[target.lun]]
  lun = 1
  store = "file"
  path = "{{tmp}}/alua.img"
  size = "64M"
"""


def swap(tmp: Path, sync: Path) -> None:
    """Make group 1 standby and group 2 active/optimized (once the guest says its map is up)."""
    for group, state in ((1, "standby"), (2, "active/optimized")):
        hptadm(tmp, "--op", "update", "--mode", "target", "--tid", "1", "--name", f"alua.{group}",
               "--value", state)
    (sync / "changed").write_text("swapped\n")


@pytest.mark.lab
def test_multipath_follows_alua_states(lab: Lab, tmp_path: Path) -> None:
    reason = hptd_missing()
    if reason:
        pytest.skip(f"lab: {reason}")
    port2 = free_port()
    daemon = start_hptd(tmp_path, CONFIG.replace("{port2}", str(port2)))
    sync = tmp_path / "sync"
    sync.mkdir()
    # swapped once the guest has booted, logged in twice and built its map
    swapper = HostStep(sync / "ready", lambda: swap(tmp_path, sync))
    try:
        result = lab.run_one(guest_script("multipath.sh", "alua_multipath.sh"), name="alua-multipath",
                             env={"TARGET_IQN": IQN, "PORT1": str(daemon.port), "PORT2": str(port2),
                                  "INITIATOR_IQN": INITIATOR_IQN},
                             nics=[UserNet(forwards=(daemon.port, port2))], shares={"sync": sync},
                             timeout=360.0)
    finally:
        swapper.join(timeout=5)
        daemon.stop()
    assert not swapper.errors, swapper.errors
    out = result.output
    assert "sg_rtpg: group 1 active/optimized, group 2 standby" in out
    assert "map followed" in out and "logged out" in out
    assert "ALUA group 1 standby" in daemon.log_text()
