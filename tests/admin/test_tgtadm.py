"""hptadm's tgtadm language: each command becomes the control request it means (docs/control.md)."""

from __future__ import annotations

import os

import pytest

from hpt.admin.client import ENVIRONMENT, socket_path
from hpt.admin.show import render
from hpt.admin.tgtadm import UsageError, parse, request


def req(*argv: str) -> tuple[str, dict[str, object]]:
    return request(parse(["--lld", "iscsi", *argv]))


def test_targets_luns_and_tgt_names() -> None:
    assert req("--op", "new", "--mode", "target", "--tid", "1", "-T", "iqn.2026-11.org.x:a") == (
        "target.new", {"tid": 1, "name": "iqn.2026-11.org.x:a"})
    method, params = req("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2",
                         "--backing-store", "disk.img", "--bsoflags", "sync:direct", "--blocksize", "4096",
                         "--params", "vendor_id=ACME,scsi_sn=S1,thin_provisioning=1,readonly=0")
    assert method == "lun.new" and params["lun"] == 2
    assert params["keys"] == {"store": "file", "path": os.path.abspath("disk.img"), "direct": True,
                              "write_cache": False, "block_size": 4096, "vendor": "ACME", "serial": "S1",
                              "thin": True, "readonly": False}
    _, params = req("-o", "new", "-m", "lu", "-t", "1", "-l", "3", "-E", "null", "-S", "size=1T",
                    "-Y", "disk")
    assert params["keys"] == {"store": "null", "size": "1T", "type": "disk"}
    assert req("--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--force") == (
        "lun.delete", {"tid": 1, "lun": 2, "force": True})
    assert req("--op", "update", "--mode", "target", "--tid", "1", "--name", "state",
               "--value", "offline") == (
        "target.update", {"tid": 1, "param": "state", "value": "offline"})
    assert req("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL") == (
        "target.bind", {"tid": 1, "address": "ALL"})
    assert req("--op", "stat", "--mode", "logicalunit", "--tid", "1")[0] == "lun.stat"
    _, params = req("-o", "new", "-m", "lu", "-t", "1", "-l", "4", "-Y", "cd", "-b", "disc.iso")
    assert params["keys"] == {"type": "dvd", "disc": os.path.abspath("disc.iso")}  # tgt's cd: a DVD drive


def test_accounts_portals_sessions_sys() -> None:
    assert req("--op", "bind", "--mode", "account", "--tid", "2", "--user", "bob", "--outgoing") == (
        "account.bind", {"tid": 2, "user": "bob", "outgoing": True})
    assert req("--op", "new", "--mode", "portal", "--params", "portal=10.0.0.1") == (
        "portal.new", {"address": "10.0.0.1:3260", "transport": "tcp"})
    assert request(parse(["--lld", "iser", "--op", "delete", "--mode", "pt", "-P", "portal=[::1]:3261"])) == (
        "portal.delete", {"address": "[::1]:3261", "transport": "iser", "force": False})
    assert req("--op", "delete", "--mode", "conn", "--tid", "1", "--sid", "4", "--cid", "0") == (
        "connection.delete", {"tid": 1, "sid": 4, "cid": 0})
    assert req("--op", "show", "--mode", "session", "--tid", "1") == ("session.show", {"tid": 1})
    assert req("--op", "update", "--mode", "sys", "--name", "State", "--value", "offline")[0] == "sys.update"
    assert request(parse(["--dump"])) == ("sys.dump", {})


def test_lbppbe_is_a_physical_block_size() -> None:
    """tgt's lbppbe: 2**lbppbe logical blocks per physical block (SBC-4 5.20.2)."""
    _, params = req("-o", "new", "-m", "lu", "-t", "1", "-l", "1", "-b", "d.img", "-P", "lbppbe=3")
    assert params["keys"]["physical_block_size"] == 4096 and "lbppbe" not in params["keys"]
    _, params = req("-o", "update", "-m", "lu", "-t", "1", "-l", "1", "--blocksize", "4096", "-P", "lbppbe=1")
    assert params["keys"] == {"block_size": 4096, "physical_block_size": 8192}
    _, params = req("-o", "update", "-m", "lu", "-t", "1", "-l", "1", "-P", "physical_block_size=4096")
    assert params["keys"] == {"physical_block_size": 4096}


@pytest.mark.parametrize(("argv", "message"), [
    (["--op", "new", "--mode", "logicalunit", "--tid", "1"], "--lun is required"),
    (["--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1"], "--backing-store"),
    (["--op", "new", "--mode", "target", "--tid", "1"], "--targetname is required"),
    (["--op", "new", "--mode", "lu", "--tid", "1", "--lun", "1", "-E", "sg", "-b", "/dev/sg0"],
     "sg is not supported"),
    (["--op", "new", "--mode", "lu", "--tid", "1", "--lun", "1", "-b", "x", "-P", "scsi_id=x"], "scsi_id"),
    (["--op", "bind", "--mode", "target", "--tid", "1"], "--initiator-address or --initiator-name"),
    (["--op", "new", "--mode", "lu", "--tid", "1", "--lun", "1", "-Y", "tape", "-b", "t.img"], "hptimg"),
    (["--op", "show", "--mode", "bogus"], "unknown mode"),
    (["--op", "new", "--mode", "lu", "--tid", "1", "--lun", "1", "-b", "x", "-P", "lbppbe=16"],
     "lbppbe must be from 0 to 15"),
    (["--op", "update", "--mode", "lu", "--tid", "1", "--lun", "1", "-P", "lbppbe=3"],
     "lbppbe needs the LU's block size"),
])
def test_bad_commands_say_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        req(*argv)


def test_socket_path_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    assert socket_path() == "/run/hpt/control.sock"
    monkeypatch.setenv(ENVIRONMENT, "/tmp/env.sock")
    assert socket_path() == "/tmp/env.sock" and socket_path("/tmp/arg.sock") == "/tmp/arg.sock"


def test_show_is_shaped_like_tgtadm() -> None:
    target = {"tid": 1, "name": "iqn.2026-11.org.x:a", "state": "ready", "incoming": ["alice"],
              "outgoing": "", "addresses": [], "initiators": [],
              "sessions": [{"sid": 3, "initiator": "iqn.i",
                            "connections": [{"cid": 0, "peer": "10.0.0.9:5000"}]}],
              "luns": [{"lun": 1, "type": "disk", "vendor": "HPT", "product": "VIRTUAL-DISK", "serial": "s",
                        "size": 1 << 30, "block_size": 512, "online": True, "removable": False,
                        "readonly": False, "thin": False, "store": "file", "store_options": {"path": "/d"}}]}
    text = render("target.show", [target])
    assert text.splitlines()[:5] == ["Target 1: iqn.2026-11.org.x:a", "    System information:",
                                     "        Driver: iscsi", "        State: ready",
                                     "    I_T nexus information:"]
    for line in ("        I_T nexus: 3", "                IP Address: 10.0.0.9", "        LUN: 1",
                 "            Size: 1074 MB, Block size: 512", "            Backing store path: /d",
                 "    Account information:", "        alice", "    ACL information:", "        ALL"):
        assert line in text.splitlines(), line
