"""``hptd --tgt-config``: a targets.conf with CHAP, an initiator-name ACL and several LUNs served over
iSCSI; libiscsi's tools see the LUNs, sizes and identities it gives, and its CHAP and ACL apply."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .hptd import need, start_hptd

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.example:tgt"
ALLOWED = "iqn.2026-11.org.example:allowed"
CONF = f"""\
iSNS On
<target {IQN}>
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
"""


def test_tgt_config_is_served(tmp_path: Path) -> None:
    inq, cap = need("iscsi-inq", "libiscsi-bin"), need("iscsi-readcapacity16", "libiscsi-bin")
    (tmp_path / "disk1.img").write_bytes(bytes(8 << 20))
    (tmp_path / "disk2.img").write_bytes(bytes(4 << 20))
    conf = tmp_path / "targets.conf"
    conf.write_text(CONF.replace("{tmp}", str(tmp_path)))
    d = start_hptd(tmp_path, tgt_config=conf)
    try:
        url = d.url(IQN, 1, "alice%alice-secret-1234@")
        identity = subprocess.run([inq, "-i", ALLOWED, url], capture_output=True, text=True, timeout=30)
        assert identity.returncode == 0, identity.stderr
        assert "Vendor:ACME" in identity.stdout.replace(" ", "") and "TgtDisk" in identity.stdout
        sizes = {lun: subprocess.run([cap, "-i", ALLOWED, d.url(IQN, lun, "alice%alice-secret-1234@")],
                                     capture_output=True, text=True, timeout=30).stdout for lun in (1, 5)}
        assert "Total size:8388608" in sizes[1] and "Total size:4194304" in sizes[5], sizes
        no_chap = subprocess.run([inq, "-i", ALLOWED, d.url(IQN, 1)], capture_output=True, text=True,
                                 timeout=30)
        assert no_chap.returncode != 0
        other = subprocess.run([inq, "-i", "iqn.2026-11.org.example:other", url], capture_output=True,
                               text=True, timeout=30)
        assert other.returncode != 0
        assert f"{conf}:1: iSNS: not supported by hpt" in d.log_text()
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]
    assert "Traceback" not in d.log_text()
