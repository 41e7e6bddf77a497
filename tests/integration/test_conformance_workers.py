"""libiscsi's conformance suite against hptd with ``[daemon] workers = 2`` (issue 17): its two
initiators (and MultipathIO's two paths) land on two worker processes, so every reservation, unit
attention and reinstatement test crosses them. A thin file LUN: the same real passes as one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.hptd import Hptd, one_lun_config, start_hptd
from tests.integration.test_conformance import run_cunit

pytestmark = pytest.mark.integration

IQN = "iqn.2026-12.org.hpt.test:workers"
LUN = 'store = "file"\npath = "{tmp}/thin.img"\nsize = "64M"\nthin = true'
#: Real passes (run without [SKIPPED]) of ALL on this LUN with one process; the rest are skips that
#: depend on the LUN, not on the workers (e.g. the read-only and removable families).
PASSES = 200


@pytest.fixture(scope="module")
def hptd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hptd]:
    tmp: Path = tmp_path_factory.mktemp("workers")
    daemon = start_hptd(tmp, one_lun_config(IQN, LUN, '[daemon]\nworkers = 2\ncontrol_socket = ""'))
    yield daemon
    assert daemon.stop() == 0


def test_iscsi_test_cu_all_over_two_workers(hptd: Hptd, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cunit(hptd, IQN)
    with capsys.disabled():
        print(f"\niscsi-test-cu over two workers:\n{result.table()}")
    counts = result.count()
    assert result.failed() == []
    assert counts["passed"] >= PASSES, counts
    log = hptd.log_text()
    assert "worker 1 (pid" in log and "worker 2 (pid" in log, "connections did not reach both workers"


def test_multipath_io_through_two_workers(hptd: Hptd) -> None:
    result = run_cunit(hptd, IQN, "SCSI.MultipathIO.*", more_ports=(hptd.port,))
    assert result.failed() == []
    assert result.count()["passed"] == 4, result.table()

