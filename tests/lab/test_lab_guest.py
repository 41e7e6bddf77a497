"""The guest runner itself, and hpt running inside a guest from the 9p share (needed for iSER)."""

from __future__ import annotations

import pytest

from ci.lab.guest import Guest, GuestSpec

from .conftest import INITIATOR_IQN, Lab, guest_script, hptd_missing


@pytest.mark.lab
def test_guest_returns_output_and_exit_status(lab: Lab) -> None:
    spec = lab.spec('echo "from the guest: $LAB_HOST"; cat /proc/cmdline; exit 7\n', name="exit-status")
    with Guest(spec) as guest:
        result = guest.wait()
        assert guest.proc is not None and guest.proc.poll() is not None, "QEMU still running"
    assert result.rc == 7
    assert "from the guest: 10.0.2.100" in result.output
    assert "init=/sbin/lab-init" in result.output
    assert "--- kernel warnings (dmesg) ---" in result.output  # a failed run carries the kernel's warnings
    assert result.console_log.is_file(), "console log not kept for a failing run"
    assert not result.timed_out


@pytest.mark.lab
def test_guest_timeout_ends_qemu(lab: Lab) -> None:
    spec: GuestSpec = lab.spec("sleep 3600\n", name="timeout", timeout=30.0)
    with Guest(spec) as guest:
        result = guest.wait()
        assert guest.proc is not None and guest.proc.poll() is not None, "QEMU still running after timeout"
    assert result.timed_out
    assert result.rc is None
    assert "timed out" in result.describe()


@pytest.mark.lab
def test_hpt_imports_and_runs_in_guest(lab: Lab) -> None:
    result = lab.run_one(guest_script("guest_python.sh"), name="guest-python")
    assert "== python 3.11." in result.output
    assert "hpt from /src/hpt/__init__.py" in result.output
    assert "hptd --help runs in the guest" in result.output


@pytest.mark.lab
def test_hptd_in_guest_serves_guest_kernel_initiator(lab: Lab) -> None:
    reason = hptd_missing()
    if reason:
        pytest.skip(f"lab: {reason}")
    env = {"LAB_HOST": "127.0.0.1", "TARGET_PORT": "3260", "CHAP_USER": "", "CHAP_SECRET": "",
           "INITIATOR_IQN": INITIATOR_IQN, "IO_MIB": "8"}
    result = lab.run_one(guest_script("hptd_in_guest.sh", "iscsi_tcp.sh"), name="hptd-in-guest", env=env)
    assert "hptd in the guest serves iqn." in result.output
    assert "logged out" in result.output
