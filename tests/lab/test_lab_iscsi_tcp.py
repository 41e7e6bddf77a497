"""Proof 1: the guest's kernel iscsi_tcp initiator against targets on the host's loopback.

Debian's tgtd runs first to prove the lab itself; then the same guest script runs against hptd.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ci.lab.guest import UserNet

from .conftest import IscsiTarget, Lab, guest_script


@pytest.mark.lab
@pytest.mark.parametrize("chap", [False, True], ids=["open", "chap"])
@pytest.mark.parametrize("kind", ["tgtd", "hptd"])
def test_kernel_initiator_login_io_logout(lab: Lab, request: pytest.FixtureRequest, kind: str,
                                          chap: bool) -> None:
    start: Callable[[bool], IscsiTarget] = request.getfixturevalue(f"{kind}_target")
    target = start(chap)
    result = lab.run_one(guest_script("iscsi_tcp.sh"), name=f"iscsi-{kind}", env=target.guest_env(),
                         nics=[UserNet(forwards=(target.port,))])
    assert "logged in, LUN at /dev/sd" in result.output
    assert "Device Identification VPD page" in result.output
    assert "logged out" in result.output
    if chap:
        assert "wrong CHAP secret refused" in result.output
