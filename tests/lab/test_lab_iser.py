"""Proof 2: soft-RoCE (rdma_rxe) in the guest, and the kernel ib_iser initiator against tgtd --lld iser."""

from __future__ import annotations

import pytest

from ci.lab.guest import USER_NET_GUEST, UserNet

from .conftest import INITIATOR_IQN, Lab, guest_script


@pytest.mark.lab
def test_soft_roce_pingpong_and_iser_login_io(lab: Lab) -> None:
    env = {"GUEST_ADDR": USER_NET_GUEST, "TARGET_IQN": "iqn.2026-11.org.hpt.lab:iser",
           "INITIATOR_IQN": INITIATOR_IQN, "IO_MIB": "8", "TARGET_KIND": "tgtd"}
    # No forwarded ports: the guest talks only to itself over rxe0.
    script = guest_script("rxe_up.sh", "rc_pingpong.sh", "tgtd_iser_start.sh", "kernel_iser_login.sh",
                          "iser_logout.sh")
    result = lab.run_one(script, name="iser", env=env, nics=[UserNet()], memory_mib=1536)
    assert "ibv_rc_pingpong passed" in result.output
    assert "logged in over iSER to tgtd, LUN at /dev/sd" in result.output
    assert "tgtd iSER verified 8 MiB" in result.output
    assert "logged out" in result.output
