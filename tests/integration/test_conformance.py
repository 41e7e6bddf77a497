"""libiscsi's conformance suite (iscsi-test-cu --dataloss --test ALL) against hptd.

The bar (issue 2, shared/reference/baseline.md): on a fully provisioned and on a thin LUN, at least
the 160 real passes Debian's tgt 1.0.85 gets, fewer than its 8 failures, and hptd still alive.
A [SKIPPED] test is not counted as a pass.
"""

from __future__ import annotations

import subprocess

import pytest

from .conftest import FULL, THIN
from .cunit import parse_cunit
from .hptd import Hptd, need

pytestmark = pytest.mark.integration

TGT_PASSES = 160
TGT_FAILURES = 8
INITIATOR_1 = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test"
INITIATOR_2 = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2"


@pytest.mark.parametrize("iqn", [FULL, THIN], ids=["full", "thin"])
def test_iscsi_test_cu_all(hptd: Hptd, iqn: str, capsys: pytest.CaptureFixture[str]) -> None:
    tool = need("iscsi-test-cu", "libiscsi-bin")
    cmd = [tool, "--dataloss", "--test", "ALL", "--initiator-name", INITIATOR_1,
           "--initiator-name-2", INITIATOR_2, hptd.url(iqn)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    result = parse_cunit(proc.stdout)
    with capsys.disabled():  # the table belongs in every run's output, passing or not
        print(f"\niscsi-test-cu on the {iqn.rsplit(':', 1)[1]} LUN:\n{result.table()}")
        print("failed:", ", ".join(result.failed()) or "none")
    counts = result.count()
    assert hptd.alive(), f"hptd died during the run:\n{hptd.log_text()[-4000:]}"
    assert len(result.outcomes) >= 230, f"only {len(result.outcomes)} tests ran:\n{proc.stdout[-3000:]}"
    assert counts["passed"] >= TGT_PASSES, f"{counts['passed']} real passes, tgt gets {TGT_PASSES}"
    assert counts["failed"] < TGT_FAILURES, f"{counts['failed']} failures: {result.failed()}"
