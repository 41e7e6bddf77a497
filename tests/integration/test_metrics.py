"""hptd's Prometheus endpoint with I/O done over iSCSI: the counters are the I/O done, ``promtool check
metrics`` accepts the text, ``hptadm --op stat`` shows the same numbers, and a real Prometheus server
scraping hptd answers a PromQL query with them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .hptd import Hptd, free_port, need, start_hptd
from .test_admin import tgt
from .wire import WireInitiator, tur, write10

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:metrics"
INITIATOR = "iqn.2026-11.org.hpt.test:metrics-initiator"
WRITES, READS, BLOCKS = 5, 2, 8  # WRITE(10) and READ(10) of 8 blocks of 512 bytes
CONFIG = f"""
[daemon]
control_socket = "{{tmp}}/control.sock"

[metrics]
address = "127.0.0.1:{{metrics}}"

[[portal]]
address = "127.0.0.1:{{port}}"

[[target]]
name = "{IQN}"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "16M"
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Hptd, int]]:
    port = free_port()
    d = start_hptd(tmp_path, CONFIG.replace("{metrics}", str(port)))
    yield d, port
    assert d.stop() == 0, d.log_text()[-3000:]
    assert "Traceback" not in d.log_text(), d.log_text()[-3000:]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
        return str(answer.read().decode())


def samples(text: str, name: str, **labels: str) -> list[float]:
    return [s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name and labels.items() <= s.labels.items()]


def do_io(d: Hptd) -> WireInitiator:
    """TEST UNIT READY (its unit attention), then the WRITEs and READs, on a session left open."""
    ini = WireInitiator(d.port, IQN, INITIATOR)
    assert ini.login() == 0
    ini.command(tur(), lun=1)
    for i in range(WRITES):
        assert ini.command(write10(i * BLOCKS, BLOCKS), lun=1, write=bytes([i]) * BLOCKS * 512).status == 0
    for i in range(READS):
        cdb = bytes([0x28, 0]) + (i * BLOCKS).to_bytes(4, "big") + bytes([0, 0, BLOCKS, 0])
        reply = ini.command(cdb, lun=1, read=BLOCKS * 512)
        assert reply.status == 0 and reply.data == bytes([i]) * BLOCKS * 512
    return ini


def test_io_is_counted_and_served(daemon: tuple[Hptd, int], tmp_path: Path) -> None:
    d, port = daemon
    ini = do_io(d)
    need("iscsi-readcapacity16", "libiscsi-bin")
    cap = subprocess.run(["iscsi-readcapacity16", d.url(IQN)], capture_output=True, text=True, timeout=30)
    assert cap.returncode == 0 and "Total size:16777216" in cap.stdout, cap.stdout
    text = scrape(port)
    lu = {"target": IQN, "lun": "1"}
    assert samples(text, "hpt_lu_commands_total", kind="write", **lu) == [WRITES]
    assert samples(text, "hpt_lu_commands_total", kind="read", **lu) == [READS]
    assert samples(text, "hpt_lu_bytes_total", kind="write", **lu) == [WRITES * BLOCKS * 512]
    assert samples(text, "hpt_lu_bytes_total", kind="read", **lu) == [READS * BLOCKS * 512]
    assert samples(text, "hpt_lu_errors_total", kind="write", **lu) == [0]
    assert samples(text, "hpt_lu_commands_total", kind="other", **lu)[0] >= 2  # TUR, READ CAPACITY ...
    assert samples(text, "hpt_lu_latency_seconds_count", kind="write", **lu) == [WRITES]
    assert samples(text, "hpt_lu_latency_seconds_bucket", kind="write", le="+Inf", **lu) == [WRITES]
    assert samples(text, "hpt_lu_in_flight", **lu) == [0]
    session = {"target": IQN, "initiator": INITIATOR}
    assert samples(text, "hpt_iscsi_session_commands_total", **session) == [1 + WRITES + READS]
    assert samples(text, "hpt_iscsi_session_write_bytes_total", **session) == [WRITES * BLOCKS * 512]
    assert samples(text, "hpt_iscsi_session_read_bytes_total", **session) == [READS * BLOCKS * 512]
    assert samples(text, "hpt_iscsi_session_errors_total", **session) == [1]  # the unit attention
    assert samples(text, "hpt_iscsi_connection_received_pdus_total", **session)[0] >= 1 + WRITES + READS
    assert samples(text, "hpt_iscsi_connection_received_bytes_total", **session)[0] > WRITES * BLOCKS * 512
    assert samples(text, "hpt_iscsi_connection_sent_bytes_total", **session)[0] > READS * BLOCKS * 512
    ini.close()

    # hptadm shows the same numbers
    stat = json.loads(tgt(tmp_path, "--mode", "logicalunit", "--op", "stat", "--tid", "1", "--json").stdout)
    counters = stat[0]["counters"]
    assert (stat[0]["name"], stat[0]["lun"]) == (IQN, 1)
    assert (counters["write_commands"], counters["write_bytes"]) == (WRITES, WRITES * BLOCKS * 512)
    assert (counters["read_commands"], counters["read_bytes"]) == (READS, READS * BLOCKS * 512)
    shown = tgt(tmp_path, "--mode", "logicalunit", "--op", "stat", "--tid", "1").stdout
    assert f"Target 1: {IQN} LUN: 1" in shown and f"write_commands: {WRITES}" in shown, shown

    promtool = need("promtool", "prometheus")
    check = subprocess.run([promtool, "check", "metrics"], input=scrape(port), capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def _query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as answer:
        doc = json.loads(answer.read())
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def test_prometheus_scrapes_hptd(daemon: tuple[Hptd, int], tmp_path: Path) -> None:
    prometheus = need("prometheus", "prometheus")
    d, port = daemon
    do_io(d).close()
    web = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        f"scrape_configs:\n  - job_name: hptd\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    log = (tmp_path / "prometheus.log").open("w")
    args = [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{web}"]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    promql = f'sum by (kind) (hpt_lu_bytes_total{{job="hptd", target="{IQN}", lun="1"}})'
    try:
        deadline = time.monotonic() + 90
        found: dict[str, float] = {}
        while time.monotonic() < deadline and len(found) < 2:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                found = {r["metric"]["kind"]: float(r["value"][1]) for r in _query(web, promql)}
            except OSError:
                pass  # not listening yet
            time.sleep(0.5)
        assert found == {"write": WRITES * BLOCKS * 512, "read": READS * BLOCKS * 512}, \
            (found, (tmp_path / "prometheus.log").read_text()[-3000:])
        rate = _query(web, f'hpt_lu_commands_total{{target="{IQN}", kind="write"}}')
        assert [float(r["value"][1]) for r in rate] == [WRITES]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
