"""hptd's virtual tape library under the Linux kernel's st, ch and sg: mtx, mt-st, tar and Bacula's btape.

* ``vtl-tcp``: ``hptd --demo vtl`` in the guest, the kernel iscsi_tcp initiator logged in over loopback; ch
  attaches the changer (its four element types), mtx runs status, inventory, load, unload, transfer,
  exchange and position; mt-st runs status, rewind, weof, fsf/bsf, fsr/bsr, eod, tell/seek, setblk (variable
  and fixed) and erase, every position checked with READ POSITION; three tar archives separated by
  filemarks are written and read back by checksum; then hptd is killed with SIGKILL during a tar, restarted
  on the same media directory, and the cartridge, the archives before the kill and the drive's positions
  are checked after a new login.
* ``vtl-btape``, at the same time: btape's ``test`` (Bacula's tape qualification) on drive 1, against hptd
  on the host in a network namespace reached over a tap: btape's ~40,000 commands take 8 minutes through
  a guest-side hptd under TCG and about 2 through the host's.
* ``vtl-iser``: the library of ``examples/vtl.toml`` on an iSER portal over soft-RoCE, the kernel ib_iser
  initiator, and the tar round trip.

The guests print the figures (tar MB/s, btape's time); the test prints them again at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.lab.guest import USER_NET_GUEST, GuestResult, TapNet, UserNet
from ci.lab.netns import BRIDGE, NetNamespace

from .conftest import INITIATOR_IQN, REPO, Lab, guest_script, hptd_missing

HOST_ADDR, GUEST_ADDR = "10.77.0.1", "10.77.0.2"
TAP, GUEST_MAC = "tapvtl", "52:54:00:12:34:77"
MEMORY_MIB = 1536


@pytest.fixture
def vtl_lab(lab: Lab) -> Lab:
    reason = hptd_missing()
    if reason:
        pytest.skip(f"lab: {reason}")
    return lab


def env(**extra: str) -> dict[str, str]:
    return {"INITIATOR_IQN": INITIATOR_IQN, **extra}


def tar_rates(result: GuestResult) -> str:
    """The guest's tar round trip as MB/s each way (vtl_tar.sh logs bytes and seconds)."""
    m = re.search(r"== tar: (\d+) bytes in 3 archives \((\d+) objects\) written in ([\d.]+) s, "
                  r"read in ([\d.]+) s", result.output)
    assert m, "no tar figures in the guest output"
    size = int(m.group(1))
    assert size > 8 << 20, f"tar wrote only {size} bytes"
    mb = size / 1e6
    return (f"tar to tape ({result.name}): {mb:.1f} MB in 3 archives, {m.group(2)} objects on tape; "
            f"write {mb / float(m.group(3)):.1f} MB/s, read {mb / float(m.group(4)):.1f} MB/s")


@pytest.fixture
def host_vtl(tmp_path: Path) -> Iterator[tuple[NetNamespace, Path]]:
    """hptd --demo vtl on the host inside a fresh network namespace, at HOST_ADDR:3260 on its bridge, with
    a tap for one guest; yields the namespace and hptd's log, and checks hptd exits 0 on SIGTERM."""
    log = tmp_path / "hptd-host.log"
    with NetNamespace("hptvtl") as ns:
        ns.ip("addr", "add", f"{HOST_ADDR}/24", "dev", BRIDGE)
        ns.add_tap(TAP)
        argv = [sys.executable, "-m", "hpt.daemon", "--demo", "vtl", "--portal", f"{HOST_ADDR}:3260",
                "--path", str(tmp_path / "host-media"), "--control-socket", ""]
        with log.open("wb") as out:
            proc = subprocess.Popen(ns.exec_argv(argv), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=tmp_path,
                                    env=dict(os.environ, PYTHONPATH=str(REPO)))
        try:
            deadline = time.monotonic() + 60
            while "hptd ready" not in log.read_text(errors="replace"):
                assert proc.poll() is None and time.monotonic() < deadline, f"no hptd:\n{log.read_text()}"
                time.sleep(0.2)
            yield ns, log
        finally:
            proc.terminate()
            rc = proc.wait(60)
        assert rc == 0, f"hptd on the host exited {rc}:\n{log.read_text()[-4000:]}"


@pytest.mark.lab
def test_vtl_under_st_ch_mtx_tar_and_btape(vtl_lab: Lab, host_vtl: tuple[NetNamespace, Path]) -> None:
    ns, host_log = host_vtl
    steps = ("vtl.sh", "vtl_up.sh", "vtl_mtx.sh", "vtl_mt.sh", "vtl_tar.sh", "vtl_crash.sh")
    tcp = vtl_lab.spec(guest_script(*steps), name="vtl-tcp", env=env(), nics=[UserNet()],
                       memory_mib=MEMORY_MIB, timeout=600.0)
    btape = vtl_lab.spec(guest_script("vtl.sh", "vtl_up.sh", "vtl_btape.sh"), name="vtl-btape",
                         env=env(LAB_HOST=HOST_ADDR, TARGET_PORT="3260"), nics=[TapNet(TAP, GUEST_MAC)],
                         ip=f"{GUEST_ADDR}/24", netns=ns.name, timeout=600.0)
    try:
        first, second = vtl_lab.run(tcp, btape)
    except AssertionError:
        print(f"---- hptd on the host (btape's target)\n{host_log.read_text(errors='replace')[-4000:]}")
        raise
    out = first.output
    assert "ID 0, LUN 1" in out and "ID 0, LUN 2" in out  # READ ELEMENT STATUS names the drives' LUNs
    for step in ("mtx status: 2 drives, 8 full slots", "mtx load 2 1: drive 1 holds HPT002L6",
                 "mtx unload 2 1", "mtx transfer 3 9 and back", "mtx exchange 4 5 and back",
                 "mtx load 1 0: drive 0 holds HPT001L6"):
        assert f"== {step}" in out, step
    assert "Density code 0x5a" in out
    assert "== file 0 read in 64 KiB buffers: 5 short blocks of 4096" in out
    assert "== fsf 1 stopped at end of data: at block 10" in out
    assert "== mt-st checks passed" in out
    assert out.count(" files read back identical") == 3
    assert "== after the restart HPT001L6 is still in drive 0" in out
    assert "== both archives written before the kill read back identical" in out
    survived = re.search(r"== third archive: (\d+) blocks of 64 KiB survived", out)
    assert survived, out
    bt = second.output
    took = re.search(r"== btape test: exit status 0 in (\d+) s", bt)
    assert took, bt
    assert bt.count("=== Test Succeeded. End Write, rewind, and re-read test ===") == 2
    assert "We should be in file 4. I am at file 4. This is correct!" in bt
    assert "Block re-read correct. Test succeeded!" in bt
    assert "We should be in file 5. I am at file 5. This is correct!" in bt
    assert "NOT correct" not in bt
    print(f"\n{tar_rates(first)}\nkill -9 during tar: {survived.group(1)} blocks of the cut archive "
          f"survived, everything before its filemark read back\nbtape test: passed in {took.group(1)} s")


@pytest.mark.lab
def test_vtl_tar_over_iser(vtl_lab: Lab) -> None:
    script = guest_script("vtl.sh", "rxe_up.sh", "vtl_iser.sh", "vtl_tar.sh")
    result = vtl_lab.run_one(script, name="vtl-iser", env=env(GUEST_ADDR=USER_NET_GUEST), nics=[UserNet()],
                             memory_mib=MEMORY_MIB, timeout=600.0)
    assert "== logged in over iSER, HPT001L6 in drive 0" in result.output
    assert "\niser: " in result.output  # iscsiadm -m session: the session's transport
    assert result.output.count(" files read back identical") == 3
    print(f"\n{tar_rates(result)}")
