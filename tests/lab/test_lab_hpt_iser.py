"""hptd's iSER transport in a guest over soft-RoCE: the kernel ib_iser initiator against hptd."""

from __future__ import annotations

import pytest

from ci.lab.guest import USER_NET_GUEST, UserNet

from .conftest import INITIATOR_IQN, Lab, guest_script

TARGET_IQN = "iqn.2026-11.org.hpt.lab:hptd-iser"


def iser_env(**extra: str) -> dict[str, str]:
    return {"GUEST_ADDR": USER_NET_GUEST, "TARGET_IQN": TARGET_IQN, "INITIATOR_IQN": INITIATOR_IQN,
            "IO_MIB": "8", **extra}


@pytest.mark.lab
def test_kernel_iser_initiator_against_hptd(lab: Lab) -> None:
    result = lab.run_one(guest_script("rxe_up.sh", "hptd_iser.sh", "iser_logout.sh"), name="hptd-iser",
                         env=iser_env(), nics=[UserNet()], memory_mib=1536)
    out = result.output
    assert "logged in over iSER to hptd, LUN at /dev/sd" in out
    assert "Device Identification VPD page" in out
    assert "hptd iSER verified 8 MiB" in out
    assert "logged out" in out
    assert "iSER connect request from 10.0.2.15:" in out  # hptd's own log: the CM path, not TCP
