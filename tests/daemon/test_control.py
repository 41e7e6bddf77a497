"""The control plane without sockets: JSON-RPC 2.0 framing, and handlers changing a Server whole or
not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.control import Control, Document, methods
from hpt.daemon.control.rpc import handle
from hpt.daemon.server import Server

TEXT = """
[[portal]]
address = "127.0.0.1:3260"

[[target]]
name = "iqn.2026-11.org.hpt.test:a"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "1M"
"""


@pytest.fixture
def rpc(tmp_path: Path) -> Any:
    config = parse_config(TEXT, "t.toml", base_dir=tmp_path)
    server = Server(config)  # not started: no portal listens
    ctl = Control(server, Document.of(config, TEXT, tmp_path))
    table = methods(ctl)

    def call(method: str, **params: Any) -> dict[str, Any]:
        line = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 7})
        answer = handle(line, table)
        assert answer is not None
        return json.loads(answer)  # type: ignore[no-any-return]

    call.server, call.ctl = server, ctl  # type: ignore[attr-defined]
    yield call
    server.stop()


def test_framing() -> None:
    assert json.loads(handle(b"{nope", {}) or b"")["error"]["code"] == -32700
    assert json.loads(handle(b'{"method": "x", "id": 1}', {}) or b"")["error"]["code"] == -32600
    assert json.loads(handle(b'{"jsonrpc": "2.0", "method": "x", "id": 1}', {}) or b"")["error"] == {
        "code": -32601, "message": "no method 'x'"}
    table = {"echo": lambda p: p.values}
    assert handle(b'{"jsonrpc": "2.0", "method": "echo"}', table) is None  # a notification
    batch = json.loads(handle(b'[{"jsonrpc": "2.0", "method": "echo", "params": {"a": 1}, "id": 1},'
                              b' {"jsonrpc": "2.0", "method": "echo"}, 5]', table) or b"")
    assert batch[0] == {"jsonrpc": "2.0", "result": {"a": 1}, "id": 1} and batch[1]["error"]["code"] == -32600
    assert json.loads(handle(b"[]", table) or b"")["error"]["code"] == -32600


def test_target_and_lun_live(rpc: Any) -> None:
    server = rpc.server
    assert rpc("target.new", tid=4, name="iqn.2026-11.org.hpt.test:b")["result"] == {
        "tid": 4, "name": "iqn.2026-11.org.hpt.test:b"}
    assert rpc("lun.new", tid=4, lun=0, keys={"store": "ram", "size": "2M", "block_size": 4096})["result"]
    lu = server.targets["iqn.2026-11.org.hpt.test:b"].lu(0)
    assert lu is not None and lu.nblocks == 512
    shown = rpc("target.show", tid=4)["result"][0]
    assert shown["luns"][0]["size"] == 2 << 20 and shown["state"] == "ready"
    assert rpc("target.new", tid=4, name="iqn.2026-11.org.hpt.test:c")["error"]["code"] == -32004
    assert rpc("lun.delete", tid=4, lun=0)["result"] == {"name": "iqn.2026-11.org.hpt.test:b", "lun": 0}
    assert server.targets["iqn.2026-11.org.hpt.test:b"].luns() == []
    assert rpc("target.delete", name="iqn.2026-11.org.hpt.test:b")["result"]
    assert set(server.targets) == {"iqn.2026-11.org.hpt.test:a"}
    assert rpc("lun.new", tid=9, lun=1, keys={})["error"] == {"code": -32001,
                                                              "message": "can't find the target (tid 9)"}


def test_a_bad_change_changes_nothing(rpc: Any, tmp_path: Path) -> None:
    server, ctl = rpc.server, rpc.ctl
    before, targets = ctl.document.text(), dict(server.targets)
    bad = rpc("lun.new", tid=1, lun=2, keys={"store": "ram", "size": "1M", "colour": "red"})
    assert bad["error"]["code"] == -32003
    assert "target[0].lun[1].colour: unknown key" in bad["error"]["message"]
    # the store cannot be had (no such directory): nothing of the change stays
    missing = str(tmp_path / "no" / "such" / "file")
    gone = rpc("lun.new", tid=1, lun=2, keys={"path": missing, "size": "1M"})
    assert gone["error"]["code"] in (-32003, -32005) and "no" in gone["error"]["message"]
    assert ctl.document.text() == before and server.targets == targets
    assert server.targets["iqn.2026-11.org.hpt.test:a"].luns() == [1]
    weak = rpc("account.new", user="alice", password="short")
    assert "12..255 bytes" in weak["error"]["message"] and ctl.document.text() == before


def test_accounts_acl_state_dump(rpc: Any) -> None:
    server = rpc.server
    assert rpc("account.new", user="alice", password="alice-secret-1234")["result"]
    assert rpc("account.bind", tid=1, user="alice")["result"]
    assert server.config.targets[0].incoming == ["alice"]
    assert rpc("target.bind", tid=1, address="10.1.2.3")["result"]
    assert [str(n) for n in server.config.targets[0].addresses] == ["10.1.2.3/32"]
    assert rpc("target.unbind", tid=1, address="10.1.2.3/32")["error"]["code"] == -32602  # the last one
    assert rpc("target.update", tid=1, param="state", value="offline")["result"]
    assert server.offline == {"iqn.2026-11.org.hpt.test:a"}
    assert rpc("target.update", tid=1, param="MaxBurstLength", value="1000")["error"]["code"] == -32003
    assert rpc("account.delete", user="alice")["result"] and server.config.targets[0].incoming == []
    dumped = rpc("sys.dump")["result"]
    again = parse_config(dumped, "dump")
    assert again.targets[0].addresses == server.config.targets[0].addresses and not again.accounts


def test_faults_injected_and_cleared_on_a_live_lu(rpc: Any) -> None:
    lu = rpc.server.targets["iqn.2026-11.org.hpt.test:a"].lu(1)
    assert rpc("lun.inject", tid=1, lun=1, op="read", lba=[10, 19], error="medium")["result"] == {
        "name": "iqn.2026-11.org.hpt.test:a", "lun": 1,
        "faults": [{"op": "read", "lba": [10, 19], "error": "medium"}]}
    got = rpc("lun.inject", name="iqn.2026-11.org.hpt.test:a", lun=1, op="any", error="delay:0.5")["result"]
    assert got["faults"][1] == {"op": "any", "lba": None, "error": "delay:0.5"}
    assert lu.faults is not None and len(lu.faults.faults) == 2
    assert "[[target.lun]]" in rpc("sys.dump")["result"] and "medium" not in rpc("sys.dump")["result"]
    cleared = rpc("lun.clear", tid=1)["result"]
    assert cleared == [{"name": "iqn.2026-11.org.hpt.test:a", "lun": 1, "faults": []}]
    assert lu.faults is None


@pytest.mark.parametrize(("params", "code", "message"), [
    ({"tid": 1, "lun": 1, "op": "read", "lba": [5, 1], "error": "medium"}, -32602,
     "lba: the first block 5 is after the last 1"),
    ({"tid": 1, "lun": 1, "op": "read", "error": "lava"}, -32602, "error must be one of medium"),
    ({"tid": 1, "lun": 1, "error": "busy"}, -32602, "missing parameter: op"),
    ({"tid": 1, "lun": 2, "op": "read", "error": "busy"}, -32001,
     "can't find the logical unit 2 of iqn.2026-11.org.hpt.test:a"),
    ({"tid": 3, "lun": 1, "op": "read", "error": "busy"}, -32001, "can't find the target (tid 3)"),
])
def test_a_bad_fault_is_refused(rpc: Any, params: dict[str, Any], code: int, message: str) -> None:
    error = rpc("lun.inject", **params)["error"]
    assert error["code"] == code and message in error["message"]
    assert rpc.server.targets["iqn.2026-11.org.hpt.test:a"].lu(1).faults is None
