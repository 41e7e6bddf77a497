"""Real initiators against hptd: libiscsi's tools and QEMU's iscsi:// driver (loopback only)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from hpt.daemon.config import DEMO_TARGET

from .conftest import CHAP, FULL, MUTUAL, THIN
from .hptd import Hptd, need, start_hptd

pytestmark = pytest.mark.integration


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def test_demo_is_listed_by_iscsi_ls(tmp_path: Path) -> None:
    need("iscsi-ls", "libiscsi-bin")
    demo = start_hptd(tmp_path, demo=True)
    try:
        r = run("iscsi-ls", "-s", f"iscsi://127.0.0.1:{demo.port}")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"Target:{DEMO_TARGET} Portal:127.0.0.1:{demo.port},1" in r.stdout, r.stdout
        assert "Lun:1" in r.stdout and "Type:DIRECT_ACCESS" in r.stdout, r.stdout
        # iscsi-ls prints the last LBA times the block size: 1 GiB shows as 1023M
        assert "(Size:1023M)" in r.stdout, r.stdout
        r = run("iscsi-readcapacity16", "-s", demo.url(DEMO_TARGET))
        assert r.returncode == 0 and int(r.stdout.split()[-1]) == 1 << 30, r.stdout
    finally:
        assert demo.stop() == 0


def test_discovery_lists_every_target(hptd: Hptd) -> None:
    need("iscsi-ls", "libiscsi-bin")
    r = run("iscsi-ls", f"iscsi://127.0.0.1:{hptd.port}")
    assert r.returncode == 0, r.stderr
    for iqn in (FULL, THIN, CHAP, MUTUAL):
        assert f"Target:{iqn} Portal:127.0.0.1:{hptd.port},1" in r.stdout, r.stdout


def test_iscsi_inq_and_readcapacity(hptd: Hptd) -> None:
    need("iscsi-inq", "libiscsi-bin")
    r = run("iscsi-inq", hptd.url(FULL))
    assert r.returncode == 0, r.stderr
    assert "DIRECT_ACCESS" in r.stdout, r.stdout
    assert "HPT" in r.stdout
    r = run("iscsi-inq", "-e", "1", "-c", "0x80", hptd.url(FULL))
    assert r.returncode == 0, r.stderr
    r = run("iscsi-readcapacity16", hptd.url(THIN))
    assert r.returncode == 0, r.stderr
    fields = dict(line.split(":", 1) for line in r.stdout.splitlines() if line.count(":") == 1)
    assert fields["LOGICAL BLOCK LENGTH IN BYTES"] == "4096", r.stdout
    assert "LBPME:1" in r.stdout, r.stdout
    assert (int(fields["RETURNED LOGICAL BLOCK ADDRESS"]) + 1) * 4096 == 256 << 20


def test_qemu_img_round_trip_with_checksum(hptd: Hptd, tmp_path: Path) -> None:
    need("qemu-img", "qemu-utils")
    src = tmp_path / "src.raw"
    data = os.urandom(8 << 20)
    src.write_bytes(data)
    r = run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", str(src), hptd.url(FULL), timeout=300)
    if "Unknown protocol" in r.stderr or "Unknown driver 'iscsi'" in r.stderr:
        pytest.skip(f"qemu-img has no iscsi driver (Debian package qemu-block-extra): {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    back = tmp_path / "back.raw"
    r = run("qemu-img", "convert", "-f", "raw", "-O", "raw", hptd.url(FULL), str(back), timeout=300)
    assert r.returncode == 0, r.stderr
    got = back.read_bytes()
    assert len(got) == 256 << 20
    assert hashlib.sha256(got[: len(data)]).hexdigest() == hashlib.sha256(data).hexdigest()
    # the whole LUN read back equals the LUN
    r = run("qemu-img", "compare", "-f", "raw", "-F", "raw", str(back), hptd.url(FULL), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Images are identical" in r.stdout


def test_chap_right_secret_logs_in(hptd: Hptd) -> None:
    need("iscsi-inq", "libiscsi-bin")
    r = run("iscsi-inq", hptd.url(CHAP, auth="alice%alice-secret-1234@"))
    assert r.returncode == 0, r.stderr
    assert "DIRECT_ACCESS" in r.stdout


def test_chap_wrong_secret_is_refused(hptd: Hptd) -> None:
    need("iscsi-inq", "libiscsi-bin")
    r = run("iscsi-inq", hptd.url(CHAP, auth="alice%wrong-secret-0000@"))
    assert r.returncode != 0
    r = run("iscsi-inq", hptd.url(CHAP))
    assert r.returncode != 0, "a CHAP target let an initiator in without authentication"


def test_mutual_chap(hptd: Hptd) -> None:
    need("iscsi-inq", "libiscsi-bin")
    good = (
        hptd.url(MUTUAL, auth="alice%alice-secret-1234@")
        + "?target_user=target-user&target_password=target-secret-5678"
    )
    r = run("iscsi-inq", good)
    assert r.returncode == 0, r.stderr
    bad = (
        hptd.url(MUTUAL, auth="alice%alice-secret-1234@")
        + "?target_user=target-user&target_password=not-the-secret"
    )
    r = run("iscsi-inq", bad)
    assert r.returncode != 0, "the initiator accepted a target that proved the wrong secret"
