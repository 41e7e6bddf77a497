"""hptadm against a running hptd: live changes with sessions open (RFC 7143 sessions over loopback,
libiscsi's tools and a socket initiator), every refusal clear and changing nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hpt.daemon.config import parse_config

from .hptd import Hptd, hptadm, need, start_hptd
from .wire import WireInitiator, luns_of, report_luns, tur, write10

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:admin"
CONFIG = """
[daemon]
control_socket = "{tmp}/control.sock"

[[portal]]
address = "127.0.0.1:{port}"
"""
UNIT_ATTENTION, REPORTED_LUNS_CHANGED = 6, (0x3F, 0x0E)


def tgt(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return hptadm(tmp, "--lld", "iscsi", *args, check=check)


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Hptd:
    """hptd with a portal and no targets (the fixed interface), then target 1 with a RAM LUN 1; a test
    parametrized with ``workers`` (indirect) runs that many worker processes."""
    workers = getattr(request, "param", 1)
    d = start_hptd(tmp_path, CONFIG.replace("[daemon]\n", f"[daemon]\nworkers = {workers}\n"))
    tgt(tmp_path, "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
    tgt(tmp_path, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--bstype", "ram",
        "--bsopts", "size=16M")
    yield d
    rc = d.stop()
    assert rc == 0, d.log_text()[-3000:]
    assert "Traceback" not in d.log_text(), d.log_text()[-3000:]


def test_show_dump_and_refusals(daemon: Hptd, tmp_path: Path) -> None:
    backing = tmp_path / "disk2.img"
    tgt(tmp_path, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "-b", str(backing),
        "--params", "size=8M,vendor_id=ACME,thin_provisioning=1")  # no --bstype: the file store
    show = tgt(tmp_path, "--op", "show", "--mode", "target").stdout
    assert f"Target 1: {IQN}" in show and "LUN: 2" in show and "SCSI ID: ACME" in show, show
    assert f"Backing store path: {backing}" in show and "Thin-provisioning: Yes" in show, show
    shown = json.loads(tgt(tmp_path, "--op", "show", "--mode", "target", "--json").stdout)
    assert [lun["size"] for lun in shown[0]["luns"]] == [16 << 20, 8 << 20]
    dump = hptadm(tmp_path, "--dump").stdout
    config = parse_config(dump, "dump")  # what hptd --config accepts
    assert [lc.lun for lc in config.targets[0].luns] == [1, 2]
    # refusals: clear message, non-zero exit, nothing changed
    bad = tgt(tmp_path, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "3", "--bstype", "ram",
              "--bsopts", "size=1M", "--blocksize", "520", check=False)
    assert bad.returncode == 1 and "block_size: must be 512 or 4096, got 520" in bad.stderr, bad.stderr
    missing = tgt(tmp_path, "--op", "delete", "--mode", "target", "--tid", "9", check=False)
    assert missing.returncode == 1 and "can't find the target" in missing.stderr
    usage = tgt(tmp_path, "--op", "new", "--mode", "logicalunit", "--tid", "1", check=False)
    assert usage.returncode == 2 and "--lun is required" in usage.stderr
    assert hptadm(tmp_path, "--dump").stdout == dump
    iscsi_inq = need("iscsi-inq", "libiscsi-bin")
    out = subprocess.run([iscsi_inq, daemon.url(IQN, 2)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "ACME" in out.stdout, out.stdout + out.stderr


def test_new_lun_raises_reported_luns_data_has_changed(daemon: Hptd, tmp_path: Path) -> None:
    ini = WireInitiator(daemon.port, IQN)
    assert ini.login() == 0
    while ini.command(tur(), lun=1).status:  # the power-on unit attention first
        pass
    tgt(tmp_path, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--bstype", "ram",
        "--bsopts", "size=4M")
    r = ini.command(tur(), lun=1)
    assert r.status == 2 and r.sense_key_asc == (UNIT_ATTENTION, *REPORTED_LUNS_CHANGED)
    assert luns_of(ini.command(report_luns(), lun=1, read=4096).data) == [1, 2]
    ini.close()


@pytest.mark.parametrize("daemon", [1, 2], indirect=True, ids=["one-process", "two-workers"])
def test_forced_delete_drains_writes_in_flight(daemon: Hptd, tmp_path: Path) -> None:
    """A LUN in use is refused without --force (with two workers: by the one serving the session, so by
    both: nothing changes), deleted with it, its writes in flight drained and none lost."""
    backing = Path("/dev/shm") / f"hpt-admin-{daemon.port}.img"
    tgt(tmp_path, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "-b", str(backing),
        "--params", "size=64M,io_engine=threads")
    try:
        ini = WireInitiator(daemon.port, IQN)
        assert ini.login() == 0
        acked: list[int] = []
        ended: list[str] = []

        def writer() -> None:  # 8 WRITEs in flight at any time, each block holding its own LBA
            outstanding: dict[int, int] = {}
            lba = 0
            try:
                while True:
                    while len(outstanding) < 8:
                        data = bytes([lba % 251 + 1]) * 4096
                        outstanding[ini.send(write10(lba, 8), lun=2, write=data)] = lba
                        lba += 8
                    r = ini.response()
                    done = outstanding.pop(r.tag)
                    if r.status == 0:
                        acked.append(done)
                    elif r.sense_key_asc[0] != UNIT_ATTENTION:
                        ended.append(f"status {r.status} sense {r.sense_key_asc}")
                        return
            except (ConnectionError, OSError) as err:
                ended.append(f"connection: {err}")

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        time.sleep(1.0)
        delete = ("--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "2")
        refused = tgt(tmp_path, *delete, check=False)
        assert refused.returncode == 1 and "in use" in refused.stderr and "--force" in refused.stderr
        started = time.monotonic()
        tgt(tmp_path, *delete, "--force")
        assert time.monotonic() - started < 30
        thread.join(30)
        assert not thread.is_alive(), "the writer hangs after the forced delete"
        assert ended and "(5, 37, 0)" in ended[0], ended  # LOGICAL UNIT NOT SUPPORTED from then on
        assert len(acked) > 8
        with backing.open("rb") as f:
            for lba in acked:  # no acknowledged write lost
                f.seek(lba * 512)
                assert f.read(4096) == bytes([lba % 251 + 1]) * 4096, lba
        ini.close()
    finally:
        backing.unlink(missing_ok=True)


def test_chap_bound_live_refuses_new_login_without_credentials(daemon: Hptd, tmp_path: Path) -> None:
    iscsi_inq = need("iscsi-inq", "libiscsi-bin")
    assert subprocess.run([iscsi_inq, daemon.url(IQN)], capture_output=True, timeout=30).returncode == 0
    tgt(tmp_path, "--op", "new", "--mode", "account", "--user", "alice", "--password", "alice-secret-1234")
    tgt(tmp_path, "--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice")
    plain = subprocess.run([iscsi_inq, daemon.url(IQN)], capture_output=True, text=True, timeout=30)
    assert plain.returncode != 0
    chap = subprocess.run([iscsi_inq, daemon.url(IQN, auth="alice%alice-secret-1234@")], capture_output=True,
                          text=True, timeout=30)
    assert chap.returncode == 0 and "HPT" in chap.stdout, chap.stderr


def test_offline_sessions_and_portals(daemon: Hptd, tmp_path: Path) -> None:
    ini = WireInitiator(daemon.port, IQN)
    assert ini.login() == 0
    sessions = json.loads(tgt(tmp_path, "--op", "show", "--mode", "session", "--tid", "1", "--json").stdout)
    assert [s["initiator"] for s in sessions] == [ini.name] and sessions[0]["connections"]
    tgt(tmp_path, "--op", "update", "--mode", "target", "--tid", "1", "--name", "state", "--value", "offline")
    assert "State: offline" in tgt(tmp_path, "--op", "show", "--mode", "target").stdout
    assert WireInitiator(daemon.port, IQN, isid=0x23D000000099).login() == 0x0301  # service unavailable
    tgt(tmp_path, "--op", "update", "--mode", "target", "--tid", "1", "--name", "state", "--value", "ready")
    tgt(tmp_path, "--op", "delete", "--mode", "connection", "--tid", "1", "--sid", str(sessions[0]["sid"]),
        "--cid", "0")
    with pytest.raises((ConnectionError, OSError)):
        for _ in range(3):
            ini.command(tur(), lun=1)
    other = daemon.port + 1 if daemon.port < 65535 else daemon.port - 1
    tgt(tmp_path, "--op", "new", "--mode", "portal", "--params", f"portal=127.0.0.1:{other}")
    assert WireInitiator(other, IQN, isid=0x23D000000077).login() == 0
    assert f"Portal: 127.0.0.1:{other},1" in tgt(tmp_path, "--op", "show", "--mode", "portal").stdout
    tgt(tmp_path, "--op", "delete", "--mode", "portal", "--params", f"portal=127.0.0.1:{other}", "--force")
    with pytest.raises(OSError):
        WireInitiator(other, IQN)


def test_sighup_reloads_the_file(daemon: Hptd, tmp_path: Path) -> None:
    cfg = next(tmp_path.glob("hptd-*.toml"))
    cfg.write_text(cfg.read_text() + f'\n[[target]]\nname = "{IQN}"\n  [[target.lun]]\n  lun = 5\n'
                   '  store = "ram"\n  size = "4M"\n')
    daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while "reloaded" not in daemon.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "reloaded" in daemon.log_text(), daemon.log_text()[-2000:]
    luns = json.loads(tgt(tmp_path, "--op", "show", "--mode", "target", "--json").stdout)[0]["luns"]
    assert [lun["lun"] for lun in luns] == [5]  # the file is the truth: LUN 1 (made by hptadm) went
    cfg.write_text(cfg.read_text().replace('size = "4M"', 'size = "4M"\n  block_size = 520'))
    daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while "reload refused" not in daemon.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "block_size: must be 512 or 4096" in daemon.log_text()
    assert daemon.alive()
