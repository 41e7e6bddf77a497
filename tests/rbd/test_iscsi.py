"""hptd serving a thin rbd LUN over iSCSI, held to the in-memory thin LUN's bar: libiscsi's
``iscsi-test-cu --test ALL`` (tests/integration/test_conformance.py), plus hptd's own start-up checks."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ci.ceph.microceph import MicroCeph
from tests.integration.cunit import parse_cunit
from tests.integration.hptd import need, one_lun_config, start_hptd
from tests.integration.test_conformance import INITIATOR_1, INITIATOR_2, TGT_FAILURES, TGT_PASSES

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:rbd"


def rbd_lun(ceph: MicroCeph, image: str, extra: str = "") -> str:
    return one_lun_config(IQN, f'store = "rbd"\nimage = "{image}"\nceph_conf = "{ceph.conf}"\n'
                               f'thin = true\nblock_size = 4096\n{extra}')


def test_iscsi_test_cu_all_on_a_thin_rbd_lun(ceph: MicroCeph, image: Callable[..., str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    tool = need("iscsi-test-cu", "libiscsi-bin")
    d = start_hptd(tmp_path, rbd_lun(ceph, image("64M")))
    try:
        proc = subprocess.run([tool, "--dataloss", "--test", "ALL", "--initiator-name", INITIATOR_1,
                               "--initiator-name-2", INITIATOR_2, d.url(IQN)],
                              capture_output=True, text=True, timeout=900)
        result = parse_cunit(proc.stdout)
        with capsys.disabled():
            print(f"\niscsi-test-cu on a thin rbd LUN:\n{result.table()}")
            print("failed:", ", ".join(result.failed()) or "none")
        assert d.alive(), f"hptd died during the run:\n{d.log_text()[-4000:]}"
    finally:
        rc = d.stop()
    counts = result.count()
    assert rc == 0, d.log_text()[-4000:]
    assert "Traceback" not in d.log_text(), d.log_text()[-4000:]
    assert len(result.outcomes) >= 230, f"only {len(result.outcomes)} tests ran:\n{proc.stdout[-3000:]}"
    assert counts["passed"] >= TGT_PASSES, f"{counts['passed']} real passes, tgt gets {TGT_PASSES}"
    assert counts["failed"] < TGT_FAILURES, f"{counts['failed']} failures: {result.failed()}"


def test_hptd_refuses_to_start_on_a_missing_image(ceph: MicroCeph, tmp_path: Path) -> None:
    """The error names the LUN's image and Ceph's reason, at start, instead of a LUN that fails later."""
    with pytest.raises(AssertionError, match=r"exited with [1-9]") as info:
        start_hptd(tmp_path, rbd_lun(ceph, "missing"))
    assert "rbd rbd/missing: opening image rbd/missing: No such file or directory" in str(info.value)
