"""Scale-out gateways seen by Linux (issue 11): two hptd on the host serve the same rbd image of the
throw-away Ceph under one target name and LU identity, each gateway its own target port group
(``peer_port_groups``). The guest's kernel initiator logs in to both, dm-multipath makes one map of two
paths grouped by ALUA state; registrations and a Write Exclusive reservation made with ``sg_persist``
through the two paths act on one LU (the state is shared through RADOS); then gateway A is killed with
SIGKILL while a writer runs through the map, the writer sees no error, the map is left with B's path and
the whole pattern reads back."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from ci.lab.guest import UserNet
from tests.integration.hptd import Hptd
from tests.rbd.conftest import ceph, image  # noqa: F401  (the session's throw-away Ceph, an image in it)
from tests.rbd.test_gateways import IQN, gateways  # noqa: F401  (two hptd on one rbd image)

from .conftest import INITIATOR_IQN, HostStep, Lab, guest_script, hptd_missing

PATTERN_MIB = 16


def kill(a: Hptd, sync: Path) -> None:
    """Kill gateway A (SIGKILL) and tell the guest (once its writer has started)."""
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(30)
    (sync / "killed").write_text("killed\n")


@pytest.mark.lab
def test_multipath_across_two_gateways_survives_a_killed_one(lab: Lab, tmp_path: Path,
                                                            request: pytest.FixtureRequest) -> None:
    reason = hptd_missing()
    if reason:
        pytest.skip(f"lab: {reason}")
    a, b = request.getfixturevalue("gateways")  # after the lab's checks: Ceph starts only if a guest can
    sync = tmp_path / "sync"
    sync.mkdir()
    killer = HostStep(sync / "writing", lambda: kill(a, sync))
    try:
        result = lab.run_one(guest_script("multipath.sh", "gateway_failover.sh"), name="gateways",
                             env={"TARGET_IQN": IQN, "PORT1": str(a.port), "PORT2": str(b.port),
                                  "INITIATOR_IQN": INITIATOR_IQN, "PATTERN_MIB": str(PATTERN_MIB)},
                             nics=[UserNet(forwards=(a.port, b.port))], shares={"sync": sync},
                             timeout=300.0)
    finally:
        killer.join(timeout=35)
    assert not killer.errors, killer.errors
    out = result.output
    # one LU through both gateways: each path sees both registrations, B sees the reservation made
    # through A, and refuses a write from its nexus
    assert len(re.findall(r"^== keys through sd\w+: 0xa1 0xb2$", out, re.M)) == 2, out
    assert re.search(r"^== reservation through sd\w+: key 0xa1, Write Exclusive$", out, re.M), out
    assert re.search(r"^== write through sd\w+: reservation conflict$", out, re.M), out
    assert re.search(r"^== keys after clear through sd\w+: $", out, re.M), out
    # one map of two paths; A killed while the writer ran, which finished without an error
    assert re.search(r"^== maps: 1, /dev/mapper/\S+ with 2 paths$", out, re.M), out
    killed_at = re.search(rf"^== gateway A killed by MiB (\d+) of {PATTERN_MIB}$", out, re.M)
    assert killed_at and int(killed_at[1]) < PATTERN_MIB, out
    assert a.proc.returncode == -signal.SIGKILL and b.alive()
    assert "== writer exit 0" in out
    assert "== after the kill: 1 active path, 1 failed" in out
    pattern = re.search(r"^== pattern (\w+), read back through /dev/mapper/\S+: (\w+)$", out, re.M)
    assert pattern and pattern[1] == pattern[2], out
    assert "== logged out" in out
