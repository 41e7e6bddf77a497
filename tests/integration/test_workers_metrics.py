"""``[metrics]`` with ``workers = 2``: the main process serves the endpoint and sums what each worker
counts (hpt.daemon.metrics.SummedCollector): a LU's commands over both workers, every session of each."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .hptd import free_port, one_lun_config, start_hptd
from .test_metrics import scrape
from .test_workers import (
    FILE_LUN,
    IQN,
    ISID_A,
    ISID_B,
    NAME_A,
    NAME_B,
    close_all,
    session,
    started,
    wait_for,
    worker_of,
)
from .wire import write10

pytestmark = pytest.mark.integration


def test_metrics_sum_the_workers(tmp_path: Path) -> None:
    port = free_port()
    head = f'[daemon]\nworkers = 2\n\n[metrics]\naddress = "127.0.0.1:{port}"\n'
    d = start_hptd(tmp_path, one_lun_config(IQN, FILE_LUN, head=head))
    a = b = None
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        a, b = session(d, NAME_A, ISID_A), session(d, NAME_B, ISID_B)
        assert {worker_of(d, a)[0], worker_of(d, b)[0]} == {1, 2}  # one session in each worker
        for ini, writes in ((a, 3), (b, 5)):
            for i in range(writes):
                assert ini.command(write10(i, 1), lun=1, write=bytes(512)).status == 0
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(scrape(port)) for s in family.samples}
        lu = (("kind", "write"), ("lun", "1"), ("target", IQN))
        assert samples[("hpt_lu_commands_total", lu)] == 8  # 3 through one worker, 5 through the other
        assert samples[("hpt_lu_bytes_total", lu)] == 8 * 512
        per_session = {dict(labels)["initiator"]: value for (name, labels), value in samples.items()
                       if name == "hpt_iscsi_session_commands_total"}
        assert per_session[NAME_A] >= 3 and per_session[NAME_B] >= 5  # and their TEST UNIT READYs
        assert any(name == "process_cpu_seconds_total" for name, _ in samples)  # the main process's
    finally:
        close_all(a, b)
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


def test_a_killed_workers_ring_slots_are_given_back(tmp_path: Path) -> None:
    """The workers take their data buffers from one ring the main process keeps (its size: 256 slots a
    worker): slots held through both count in it. Those a worker held when it was killed (WRITEs waiting
    for their data) are free again once it is reaped; the other worker's stay held, and its session goes
    on."""
    port = free_port()
    head = f'[daemon]\nworkers = 2\n\n[metrics]\naddress = "127.0.0.1:{port}"\n'
    d = start_hptd(tmp_path, one_lun_config(IQN, FILE_LUN, head=head))
    a = b = None

    def ring() -> tuple[float, float]:
        samples = {s.name: s.value for family in text_string_to_metric_families(scrape(port))
                   for s in family.samples if s.name.startswith("hpt_ring_")}
        return samples["hpt_ring_slots"], samples["hpt_ring_slots_in_use"]

    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        a, b = session(d, NAME_A, ISID_A), session(d, NAME_B, ISID_B)
        (_ia, pid_a), (_ib, _pid_b) = worker_of(d, a), worker_of(d, b)
        assert ring() == (512, 0)
        for ini, held in ((a, 6), (b, 3)):  # each takes a slot for its data, then waits for it (an R2T)
            for i in range(held):
                ini.send(write10(8 * i, 8), lun=1, writes=8 * 512)
        wait_for("9 slots held through both workers", lambda: ring()[1] == 9)
        os.kill(pid_a, signal.SIGKILL)
        wait_for("worker A's slots given back", lambda: ring()[1] == 3)
        assert b.command(write10(100, 1), lun=1, write=bytes(512)).status == 0
        assert ring()[1] == 3
        b.close()
        wait_for("worker B's slots given back when its session ends", lambda: ring()[1] == 0)
    finally:
        close_all(a, b)
        assert d.stop() == 0
    assert "ring slots it held given back" in d.log_text()
