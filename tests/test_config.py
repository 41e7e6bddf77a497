"""hpt.daemon.config: the TOML schema, its validation, and error messages that name the key and the line."""

from __future__ import annotations

import ipaddress
import re
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpt.daemon.config import (
    DEMO_TARGET,
    LUN_OPTIONS,
    Config,
    ConfigError,
    build,
    demo_config,
    iscsi_name_error,
    load_config,
    lun_options,
    parse_config,
    parse_size,
)
from hpt.daemon.config.auth import ACCOUNT_KEYS
from hpt.daemon.config.fcoe import FCOE_PORT_KEYS
from hpt.daemon.config.target import TARGET_KEYS
from hpt.daemon.luns import build_lu
from hpt.iscsi.limits import Limits
from hpt.iscsi.negotiation import TargetPolicy
from hpt.options import REQUIRED, Option, show
from hpt.scsi.lu import LuParams
from hpt.scsi.params import COMMON_OPTIONS
from hpt.scsi.profiles import PROFILES
from hpt.scsi.sbc.profile import DISK
from hpt.store.registry import store_kind

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hptd.toml"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "config.md"
MARK = "# <-"


def marked_line(text: str) -> int:
    """The 1-based number of the line carrying the ``# <-`` marker."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(lines) == 1, "a case marks exactly one line"
    return lines[0]


def expect_error(text: str, where: str, message: str) -> ConfigError:
    """Parsing fails on the marked line, at key path ``where``, with ``message`` in the text."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    prefix = f"test.toml:{marked_line(text)}: {where}: "
    assert str(info.value).startswith(prefix), str(info.value)
    assert message in str(info.value)
    return info.value


def ram_target(extra_target: str = "", extra_lun: str = "") -> str:
    return f"""
[[target]]
name = "iqn.2026-11.org.example:t1"
{extra_target}
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "1M"
  {extra_lun}
"""


# -- the example and the demo ----------------------------------------------------------------------


def test_example_covers_every_key() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert set(data) == set(build.ROOT_KEYS)
    assert set(data["daemon"]) == set(build.DAEMON_KEYS)
    assert set(data["portal"][0]) == set(build.PORTAL_KEYS)
    assert set(data["account"][0]) == set(ACCOUNT_KEYS)
    assert set(data["discovery"]) == set(build.DISCOVERY_KEYS)
    assert set(data["metrics"]) == set(build.METRICS_KEYS)
    assert set(data["target"][0]) == set(TARGET_KEYS)
    # the LUNs together use every key of the disk on each built-in store kind
    luns = [lun for target in data["target"] for lun in target["lun"]]
    used = {lun.get("store", "file"): set(lun) for lun in luns}
    for name in ("file", "ram", "null"):
        assert used[name] <= {o.key for o in lun_options(DISK, store_kind(name))}
        assert {o.key for o in store_kind(name).options} <= used[name]
    assert set(used["file"]) == {o.key for o in lun_options(DISK, store_kind("file"))}


def test_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.daemon.log_format == "text"
    assert [p.address for p in config.portals] == ["127.0.0.1:3260", "[::1]:3260"]
    assert config.accounts["alice"] == "alice-secret-1"
    assert config.discovery.auth == "chap" and config.discovery.outgoing == "target-user"
    disk1, scratch = config.targets
    assert disk1.portal_groups == [1, 2] and scratch.portal_groups == [1]
    assert config.portals_for(scratch) == config.portals[:1]
    keys = config.iscsi_for(disk1)
    assert keys["MaxBurstLength"] == 1048576 and keys["ImmediateData"] is True and keys["InitialR2T"] is False
    assert keys["HeaderDigest"] == "CRC32C,None"
    lun1, lun2 = disk1.luns
    assert (lun1.store, lun1.store_values["path"], lun1.store_values["size"]) == (
        "file", "/var/tmp/hpt-disk1.img", 1 << 30)  # fmt: skip
    assert (lun2.params.block_size, lun2.params.thin, lun2.params.serial) == (4096, True, "RAMDISK0002")
    assert scratch.luns[0].store == "null" and scratch.luns[0].store_values == {"size": 16 << 30}


def test_lu_params() -> None:
    lun = load_config(EXAMPLE).targets[0].luns[1]
    params = lun.params
    assert isinstance(params, LuParams)
    assert lun.type == "disk" and lun.profile is DISK
    assert (params.block_size, params.thin, params.readonly) == (4096, True, False)
    assert params.naa == 0x6001405ABCDEF0123456789ABCDEF012
    assert (params.vendor, params.product, params.revision) == ("HPT", "VIRTUAL-DISK", "0001")
    assert params.serial == "RAMDISK0002"
    assert load_config(EXAMPLE).targets[0].luns[0].params.naa is None


def test_demo_config() -> None:
    config = demo_config()
    assert isinstance(config, Config)
    assert [(p.host, p.port) for p in config.portals] == [("127.0.0.1", 3260)]
    (target,) = config.targets
    assert target.name == DEMO_TARGET
    assert target.incoming == [] and target.initiators == [] and target.addresses == []
    assert target.allows("iqn.1994-05.com.redhat:any", "192.0.2.7")
    (lun,) = target.luns
    assert (lun.lun, lun.store, lun.store_values) == (1, "ram", {"size": 1 << 30})
    assert config.discovery.auth == "none"


def test_demo_config_file_and_portal(tmp_path: Path) -> None:
    config = demo_config("[::1]:3261", str(tmp_path / "demo.img"))
    assert config.portals[0].address == "[::1]:3261"
    lun = config.targets[0].luns[0]
    assert (lun.store, lun.store_values["path"], lun.store_values["size"]) == (
        "file", str(tmp_path / "demo.img"), 1 << 30)  # fmt: skip


def test_defaults() -> None:
    config = parse_config(ram_target())
    assert (config.daemon.log_level, config.daemon.log_format) == ("info", "text")
    assert [(p.host, p.port, p.transport, p.group) for p in config.portals] == [("0.0.0.0", 3260, "tcp", 1)]
    lun = config.targets[0].luns[0]
    params = lun.params
    assert (lun.type, params.block_size, params.write_cache, params.rotation_rate) == ("disk", 512, True, 1)
    assert (params.vendor, params.product, params.readonly) == ("HPT", "VIRTUAL-DISK", False)
    assert params.extra == {"physical_block_size": 0, "sanitize_rate": 0, "encryption_key_file": ""}
    assert re.fullmatch(r"[0-9a-f]{16}", params.serial)
    again = parse_config(ram_target()).targets[0].luns[0].params.serial
    other = parse_config(ram_target().replace("lun = 1", "lun = 2")).targets[0].luns[0].params.serial
    assert params.serial == again != other


# -- error messages: file, line, key ---------------------------------------------------------------


def test_brief_example_message() -> None:
    text = (
        ram_target()
        + '  [[target.lun]]\n  lun = 2\n  store = "ram"\n  size = 4096\n  block_size = 520 # <-\n'
    )
    expect_error(text, "target[0].lun[1].block_size", "must be 512 or 4096, got 520")


def test_physical_block_size_error_names_key_and_line() -> None:
    lun = '  [[target.lun]]\n  lun = 2\n  store = "ram"\n  size = 4096\n  physical_block_size = 1536 # <-\n'
    expect_error(ram_target() + lun, "target[0].lun[1].physical_block_size",
                 "must be block_size (512) times a power of two")
    ok = parse_config(ram_target(extra_lun="physical_block_size = 4096")).targets[0].luns[0].params
    assert ok.extra["physical_block_size"] == 4096


@settings(deadline=None)  # no timing: the machine is shared
@given(
    shape=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=4),
    data=st.data(),
)
def test_line_of_a_bad_value_in_any_table_instance(shape: list[int], data: st.DataObject) -> None:
    """Any target/LUN instance: the error points at the ``block_size`` line of exactly that LUN."""
    t = data.draw(st.integers(min_value=0, max_value=len(shape) - 1))
    if shape[t] == 0:
        shape[t] = 1
    lun_index = data.draw(st.integers(min_value=0, max_value=shape[t] - 1))
    parts = ['[daemon]\nlog_level = "info"\n']
    for ti, nluns in enumerate(shape):
        parts.append(f'[[target]]\nname = "iqn.2026-11.org.example:t{ti}"\nalias = "a"\n')
        if ti % 2:
            parts.append("[target.iscsi]\nImmediateData = true\n")
        for li in range(nluns):
            bad = ti == t and li == lun_index
            size = 'size = "1M"' if li % 2 else "size = 1048576"
            block = "block_size = 999 # <-" if bad else "block_size = 512"
            parts.append(f'  [[target.lun]]\n  lun = {li}\n  store = "ram"\n  {size}\n  {block}\n')
    expect_error("\n".join(parts), f"target[{t}].lun[{lun_index}].block_size", "got 999")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("[daemon]\nlog_levl = 'info' # <-\n", "daemon.log_levl", 'unknown key (did you mean "log_level"?)'),
        (
            "[daemon]\nlog_level = 'loud' # <-\n",
            "daemon.log_level",
            "must be one of debug, info, warning, error",
        ),
        (
            "[[portal]]\naddress = '127.0.0.1'\ngroup = '2' # <-\n",
            "portal[0].group",
            'must be an integer, got "2"',
        ),
        (
            "[[portal]]\naddress = '127.0.0.1'\ngroup = true # <-\n",
            "portal[0].group",
            "must be an integer, got true",
        ),
        ("[[portal]]\naddress = '127.0.0.1'\ngroup = 0 # <-\n", "portal[0].group", "must be 1..65535, got 0"),
        ("[deamon] # <-\nlog_level = 'info'\n", "deamon", 'unknown key (did you mean "daemon"?)'),
        ("daemon = 3 # <-\n", "daemon", "must be a table ([daemon]), got 3"),
        (
            "[[portal]]\naddress = '127.0.0.1:3260'\n[[portal]]\nadress = 'x' # <-\n",
            "portal[1].adress",
            "did you mean",
        ),
    ],
)
def test_table_key_errors(text: str, where: str, message: str) -> None:
    expect_error(text, where, message)


def test_syntax_error_keeps_tomllib_position() -> None:
    text = '[daemon]\nlog_format = "text"\nlog_level = # <-\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    assert str(info.value).startswith(f"test.toml:{marked_line(text)}: TOML syntax error: ")
    assert "line 3, column" in str(info.value)


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


# -- portals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [("10.1.2.3:3261", "10.1.2.3", 3261), ("10.1.2.3", "10.1.2.3", 3260), ("[::1]", "::1", 3260),
     ("[fe80::1]:860", "fe80::1", 860), ("0.0.0.0:3260", "0.0.0.0", 3260)],
)  # fmt: skip
def test_portal_addresses(address: str, host: str, port: int) -> None:
    (portal,) = parse_config(f'[[portal]]\naddress = "{address}"\n').portals
    assert (portal.host, portal.port) == (host, port)


@pytest.mark.parametrize(
    ("address", "message"),
    [("::1", "IPv6 addresses go in brackets"), ("localhost:3260", "is not an IPv4 address"),
     ("1.2.3.4:0", "port must be 1..65535"), ("1.2.3.4:", "port must be"), ("[::zz]:3260", "not an IPv6"),
     ("1.2.3.4:99999", "port must be")],
)  # fmt: skip
def test_bad_portal_addresses(address: str, message: str) -> None:
    expect_error(f'[[portal]]\naddress = "{address}" # <-\n', "portal[0].address", message)


def test_portal_duplicates_and_fields() -> None:
    text = "[[portal]]\naddress = '127.0.0.1'\n[[portal]]\naddress = '127.0.0.1:3260' # <-\ngroup = 2\n"
    expect_error(text, "portal[1].address", "127.0.0.1:3260 (tcp) is listed twice")
    both = parse_config(
        "[[portal]]\naddress = '127.0.0.1'\n[[portal]]\naddress = '127.0.0.1'\ntransport = 'iser'\n"
    )
    assert [(p.address, p.transport) for p in both.portals] == [
        ("127.0.0.1:3260", "tcp"),
        ("127.0.0.1:3260", "iser"),
    ]
    expect_error("[[portal]]\naddress = '127.0.0.1'\ngroup = 0 # <-\n", "portal[0].group", "must be 1..65535")
    expect_error(
        "[[portal]]\naddress = '127.0.0.1'\ntransport = 'rdma' # <-\n", "portal[0].transport", "tcp, iser"
    )
    expect_error("[[portal]] # <-\ngroup = 2\n", "portal[0].address", "required")
    for wildcard in ("0.0.0.0", "[::]"):
        expect_error(f"[[portal]]\naddress = '{wildcard}' # <-\ntransport = 'iser'\n", "portal[0].address",
                     "an iSER portal needs the address of an RDMA device")


def test_portal_groups() -> None:
    portals = "[[portal]]\naddress = '127.0.0.1:3260'\n[[portal]]\naddress = '127.0.0.1:3261'\ngroup = 7\n"
    config = parse_config(portals + ram_target("portal_groups = [7]"))
    assert config.targets[0].portal_groups == [7]
    assert [p.port for p in config.portals_for(config.targets[0])] == [3261]
    assert parse_config(portals + ram_target()).targets[0].portal_groups == [1, 7]
    expect_error(
        portals + ram_target("portal_groups = [2] # <-"), "target[0].portal_groups", "no portal has group 2"
    )


# -- accounts and CHAP -----------------------------------------------------------------------------

ACCOUNTS = """
[[account]]
name = "alice"
secret = "alice-secret-1"
[[account]]
name = "tgt"
secret = "target-secret-1"
"""


@pytest.mark.parametrize(("length", "ok"), [(11, False), (12, True), (255, True), (256, False)])
def test_secret_length(length: int, ok: bool) -> None:
    text = f'[[account]]\nname = "a"\nsecret = "{"s" * length}" # <-\n'
    if ok:
        assert parse_config(text).accounts == {"a": "s" * length}
    else:
        expect_error(text, "account[0].secret", f"must be 12..255 bytes (RFC 7143 12.1.3), got {length}")


def test_account_errors() -> None:
    expect_error(ACCOUNTS + '[[account]]\nname = "alice" # <-\nsecret = "another-secret"\n',
                 "account[2].name", "defined twice")  # fmt: skip
    expect_error('[[account]] # <-\nname = "x"\n', "account[0].secret", "required")


def test_target_chap_references() -> None:
    config = parse_config(ACCOUNTS + ram_target('incoming = ["alice"]\noutgoing = "tgt"'))
    assert (config.targets[0].incoming, config.targets[0].outgoing) == (["alice"], "tgt")
    expect_error(ACCOUNTS + ram_target('incoming = ["bob"] # <-'), "target[0].incoming",
                 'unknown account "bob" (accounts: alice, tgt)')  # fmt: skip
    expect_error(ACCOUNTS + ram_target('incoming = ["alice"]\noutgoing = "eve" # <-'), "target[0].outgoing",
                 'unknown account "eve"')  # fmt: skip
    expect_error(ACCOUNTS + ram_target('outgoing = "tgt" # <-'), "target[0].outgoing", "needs incoming")


def test_mutual_chap_secret_must_differ() -> None:
    same = ACCOUNTS.replace("target-secret-1", "alice-secret-1")
    expect_error(same + ram_target('incoming = ["alice"]\noutgoing = "tgt" # <-'), "target[0].outgoing",
                 'same secret as incoming account "alice"')  # fmt: skip
    # the clash counts across targets and discovery, not only within one target
    text = (
        same
        + '[discovery]\nauth = "chap"\nincoming = ["alice"]\n'
        + ram_target('incoming = ["tgt"]\noutgoing = "tgt" # <-')
    )
    expect_error(text, "target[0].outgoing", "RFC 7143 12.1.3")


def test_discovery() -> None:
    config = parse_config(ACCOUNTS + '[discovery]\nauth = "chap"\nincoming = ["alice"]\noutgoing = "tgt"\n')
    assert (config.discovery.auth, config.discovery.incoming, config.discovery.outgoing) == (
        "chap", ["alice"], "tgt")  # fmt: skip
    expect_error(ACCOUNTS + '[discovery]\nauth = "none" # <-\nincoming = ["alice"]\n', "discovery.auth",
                 'set auth = "chap"')  # fmt: skip
    expect_error(ACCOUNTS + '[discovery] # <-\nauth = "chap"\n', "discovery.incoming", "at least one")
    expect_error(ACCOUNTS + '[discovery]\nauth = "chap"\nincoming = ["zed"] # <-\n', "discovery.incoming",
                 'unknown account "zed"')  # fmt: skip


# -- targets ---------------------------------------------------------------------------------------


def test_duplicate_target_names() -> None:
    text = ram_target() + '[[target]]\nname = "iqn.2026-11.org.example:t1" # <-\n'
    expect_error(text, "target[1].name", "duplicate target name (also target[0])")


def test_target_name_validation() -> None:
    expect_error(
        '[[target]]\nname = "disk1" # <-\n', "target[0].name", 'must start with "iqn.", "eui." or "naa."'
    )
    expect_error('[[target]]\nname = "iqn.2026-11.org.Example:d" # <-\n', "target[0].name",
                 'did you mean "iqn.2026-11.org.example:d"')  # fmt: skip
    expect_error("[[target]] # <-\nalias = 'x'\n", "target[0].name", "required")
    expect_error(ram_target('initiators = ["iqn.bad"] # <-'), "target[0].initiators", '"iqn.bad": expected')


@pytest.mark.parametrize(
    "name",
    ["iqn.2026-11.org.example:disk1", "iqn.1994-05.com.redhat:5ab8fd2a1b", "iqn.2001-04.com.example",
     "eui.02004567A425678D", "naa.52004567BA64678D", "naa.62004567BA64678D72004567BA64678D"],
)  # fmt: skip
def test_valid_iscsi_names(name: str) -> None:
    assert iscsi_name_error(name) is None


@pytest.mark.parametrize(
    "name",
    ["iqn.26-11.org.example", "iqn.2026-13.org.example", "iqn.2026-11.", "iqn.2026-11.org.ex ample",
     "eui.02004567A425678", "naa.1234", "iqn.2026-11.org.example:" + "x" * 200, "IQN.2026-11.org.example"],
)  # fmt: skip
def test_invalid_iscsi_names(name: str) -> None:
    assert iscsi_name_error(name)


def test_acl() -> None:
    text = ram_target(
        'initiators = ["iqn.1994-05.com.redhat:c1"]\naddresses = ["127.0.0.0/8", "::1", "10.1.0.0/16"]'
    )
    target = parse_config(text).targets[0]
    assert target.addresses[1] == ipaddress.ip_network("::1/128")
    assert target.allows("iqn.1994-05.com.redhat:c1", "127.0.0.5")
    assert target.allows("IQN.1994-05.com.redhat:C1", "::1")
    assert target.allows("iqn.1994-05.com.redhat:c1", "::ffff:10.1.2.3")
    assert not target.allows("iqn.1994-05.com.redhat:c2", "127.0.0.5")
    assert not target.allows("iqn.1994-05.com.redhat:c1", "10.2.0.1")
    assert not target.allows("iqn.1994-05.com.redhat:c1", "::2")
    only_names = parse_config(ram_target('initiators = ["iqn.1994-05.com.redhat:c1"]')).targets[0]
    assert only_names.allows("iqn.1994-05.com.redhat:c1", "203.0.113.9")


@pytest.mark.parametrize(
    ("cidr", "message"),
    [("127.0.0.1/8", 'did you mean "127.0.0.0/8"'), ("10.0.0.0/33", "is not a CIDR network"),
     ("example.org", "is not a CIDR network")],
)  # fmt: skip
def test_bad_cidr(cidr: str, message: str) -> None:
    expect_error(ram_target(f'addresses = ["::1/128", "{cidr}"] # <-'), "target[0].addresses", message)


# -- iSCSI keys ------------------------------------------------------------------------------------


def test_iscsi_overrides_merge() -> None:
    text = "[iscsi]\nMaxBurstLength = 524288\nInitialR2T = 'No'\n" + ram_target(
        "[target.iscsi]\nInitialR2T = true\nDataDigest = ['None', 'CRC32C']"
    )
    config = parse_config(text)
    assert config.iscsi == {"MaxBurstLength": 524288, "InitialR2T": "No"}
    merged = config.iscsi_for(config.targets[0])
    assert merged == {"MaxBurstLength": 524288, "InitialR2T": True, "DataDigest": "None,CRC32C"}
    policy = TargetPolicy.from_overrides(merged)
    assert (policy.max_burst_length, policy.initial_r2t, policy.data_digest) == (
        524288,
        True,
        ("None", "CRC32C"),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [("MaxBurstLen = 65536", 'not an iSCSI key a target can configure (did you mean "MaxBurstLength"?)'),
     ("maxrecvdatasegmentlength = 8192", 'did you mean "MaxRecvDataSegmentLength"'),
     ("MaxBurstLength = 511", "511 is outside 512..16777215"),
     ("MaxBurstLength = '1M'", "'1M' is not a number"),
     ("ImmediateData = 1", "must be Yes/No or a boolean, got 1"),
     ("HeaderDigest = 'MD5'", "'MD5' is not one of CRC32C, None"),
     ("HeaderDigest = [1]", "must be a number, true/false, or text, got an array"),
     ("ErrorRecoveryLevel = 3", "3 is outside 0..2"),
     ("ErrorRecoveryLevel = 1", "hpt supports at most 0"),
     ("MaxOutstandingUnexpectedPDUs = 1", "1 is outside 2..4294967295 or 0"),
     ("OFMarker = false", "obsolete key (RFC 7143 13.25)"),
     ("TargetName = 'iqn.2026-11.org.example:x'", "not configurable"),
     ("TargetAlias = 'x'", "set the target's alias key instead")],
)  # fmt: skip
def test_bad_iscsi_keys(line: str, message: str) -> None:
    key = line.split(" ")[0]
    expect_error(f"[iscsi]\n{line} # <-\n", f"iscsi.{key}", message)
    expect_error(ram_target(f"[target.iscsi]\n{line} # <-"), f"target[0].iscsi.{key}", message)


def test_iscsi_value_accepted_forms() -> None:
    text = "[iscsi]\nMaxOutstandingUnexpectedPDUs = 0\nHeaderDigest = 'CRC32C,None'\nImmediateData = 'Yes'\n"
    keys = parse_config(text).iscsi
    assert keys == {"MaxOutstandingUnexpectedPDUs": 0, "HeaderDigest": "CRC32C,None", "ImmediateData": "Yes"}


def test_first_burst_not_above_max_burst() -> None:
    """RFC 7143 13.14, checked on the keys in force: the error names the line that breaks it."""
    text = "[iscsi]\nMaxBurstLength = 65536\nFirstBurstLength = 4096\n" + ram_target(
        "[target.iscsi]\nFirstBurstLength = 131072 # <-"
    )
    expect_error(text, "target[0].iscsi.FirstBurstLength", "exceeds MaxBurstLength 65536 (RFC 7143 13.14)")
    text = "[iscsi]\nMaxBurstLength = 65536\nFirstBurstLength = 65537 # <-\n"
    expect_error(text, "iscsi.FirstBurstLength", "exceeds")
    # hpt's own FirstBurstLength default is larger than this MaxBurstLength
    expect_error(
        "[iscsi]\nMaxBurstLength = 65536 # <-\n", "iscsi.MaxBurstLength", "exceeds MaxBurstLength 65536"
    )
    text = "[iscsi]\nFirstBurstLength = 65536\n" + ram_target("[target.iscsi]\nMaxBurstLength = 65536")
    assert parse_config(text).targets[0].iscsi == {"MaxBurstLength": 65536}


# -- LUNs ------------------------------------------------------------------------------------------


def test_duplicate_lun_numbers() -> None:
    text = ram_target() + '  [[target.lun]]\n  lun = 1 # <-\n  store = "ram"\n  size = "1M"\n'
    expect_error(text, "target[0].lun[1].lun", "LUN 1 is defined twice (also lun[0])")


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [("sise = 1 # <-", "sise", 'unknown key (did you mean "size"?)'),
     ("lun = 16384 # <-", "lun", "must be 0..16383"),
     ('type = "cd" # <-', "type", 'device type "cd" is not supported yet'),
     ('type = "bluray" # <-', "type", "must be one of disk, changer, tape, dvd"),
     ('store = "ramdisk" # <-', "store", 'did you mean "ram"'),
     ('vendor = "TOO-LONG-VENDOR" # <-', "vendor", "at most 8 printable ASCII"),
     ('product = "pröduct" # <-', "product", "printable ASCII"),
     ('revision = "12345" # <-', "revision", "at most 4"),
     ('wwn = "0x1234" # <-', "wwn", "16 hex digits (NAA 2, 3 or 5) or 32 (NAA 6)"),
     ('wwn = "0x6001405abcdef012" # <-', "wwn", "16 hex digits"),
     ("rotation_rat = 7200 # <-", "rotation_rat", 'unknown key (did you mean "rotation_rate"?)'),
     ("rotation_rate = 100 # <-", "rotation_rate", "1025..65534 rpm"),
     ("readonly = 'yes' # <-", "readonly", 'must be true or false, got "yes"'),
     ('path = "/tmp/x.img" # <-', "path", 'only for store = "file" (store is "ram")'),
     ("direct = true # <-", "direct", 'only for store = "file"')],
)  # fmt: skip
def test_bad_lun_values(extra: str, where: str, message: str) -> None:
    base = ram_target()
    existing = re.search(rf"^  {extra.split(' ')[0]} = .*$", base, re.M)
    text = base.replace(existing[0], f"  {extra}") if existing else ram_target(extra_lun=extra)
    expect_error(text, f"target[0].lun[0].{where}", message)


def test_sizes_and_paths(tmp_path: Path) -> None:
    expect_error(ram_target().replace('size = "1M"', 'size = "1Q" # <-'), "target[0].lun[0].size", "K/M/G/T")
    expect_error(ram_target().replace('size = "1M"', "size = 1000 # <-"), "target[0].lun[0].size",
                 "not a multiple of block_size 512")  # fmt: skip
    expect_error(ram_target().replace('size = "1M"', "lun2 = 0 # <-"), "target[0].lun[0].lun2", "unknown")
    no_size = '[[target]]\nname = "iqn.2026-11.org.example:t"\n[[target.lun]] # <-\nlun = 1\nstore = "ram"\n'
    expect_error(no_size, "target[0].lun[0].size", 'required for store = "ram"')
    (tmp_path / "cfg").mkdir()
    existing = tmp_path / "cfg" / "disk.img"
    existing.write_bytes(bytes(4096))
    config_file = tmp_path / "cfg" / "hptd.toml"
    file_lun = ram_target().replace('store = "ram"\n  size = "1M"', 'store = "file"\n  path = "disk.img"')
    config_file.write_text(file_lun)
    lun = load_config(config_file).targets[0].luns[0]
    assert (lun.store_values["path"], lun.store_values["size"]) == (str(existing), None)
    missing = file_lun.replace('path = "disk.img"', 'path = "new.img"')
    missing = missing.replace("[[target.lun]]", "[[target.lun]] # <-")
    config_file.write_text(missing)
    with pytest.raises(ConfigError, match=rf"hptd\.toml:{marked_line(missing)}: target\[0\]\.lun\[0\]\.size: "
                       "required because .*new.img does not exist yet"):  # fmt: skip
        load_config(config_file)
    config_file.write_text(missing.replace('path = "new.img"', 'path = "new.img"\n  size = "64K"'))
    assert load_config(config_file).targets[0].luns[0].store_values["size"] == 65536
    nodir = file_lun.replace('path = "disk.img"', 'path = "no/such/dir.img"\n  size = "1M"')
    config_file.write_text(nodir)
    with pytest.raises(ConfigError, match=r"directory .*no/such does not exist"):
        load_config(config_file)
    no_path = ram_target().replace('store = "ram"\n  size = "1M"', 'store = "file"')
    expect_error(no_path.replace("[[target.lun]]", "[[target.lun]] # <-"), "target[0].lun[0].path",
                 'required for store = "file"')  # fmt: skip


def test_inline_lun_array_points_at_its_key() -> None:
    text = '[[target]]\nname = "iqn.2026-11.org.example:t"\nlun = [{lun = 1, store = "ram", size = 1}] # <-\n'
    expect_error(text, "target[0].lun[0].size", "not a multiple of block_size")


# -- a LUN's keys: common, its device type's, its store kind's ---------------------------------------

PLAIN = replace(DISK, name="plain", product="PLAIN-DEVICE",
                options=(Option("density", int, 3, "a key only this type has", lo=1, hi=9),))
PROFILES_WITH_PLAIN = {"disk": DISK, "plain": PLAIN}


def expect_profile_error(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml", profiles=PROFILES_WITH_PLAIN)
    assert str(info.value).startswith(f"test.toml:{marked_line(text)}: {where}: "), str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("store", "extra", "key"),
    [("ram", "direct = false", "direct"), ("null", 'path = "/tmp/x.img"', "path")],
)
def test_a_key_of_another_store_kind_is_named_with_its_line(store: str, extra: str, key: str) -> None:
    text = ram_target(extra_lun=f"{extra} # <-").replace('store = "ram"', f'store = "{store}"')
    expect_error(text, f"target[0].lun[0].{key}", f'only for store = "file" (store is "{store}")')


def test_a_key_of_another_device_type_is_named_with_its_line() -> None:
    plain = ram_target(extra_lun='type = "plain"\n  block_size = 4096 # <-')
    expect_profile_error(plain, "target[0].lun[0].block_size", 'only for type = "disk" (type is "plain")')
    disk = ram_target(extra_lun="density = 5 # <-")
    expect_profile_error(disk, "target[0].lun[0].density", 'only for type = "plain" (type is "disk")')
    expect_error(disk, "target[0].lun[0].density", 'unknown key')  # PROFILES has no such type
    bad = ram_target(extra_lun='type = "plain"\n  density = 10 # <-')
    expect_profile_error(bad, "target[0].lun[0].density", "must be 1..9, got 10")
    planned = ram_target(extra_lun='type = "cd" # <-')
    expect_profile_error(planned, "target[0].lun[0].type", "not supported yet (supported: disk, plain)")


def test_a_profiles_own_keys_reach_the_lu() -> None:
    text = ram_target(extra_lun='type = "plain"\n  density = 5\n  vendor = "ACME"')
    (lun,) = parse_config(text, profiles=PROFILES_WITH_PLAIN).targets[0].luns
    assert (lun.type, lun.profile) == ("plain", PLAIN)
    assert lun.params.extra == {"density": 5}
    assert (lun.params.product, lun.params.vendor) == ("PLAIN-DEVICE", "ACME")
    assert lun.params.block_size == 512  # LuParams' own default: the type has no block_size key
    lu = build_lu(lun)
    try:
        assert (lu.profile, lu.lun, lu.store.size) == (PLAIN, 1, 1 << 20)
    finally:
        lu.store.close()


def test_build_lu_opens_the_configured_store(tmp_path: Path) -> None:
    file_store = f'store = "file"\n  path = "{tmp_path}/d.img"'
    text = ram_target().replace('store = "ram"', file_store)
    (lun,) = parse_config(text).targets[0].luns
    lu = build_lu(lun)
    try:
        assert (lu.profile, lu.nblocks, lu.store.readonly) == (DISK, 2048, False)
        assert (tmp_path / "d.img").stat().st_size == 1 << 20
    finally:
        lu.store.close()


def test_encryption_key_file_errors_name_key_and_line(tmp_path: Path) -> None:
    where = "target[0].lun[0].encryption_key_file"
    missing = ram_target(extra_lun=f'encryption_key_file = "{tmp_path}/no/such/dir/k" # <-')
    expect_error(missing, where, f"its directory {tmp_path}/no/such/dir does not exist")
    expect_error(ram_target(extra_lun=f'encryption_key_file = "{tmp_path}" # <-'), where, "is a directory")
    (tmp_path / "bad.key").write_bytes(b"short")
    (lun,) = parse_config(ram_target(extra_lun=f'encryption_key_file = "{tmp_path}/bad.key"')).targets[0].luns
    with pytest.raises(OSError, match="not an encryption key"):
        build_lu(lun)


def test_an_encrypted_lun_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    """build_lu wraps the store; the key file (created 0600) is what the data is read back with."""
    lun_keys = f'store = "file"\n  path = "{tmp_path}/d.img"\n  encryption_key_file = "lun.key"'
    (lun,) = parse_config(ram_target().replace('store = "ram"', lun_keys), base_dir=tmp_path).targets[0].luns
    lu = build_lu(lun)
    assert lu.store is not None and lu.store.supports_crypto_erase and lu.store.direct_source() is None
    lu.store.write_from(4096, memoryview(bytearray(b"secret!!" * 64)))
    lu.close(0)
    assert (tmp_path / "lun.key").stat().st_mode & 0o777 == 0o600
    assert b"secret!!" not in (tmp_path / "d.img").read_bytes()
    again = build_lu(lun)
    buf = memoryview(bytearray(512))
    assert again.store is not None
    again.store.read_into(4096, buf)
    assert bytes(buf) == b"secret!!" * 64
    again.close(0)


def test_only_an_encrypted_lun_needs_the_cryptography_package(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """hptd runs where ``cryptography`` is missing (the lab guests' Debian Python) until a LUN asks for
    encryption; that LUN gets an error naming the key and the package."""
    for name in ["cryptography", *(n for n in sys.modules if n.startswith("cryptography."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it: ImportError
    monkeypatch.delitem(sys.modules, "hpt.store.crypt", raising=False)
    (plain,) = parse_config(ram_target()).targets[0].luns
    build_lu(plain).close(0)
    (lun,) = parse_config(ram_target(extra_lun=f'encryption_key_file = "{tmp_path}/k"')).targets[0].luns
    with pytest.raises(ValueError, match="encryption_key_file needs the Python package cryptography"):
        build_lu(lun)


def _section(text: str, title: str) -> str:
    """The part of a markdown document under the heading ``title``, up to the next heading."""
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", text + "\n#", re.M | re.S)
    assert m is not None, f"no section {title!r}"
    return m[1]


def _default_cell(opt: Option) -> str:
    if opt.default is REQUIRED:
        return "required"
    if opt.default is None:
        return "—"
    return f"`{show(opt.default)}`"


def test_docs_list_every_lun_key_of_each_type_and_builtin_store() -> None:
    """docs/config.md has a row for each key, under the schema that owns it, with the schema's default."""
    text = DOCS.read_text()
    common = _section(text, "Common keys")
    for opt in (*LUN_OPTIONS, *COMMON_OPTIONS):
        assert f"| `{opt.key}` |" in common, opt.key
    sections = [(f'`type = "{name}"`', profile.options) for name, profile in PROFILES.items()]
    sections += [(f'`store = "{name}"`', store_kind(name).options) for name in ("file", "ram", "null")]
    for title, options in sections:
        section = _section(text, title)
        for opt in options:
            assert f"| `{opt.key}` | {_default_cell(opt)} |" in section, (title, opt.key)


@pytest.mark.parametrize("suffix,shift", [("", 0), ("K", 10), ("M", 20), ("G", 30), ("T", 40)])
@settings(deadline=None)
@given(n=st.integers(min_value=1, max_value=1 << 20))
def test_parse_size(suffix: str, shift: int, n: int) -> None:
    assert parse_size(f"{n}{suffix}") == n << shift
    assert parse_size(f"{n}{suffix.lower()}iB" if suffix else str(n)) == n << shift
    assert parse_size(n) == n


@pytest.mark.parametrize("value", ["", "G", "-1G", "1.5G", "0", 0, -4, True, 1.0])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)  # type: ignore[arg-type]


def test_multiline_values_do_not_confuse_line_numbers() -> None:
    text = (
        '[[target]]\nname = "iqn.2026-11.org.example:t"\nalias = """\n[[target]]\nname = "x"\n"""\n'
        'addresses = [\n  "127.0.0.0/8",\n  "::1",\n]\n'
        '  [[target.lun]]\n  lun = 3\n  store = "ram"\n  size = "1M"\n  block_size = 2048 # <-\n'
    )
    expect_error(text, "target[0].lun[0].block_size", "got 2048")


# -- FCoE ports ------------------------------------------------------------------------------------

FCOE_TARGET = 'targets = ["iqn.2026-11.org.example:t1"]'


def test_example_fcoe_port() -> None:
    assert set(tomllib.loads(EXAMPLE.read_text())["fcoe_port"][0]) == set(FCOE_PORT_KEYS)
    (port,) = load_config(EXAMPLE).fcoe_ports
    assert (port.interface, port.wwnn, port.wwpn, port.mode, port.vlan) == (
        "eth1",
        None,
        0x2000525400AA0001,
        "vn2vn",
        0,
    )
    assert port.targets == ["iqn.2026-11.org.example:disk1"] and port.initiators == [0x2000525400BB0002]


def test_fcoe_port_defaults() -> None:
    config = parse_config(ram_target() + f'[[fcoe_port]]\ninterface = "veth0"\n{FCOE_TARGET}\n')
    (port,) = config.fcoe_ports
    assert (port.wwnn, port.wwpn, port.mode, port.vlan, port.initiators) == (None, None, "vn2vn", 0, [])


PORT = '[[fcoe_port]]\ninterface = "veth0"\n'
TWICE = PORT + FCOE_TARGET + '\n[[fcoe_port]]\ninterface = "veth0" # <-\n' + FCOE_TARGET


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("[[fcoe_port]] # <-\n" + FCOE_TARGET, "interface", "required"),
        ('[[fcoe_port]] # <-\ninterface = "veth0"', "targets", "required"),
        ('[[fcoe_port]]\ninterface = "a/b" # <-\n' + FCOE_TARGET, "interface", "not a network interface"),
        (PORT + 'targets = ["iqn.2026-11.org.example:t2"] # <-', "targets", "unknown target"),
        (PORT + "targets = [] # <-", "targets", "exactly one target"),
        (PORT + 'wwpn = "20:00:00" # <-\n' + FCOE_TARGET, "wwpn", "not a world wide name"),
        (PORT + 'initiators = ["x"] # <-\n' + FCOE_TARGET, "initiators", "world wide name"),
        (PORT + 'mode = "loop" # <-\n' + FCOE_TARGET, "mode", "vn2vn, fabric"),
        (PORT + "vlan = 4095 # <-\n" + FCOE_TARGET, "vlan", "0..4094"),
        (PORT + "port = 1 # <-\n" + FCOE_TARGET, "port", "unknown key"),
        (TWICE, "1].interface", "used twice"),
    ],
)
def test_fcoe_port_errors(body: str, where: str, message: str) -> None:
    path = f"fcoe_port[{where}" if where.startswith("1]") else f"fcoe_port[0].{where}"
    expect_error(ram_target() + body + "\n", path, message)


def test_limits_are_read_with_their_defaults_and_checked() -> None:
    portal = '[[portal]]\naddress = "127.0.0.1:3260"\n'
    assert parse_config(portal).limits == Limits()
    got = parse_config(portal + "[limits]\nlogin_timeout = 5\nmax_sessions_per_initiator = 2\n").limits
    assert (got.login_timeout, got.max_sessions_per_initiator, got.max_connections) == (5, 2, 1024)
    expect_error(portal + "[limits]\nlogin_timeout = 0  # <-\n", "limits.login_timeout", "must be 1..3600")
    expect_error(portal + "[limits]\nauth_delay = 4\nauth_delay_max = 2  # <-\n", "limits.auth_delay_max",
                 "must be at least auth_delay (4)")
    expect_error(portal + "[limits]\nlogin_timout = 5  # <-\n", "limits.login_timout", "unknown key")
    got = parse_config(portal + '[limits]\nsession_memory = "32M"\ntotal_memory = 1073741824\n').limits
    assert (got.session_memory, got.total_memory) == (32 << 20, 1 << 30)
    expect_error(portal + '[limits]\nsession_memory = "1M"  # <-\n', "limits.session_memory", "must be 16M..")
    expect_error(portal + '[limits]\nsession_memory = "1G"\ntotal_memory = "512M"  # <-\n',
                 "limits.total_memory", "must be at least session_memory")


def test_acl_match_all_needs_both_any_needs_either() -> None:
    text = ('[[portal]]\naddress = "127.0.0.1:3260"\n[[target]]\nname = "iqn.2026-11.org.hpt.test:acl"\n'
            'initiators = ["iqn.2026-11.org.hpt.test:a"]\naddresses = ["10.0.0.0/8"]\n')
    both = parse_config(text).targets[0]
    either = parse_config(text + 'acl_match = "any"\n').targets[0]
    cases = [("iqn.2026-11.org.hpt.test:a", "10.1.1.1"), ("iqn.2026-11.org.hpt.test:a", "192.0.2.1"),
             ("iqn.2026-11.org.hpt.test:b", "10.1.1.1"), ("iqn.2026-11.org.hpt.test:b", "192.0.2.1")]
    assert [both.allows(*c) for c in cases] == [True, False, False, False]
    assert [either.allows(*c) for c in cases] == [True, True, True, False]
    expect_error(text + 'acl_match = "either"  # <-\n', "target[0].acl_match", "must be one of all, any")
