"""One targets.conf given to Debian's tgt-admin/tgtd and to ``hptd --tgt-config``: libiscsi's tools see
the same targets, LUNs, sizes and INQUIRY identities from both, and the same CHAP and ACL decisions."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .hptd import free_port, need, start_hptd

pytestmark = pytest.mark.integration

OPEN = "iqn.2026-11.org.example:tgt"  # CHAP, an initiator-name and no initiator-address
EITHER = "iqn.2026-11.org.example:either"  # initiator-name and initiator-address: either lets in
ALLOWED = "iqn.2026-11.org.example:allowed"
OTHER = "iqn.2026-11.org.example:other"
ALICE = "alice%alice-secret-1234@"
CONF = f"""\
iSNS On
<target {OPEN}>
    <backing-store {{tmp}}/disk1.img>
        vendor_id ACME
        product_id TgtDisk
        scsi_sn TGT-ONE
    </backing-store>
    <backing-store {{tmp}}/disk2.img>
        lun 5
    </backing-store>
    incominguser alice alice-secret-1234
    initiator-name {ALLOWED}
</target>
<target {EITHER}>
    backing-store {{tmp}}/disk3.img
    initiator-address 10.9.9.9
    initiator-name {ALLOWED}
</target>
"""
#: (target, LUN, initiator name, credentials) asked of both targets
CASES = [(OPEN, 1, ALLOWED, ALICE), (OPEN, 5, ALLOWED, ALICE), (OPEN, 1, OTHER, ALICE),
         (OPEN, 1, ALLOWED, ""), (EITHER, 1, ALLOWED, ""), (EITHER, 1, OTHER, "")]


class Tgtd:
    """Debian's tgtd on a loopback port with its own management socket, configured by tgt-admin."""

    def __init__(self, tmp: Path, conf: Path) -> None:
        self.port, self.control = free_port(), str(os.getpid() % 10000 + 7)
        self.env = dict(os.environ, TGT_IPC_SOCKET=str(tmp / "tgtd.socket"))
        argv = ["tgtd", "-f", "-C", self.control, "--iscsi", f"portal=127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while self.tgtadm("--mode", "sys", "--op", "show").returncode != 0:
            assert time.monotonic() < deadline and self.proc.poll() is None, "tgtd did not start"
            time.sleep(0.1)
        done = subprocess.run(["tgt-admin", "-C", self.control, "-e", "-c", str(conf)], env=self.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    def tgtadm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tgtadm", "-C", self.control, "--lld", "iscsi", *args], env=self.env,
                              capture_output=True, text=True, timeout=30)

    def url(self, iqn: str, lun: int, auth: str) -> str:
        return f"iscsi://{auth}127.0.0.1:{self.port}/{iqn}/{lun}"

    def stop(self) -> None:
        for tid in ("1", "2"):
            self.tgtadm("--mode", "target", "--op", "delete", "--tid", tid, "--force")
        self.tgtadm("--mode", "sys", "--op", "delete")
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    for name, mib in (("disk1", 8), ("disk2", 4), ("disk3", 2)):
        (tmp_path / f"{name}.img").write_bytes(bytes(mib << 20))
    path = tmp_path / "targets.conf"
    path.write_text(CONF.replace("{tmp}", str(tmp_path)))
    return path


@pytest.fixture
def tgtd(tmp_path: Path, conf: Path) -> Iterator[Tgtd]:
    if shutil.which("tgtd") is None or shutil.which("tgt-admin") is None:
        pytest.skip("tgtd/tgt-admin not installed (Debian package tgt; ci/test.sh installs it)")
    t = Tgtd(tmp_path, conf)
    yield t
    t.stop()


def _seen(url_of: object, cases: list[tuple[str, int, str, str]]) -> list[dict[str, str]]:
    """What libiscsi sees of each case: login result, identity, unit serial number and size."""
    inq, cap = need("iscsi-inq", "libiscsi-bin"), need("iscsi-readcapacity16", "libiscsi-bin")
    seen = []
    for iqn, lun, name, auth in cases:
        url = url_of(iqn, lun, auth)  # type: ignore[operator]
        std = subprocess.run([inq, "-i", name, url], capture_output=True, text=True, timeout=30)
        if std.returncode:
            seen.append({"login": "refused"})
            continue
        fields = dict(line.split(":", 1) for line in std.stdout.splitlines() if ":" in line)
        serial = subprocess.run([inq, "-i", name, "-e", "1", "-c", "128", url], capture_output=True,
                                text=True, timeout=30).stdout
        size = subprocess.run([cap, "-i", name, url], capture_output=True, text=True, timeout=30).stdout
        seen.append({"login": "ok", "type": fields.get("Peripheral Device Type", ""),
                     "vendor": fields.get("Vendor", "").strip(),
                     "product": fields.get("Product", "").strip(),
                     # the value, not its padding: tgtd right-aligns it in a fixed-width field
                     "serial": serial.strip().splitlines()[-1].replace(" ", "") if serial.strip() else "",
                     "size": next((x for x in size.splitlines() if x.startswith("Total size")), "")})
    return seen


def test_the_same_targets_conf_serves_the_same_on_tgtd_and_hptd(tmp_path: Path, conf: Path,
                                                                 tgtd: Tgtd) -> None:
    theirs = _seen(tgtd.url, CASES)
    d = start_hptd(tmp_path, tgt_config=conf)
    try:
        ours = _seen(d.url, CASES)
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]
    for case, tgt, hpt in zip(CASES, theirs, ours, strict=True):
        assert hpt == tgt, f"{case}: tgtd {tgt}, hptd {hpt}"
    # what both agree on is what the file says
    assert [s["login"] for s in ours] == ["ok", "ok", "ok", "refused", "ok", "refused"]
    assert ours[0]["vendor"] == "ACME" and ours[0]["product"] == "TgtDisk" and "TGT-ONE" in ours[0]["serial"]
    assert ours[0]["size"] == "Total size:8388608" and ours[1]["size"] == "Total size:4194304"
    log = d.log_text()
    assert f"{conf}:1: iSNS: not supported by hpt" in log and "Traceback" not in log
