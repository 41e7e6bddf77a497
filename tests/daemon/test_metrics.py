"""hptd's metrics without sockets: the collector's Prometheus text and ``lun.stat`` show the counters
the LUs, sessions and FCoE ports keep; ``[metrics]`` in the configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hpt.daemon.config import ConfigError, parse_config
from hpt.daemon.control import Control, Document, methods
from hpt.daemon.control.rpc import handle
from hpt.daemon.metrics import HptCollector, SummedCollector, exposition
from hpt.daemon.server import Server
from hpt.native.ring import Ring
from hpt.scsi.core.command import Nexus, ScsiCommand

IQN = "iqn.2026-11.org.hpt.test:m"
TEXT = f"""
[[portal]]
address = "127.0.0.1:3260"

[metrics]
address = "127.0.0.1:9410"

[[target]]
name = "{IQN}"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "1M"
"""
NEXUS = Nexus("iqn.1994-05.com.example:a,i,0x1", f"{IQN},t,0x1", "iqn.1994-05.com.example:a")


@pytest.fixture
def server(tmp_path: Path) -> Any:
    config = parse_config(TEXT, "t.toml", base_dir=tmp_path)
    srv = Server(config)  # not started: no portal listens
    yield srv, Control(srv, Document.of(config, TEXT, tmp_path))
    srv.stop()


def _io(srv: Server) -> None:
    lu = srv.targets[IQN].lu(1)
    assert lu is not None
    lu.ua.clear(NEXUS.initiator_port)
    data = memoryview(bytearray(8192))
    for _ in range(3):  # WRITE(10) of 16 blocks at LBA 0
        lu.execute(ScsiCommand(1, bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 16, 0]), NEXUS, data_out=data,
                               expected_out=8192))
    lu.execute(ScsiCommand(1, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0]), NEXUS,  # READ(10) of 8 blocks
                           data_in=memoryview(bytearray(4096)), expected_in=4096))


def _samples(srv: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(HptCollector(srv))
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_collector_reads_the_lu_counters(server: Any) -> None:
    srv, _ = server
    _io(srv)
    samples = _samples(srv)

    def lu(name: str, kind: str | None = "read", **more: str) -> float:
        labels = {"target": IQN, "lun": "1", **({"kind": kind} if kind else {}), **more}
        return samples[(name, tuple(sorted(labels.items())))]

    assert lu("hpt_lu_commands_total", "write") == 3 and lu("hpt_lu_commands_total") == 1
    assert lu("hpt_lu_bytes_total", "write") == 3 * 8192 and lu("hpt_lu_bytes_total") == 4096
    assert lu("hpt_lu_errors_total", "write") == 0
    assert lu("hpt_lu_latency_seconds_count", "write") == 3
    assert lu("hpt_lu_latency_seconds_bucket", "write", le="+Inf") == 3
    assert lu("hpt_lu_in_flight", None) == 0
    assert samples[("hpt_ring_slots", ())] == srv.ring.nslots  # one process: its own ring
    assert samples[("hpt_ring_slots_in_use", ())] == 0


def test_lun_stat_shows_the_same_numbers(server: Any) -> None:
    srv, ctl = server
    _io(srv)
    table = methods(ctl)
    line = json.dumps({"jsonrpc": "2.0", "method": "lun.stat", "params": {"tid": 1, "lun": 1}, "id": 1})
    answer = json.loads(handle(line, table) or b"")["result"]
    assert [(a["tid"], a["name"], a["lun"]) for a in answer] == [(1, IQN, 1)]
    counters = answer[0]["counters"]
    assert counters["write_commands"] == 3 and counters["write_bytes"] == 3 * 8192
    assert counters["read_commands"] == 1 and counters["read_bytes"] == 4096 and counters["in_flight"] == 0
    missing = json.dumps({"jsonrpc": "2.0", "method": "lun.stat", "params": {"tid": 1, "lun": 9}, "id": 2})
    assert json.loads(handle(missing, table) or b"")["error"]["code"] == -32001


def test_a_reload_may_not_move_the_metrics(server: Any, tmp_path: Path) -> None:
    srv, ctl = server
    moved = TEXT.replace("127.0.0.1:9410", "127.0.0.1:9411")
    path = tmp_path / "hptd.toml"
    path.write_text(moved)
    ctl.source, ctl.load = path, Document.load
    with pytest.raises(Exception, match=r"\[metrics\] cannot change while hptd runs"):
        ctl.reload()
    assert srv.config.metrics.port == 9410


def test_a_reload_may_not_change_the_event_loop(server: Any, tmp_path: Path) -> None:
    srv, ctl = server
    path = tmp_path / "hptd.toml"
    path.write_text("[daemon]\nevent_loop = false\n" + TEXT)
    ctl.source, ctl.load = path, Document.load
    with pytest.raises(Exception, match=r"daemon.event_loop cannot change while hptd runs"):
        ctl.reload()
    assert srv.config.daemon.event_loop


def _running(tmp_path: Path, text: str) -> tuple[Server, Control]:
    config = parse_config(text, "t.toml", base_dir=tmp_path)
    srv = Server(config)  # not started: no portal listens
    ctl = Control(srv, Document.of(config, text, tmp_path))
    ctl.source, ctl.load = tmp_path / "hptd.toml", Document.load
    return srv, ctl


TAPE = '\n  [[target.lun]]\n  lun = 2\n  type = "tape"\n'


AUTO = '[daemon]\nworkers = "auto"\n'


@pytest.mark.parametrize(("first", "then", "refused"), [
    ("[daemon]\nworkers = 1\n" + TEXT, "[daemon]\nworkers = 2\n" + TEXT, r"\(1 now, 2 asked\)"),
    # "auto" with two workers: a tape drive needs one process
    ("[daemon]\nworkers = 2\n" + TEXT, AUTO + TEXT + TAPE,
     r"\(2 now, 1 asked; .*hptd.toml:\d+: target\[0\].lun\[1\]: a tape keeps its state in one process\)"),
    # "auto" with one process (a tape drive): still one process once the tape is gone
    (AUTO + TEXT + TAPE, AUTO + TEXT, None),
    ("[daemon]\nworkers = 2\n" + TEXT, AUTO + TEXT, None),  # "auto" keeps the two it has
], ids=["one-to-two", "auto-adds-a-tape", "auto-drops-the-tape", "two-to-auto"])
def test_a_reload_may_not_change_the_workers(tmp_path: Path, first: str, then: str,
                                             refused: str | None) -> None:
    """[daemon] workers is how many processes serve: set at start, as [metrics] is; "auto" keeps the
    processes hptd started with while they can serve the new configuration."""
    srv, ctl = _running(tmp_path, first)
    now = srv.config.daemon.workers
    (tmp_path / "hptd.toml").write_text(then.replace("ram", "null"))
    try:
        if refused is not None:
            with pytest.raises(Exception, match=r"daemon.workers cannot change while hptd runs " + refused):
                ctl.reload()
        else:
            ctl.reload()
        assert srv.config.daemon.workers == now
        assert (srv.targets[IQN].lu(2) is not None) == ("tape" in then and refused is None)
    finally:
        srv.stop()


@pytest.mark.parametrize(("text", "message"), [
    ('[metrics]\naddress = "127.0.0.1"\n', 'x.toml:2: metrics.address: needs a port, e.g. "127.0.0.1:9410"'),
    ('[metrics]\nadress = "127.0.0.1:1"\n', 'x.toml:2: metrics.adress: unknown key (did you mean'),
    ("[metrics]\n", "x.toml:1: metrics.address: required"),
    ('[metrics]\naddress = "localhost:9410"\n', 'x.toml:2: metrics.address: "localhost" is not an IPv4'),
])
def test_bad_metrics_tables(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "x.toml")
    assert str(err.value).startswith(message)


def test_metrics_address_forms() -> None:
    assert parse_config("", "x.toml").metrics.host == ""
    config = parse_config('[metrics]\naddress = "[::1]:9410"\n', "x.toml")
    assert (config.metrics.host, config.metrics.port, config.metrics.address) == ("::1", 9410, "[::1]:9410")


def test_the_workers_metrics_are_summed(tmp_path: Path) -> None:
    """With workers each process's collector text is summed by the main process (SummedCollector):
    a LU's counters and histogram over both; samples only one worker has pass through."""
    texts = []
    for writes in (1, 2):
        srv = Server(parse_config(TEXT, "t.toml", base_dir=tmp_path))
        try:
            _io(srv)
            for _ in range(writes - 1):
                _io(srv)
            texts.append(exposition(srv))
        finally:
            srv.stop()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SummedCollector(lambda: texts))
    summed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(generate_latest(registry).decode())
              for s in family.samples}
    write = (("kind", "write"), ("lun", "1"), ("target", IQN))
    assert summed[("hpt_lu_commands_total", write)] == 9  # 3 writes by one process, 6 by the other
    assert summed[("hpt_lu_bytes_total", write)] == 9 * 8192
    assert summed[("hpt_lu_latency_seconds_bucket", (write[0], ("le", "+Inf"), *write[1:]))] == 9
    assert summed[("hpt_lu_in_flight", (("lun", "1"), ("target", IQN)))] == 0
    assert list(SummedCollector(lambda: []).collect()) == []  # no worker ready: no hpt samples
    # the ring: a worker's is the main process's (reported once, by it), never summed
    ring = Ring.shared(4096, 4)
    try:
        srv = Server(parse_config(TEXT, "t.toml", base_dir=tmp_path), ring=ring)
        try:
            assert "hpt_ring_" not in exposition(srv)
        finally:
            srv.stop()
        ring.alloc()
        summed = {s.name: s.value for m in SummedCollector(lambda: [], ring).collect() for s in m.samples}
        assert (summed["hpt_ring_slots"], summed["hpt_ring_slots_in_use"]) == (4, 1)
    finally:
        ring.close()
