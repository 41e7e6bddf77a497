"""ALUA in hptd (SPC-5 5.16): the ``alua`` and ``alua_explicit`` target keys, a target port group per
portal group, and states changed live through the control plane with ASYMMETRIC ACCESS STATE CHANGED."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpt.daemon.alua import configure_alua
from hpt.daemon.config import ConfigError, parse_config
from hpt.daemon.control import Control, Document, methods
from hpt.daemon.control.rpc import handle
from hpt.daemon.server import Server
from hpt.scsi.core.alua import AluaState
from hpt.scsi.core.command import Nexus
from hpt.scsi.core.constants import ASYMMETRIC_ACCESS_STATE_CHANGED
from hpt.scsi.spc.alua import TPGS_EXPLICIT, TPGS_IMPLICIT

NAME = "iqn.2026-11.org.hpt.test:a"


def config_text(target_keys: str = "") -> str:
    return f"""
[[portal]]
address = "127.0.0.1:3260"

[[portal]]
address = "127.0.0.1:3261"
group = 2

[[target]]
name = "{NAME}"
{target_keys}
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "1M"
"""


def test_default_a_group_per_portal_group_all_active() -> None:
    config = parse_config(config_text())
    assert config.targets[0].alua == {} and not config.targets[0].alua_explicit
    server = Server(config)
    target = server.targets[NAME]
    assert target.relative_port_ids == [1, 2] and target.tpgs == TPGS_IMPLICIT
    assert target.port_groups.members == {1: [1], 2: [2]}
    assert target.port_groups.states == {1: AluaState.ACTIVE_OPTIMIZED, 2: AluaState.ACTIVE_OPTIMIZED}


def test_configured_states_and_explicit() -> None:
    config = parse_config(config_text('alua = { 1 = "active/non-optimized", 2 = "Standby" }\n'
                                      "alua_explicit = true"))
    target = Server(config).targets[NAME]
    assert target.port_groups.states == {1: AluaState.ACTIVE_NON_OPTIMIZED, 2: AluaState.STANDBY}
    assert target.port_groups.restricted == {2: AluaState.STANDBY}
    assert target.tpgs == TPGS_IMPLICIT | TPGS_EXPLICIT


@pytest.mark.parametrize(("keys", "where", "message"), [
    ('alua = { 3 = "standby" }', "target[0].alua.3", "not a portal group of this target (its groups: [1, 2]"),
    ('portal_groups = [2]\nalua = { 1 = "standby" }', "target[0].alua.1", "its groups: [2]"),
    ('alua = { 2 = "offline" }', "target[0].alua.2", '"offline" is not an ALUA state (one of active'),
    ("alua = { 2 = 2 }", "target[0].alua.2", "must be a string, got 2"),
    ('alua = "standby"', "target[0].alua", "must be a table"),
    ('alua_explicit = "yes"', "target[0].alua_explicit", "must be true or false"),
    ("alua = {}\npeer_port_groups = [2]", "target[0].peer_port_groups",
     "group 2 is a portal group of this target here (its groups: [1, 2]); a peer's group must differ"),
    ("alua = {}\npeer_port_groups = [3, 3]", "target[0].peer_port_groups", "a group is listed twice: [3, 3]"),
    ("alua = {}\npeer_port_groups = [0]", "target[0].peer_port_groups", "must be integers 1..65535, has 0"),
    ('alua = { 4 = "standby" }\npeer_port_groups = [3]', "target[0].alua.4",
     "not a portal group of this target (its groups: [1, 2], peer groups: [3])"),
])
def test_bad_values_name_key_and_line(keys: str, where: str, message: str) -> None:
    text = config_text(keys)
    key = where.split(".")[1]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(key))
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    assert str(info.value).startswith(f"t.toml:{line}: {where}: "), str(info.value)
    assert message in str(info.value)


@pytest.fixture
def rpc(tmp_path: Path) -> Any:
    text = config_text()
    config = parse_config(text, "t.toml", base_dir=tmp_path)
    server = Server(config)  # not started: no portal listens
    ctl = Control(server, Document.of(config, text, tmp_path))
    table = methods(ctl)

    def call(method: str, **params: Any) -> dict[str, Any]:
        answer = handle(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}), table)
        assert answer is not None
        return json.loads(answer)  # type: ignore[no-any-return]

    call.server = server  # type: ignore[attr-defined]
    yield call
    server.stop()


def test_update_live_with_unit_attention(rpc: Any) -> None:
    target = rpc.server.targets[NAME]
    lu = target.lu(1)
    port = Nexus("iqn.x,i,0x1", f"{NAME},t,0x0001", "iqn.x", 1, 1).initiator_port
    lu.ua.clear(port)
    assert rpc("target.update", tid=1, param="alua.2", value="standby")["result"]
    assert target.port_groups.states[2] == AluaState.STANDBY
    assert lu.ua.pop(port) == ASYMMETRIC_ACCESS_STATE_CHANGED
    shown = rpc("target.show", tid=1)["result"][0]
    assert shown["alua"] == {"1": "active/optimized", "2": "standby"} and not shown["alua_explicit"]
    # another change leaves the state an initiator set alone
    target.set_alua_states({1: AluaState.UNAVAILABLE})
    assert rpc("target.update", tid=1, param="alias", value="x")["result"]
    assert target.port_groups.states == {1: AluaState.UNAVAILABLE, 2: AluaState.STANDBY}
    assert rpc("target.update", tid=1, param="alua_explicit", value="true")["result"]
    assert target.tpgs == TPGS_IMPLICIT | TPGS_EXPLICIT
    dumped = parse_config(rpc("sys.dump")["result"], "dump")
    assert dumped.targets[0].alua == {2: AluaState.STANDBY} and dumped.targets[0].alua_explicit


def test_update_bad_state_changes_nothing(rpc: Any) -> None:
    bad = rpc("target.update", tid=1, param="alua.2", value="sideways")
    assert bad["error"]["code"] == -32003 and "target[0].alua.2" in bad["error"]["message"]
    assert "not an ALUA state" in bad["error"]["message"]
    assert rpc("target.update", tid=1, param="alua.5", value="standby")["error"]["code"] == -32003
    assert rpc.server.targets[NAME].port_groups.states[2] == AluaState.ACTIVE_OPTIMIZED


def test_peer_gateways_groups() -> None:
    """Scale-out (SPC-5 5.16.2.1): gateway A serves through portal group 1 only and names B's group 3;
    the states of both come from the configuration, and a reload changes the peer's."""
    keys = 'portal_groups = [1]\npeer_port_groups = [3]\nalua = { 3 = "active/non-optimized" }'
    config = parse_config(config_text(keys))
    assert config.targets[0].peer_port_groups == [3]
    server = Server(config)
    try:
        target = server.targets[NAME]
        assert target.relative_port_ids == [1] and target.port_groups.peers == {3}
        assert target.port_groups.members == {1: [1], 3: [3]} and target.port_groups.restricted == {}
        assert target.port_groups.states == {1: AluaState.ACTIVE_OPTIMIZED, 3: AluaState.ACTIVE_NON_OPTIMIZED}
        keys = 'portal_groups = [1]\npeer_port_groups = [3, 4]\nalua = { 3 = "standby" }'
        new = parse_config(config_text(keys))
        configure_alua(target, new.targets[0], config.targets[0])
        assert target.port_groups.states == {1: AluaState.ACTIVE_OPTIMIZED, 3: AluaState.STANDBY,
                                             4: AluaState.ACTIVE_OPTIMIZED}
        assert target.port_groups.restricted == {}
    finally:
        server.stop()
