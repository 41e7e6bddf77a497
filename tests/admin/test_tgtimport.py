"""tgt's targets.conf read as hptd's configuration (``hptadm import-tgt``): LUN numbering, LU
parameters given per target and per LUN, CHAP, ACLs, includes, and every ignored or refused directive
named with its file and line."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hpt.admin.tgtconf import TgtConfError
from hpt.admin.tgtimport import import_tgt
from hpt.admin.toml import dumps

EXAMPLE = Path("/usr/share/doc/tgt/examples/targets.conf.example")  # Debian's tgt package

SEVERAL = """\
default-driver iscsi
<target iqn.2026-11.org.example:several>
    <backing-store {tmp}/disk1.img>
        vendor_id ACME
        product_id FastDisk
        scsi_sn DISK-ONE
        lun 3
    </backing-store>
    backing-store {tmp}/disk2.img
    <backing-store {tmp}/disk3.img>
        write-cache on   # the target's "off" is overridden here
        params thin_provisioning=1,product_rev=0102,optimal_xfer_len=128
    </backing-store>
    write-cache off
    product_rev 0007
    incominguser alice alice-secret-1234
    outgoinguser target-user target-secret-5678
    initiator-address 127.0.0.1
    initiator-name iqn.2026-11.org.example:host
    MaxRecvDataSegmentLength 65536
    ImmediateData No
    controller_tid 7
</target>
"""


def write(tmp: Path, text: str, name: str = "targets.conf") -> Path:
    path = tmp / name
    path.write_text(text.replace("{tmp}", str(tmp)))
    return path


def test_several_luns_chap_and_acls(tmp_path: Path) -> None:
    got = import_tgt(write(tmp_path, SEVERAL))
    assert got.data["account"] == [{"name": "alice", "secret": "alice-secret-1234"},
                                   {"name": "target-user", "secret": "target-secret-5678"}]
    (target,) = got.data["target"]
    assert target["incoming"] == ["alice"] and target["outgoing"] == "target-user"
    assert target["addresses"] == ["127.0.0.1"] and target["initiators"] == ["iqn.2026-11.org.example:host"]
    assert target["iscsi"] == {"MaxRecvDataSegmentLength": 65536, "ImmediateData": "No"}
    luns = {lun["lun"]: lun for lun in target["lun"]}
    assert sorted(luns) == [1, 2, 3]  # disk1 asked for 3; the others take 1 and 2 in file order
    assert luns[3] == {"lun": 3, "store": "file", "path": f"{tmp_path}/disk1.img", "write_cache": False,
                       "revision": "0007", "vendor": "ACME", "product": "FastDisk", "serial": "DISK-ONE"}
    assert luns[1]["path"] == f"{tmp_path}/disk2.img" and luns[1]["write_cache"] is False
    assert luns[2]["write_cache"] is True and luns[2]["thin"] is True and luns[2]["revision"] == "0102"
    assert luns[2]["optimal_xfer_blocks"] == 128  # the Block Limits VPD page's OPTIMAL TRANSFER LENGTH
    assert got.tids == {"iqn.2026-11.org.example:several": 7} and got.notes == []
    conf = tmp_path / "targets.conf"
    assert got.places["target[0]"] == f"{conf}:2" and got.places["target[0].lun[0]"] == f"{conf}:3"
    assert tomllib.loads(dumps(got.data)) == got.data


def test_includes_relative_globs_and_directories(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    b = "<target iqn.2026-11.org.example:b>\n  backing-store b.img\n</target>\n"
    write(tmp_path / "conf.d", b, "b.conf")
    write(tmp_path / "conf.d", "<target iqn.2026-11.org.example:a>\n  backing-store /srv/a.img\n</target>\n",
          "a.conf")
    write(tmp_path / "conf.d", "<target iqn.2026-11.org.example:x>\n</target>\n", "x.txt")
    got = import_tgt(write(tmp_path, "include conf.d/*.conf\n"))
    names = [t["name"] for t in got.data["target"]]
    assert names == ["iqn.2026-11.org.example:a", "iqn.2026-11.org.example:b"]
    assert got.data["target"][1]["lun"][0]["path"] == f"{tmp_path}/conf.d/b.img"  # relative to its file
    assert len(import_tgt(write(tmp_path, "include conf.d\n", "dir.conf")).data["target"]) == 3


@pytest.mark.skipif(not EXAMPLE.exists(), reason="Debian's tgt example is not installed (package tgt)")
def test_debians_example(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    with pytest.raises(TgtConfError, match=r"targets.conf:223: controller_tid 10 is also .*target5's"):
        import_tgt(write(tmp_path, text))  # tgtadm too refuses a second target with tid 10
    lines = text.splitlines(keepends=True)
    assert lines[222].strip() == "controller_tid 10"
    path = write(tmp_path, "".join(lines[:222] + ["\n"] + lines[223:]))
    got = import_tgt(path)
    targets = {t["name"].rsplit(".", 1)[1]: t for t in got.data["target"]}
    assert sorted(targets) == [f"target{i}" for i in range(1, 10)]  # target4's two blocks merged
    assert [lun["lun"] for lun in targets["target3"]["lun"]] == [1, 2, 3]
    assert {lun["vendor"] for lun in targets["target3"]["lun"]} == {"MyCompan"}  # INQUIRY's 8 characters
    # target5: direct stores with their own lun, the backing store without one takes the first free, 3
    t5 = {lun["lun"]: lun for lun in targets["target5"]["lun"]}
    assert sorted(t5) == [1, 2, 3, 15] and t5[1]["type"] == "dvd" and t5[1]["removable"] is True
    assert "store" not in t5[1] and t5[1]["disc"] == "/dev/sdd"  # the cd direct store is the disc
    assert t5[3]["serial"] == "SERIAL" and t5[3]["write_cache"] is True and t5[15]["serial"] == "multipath-10"
    assert targets["target5"]["addresses"] == ["192.168.100.1", "192.168.200.5"]
    assert targets["target5"]["incoming"] == ["user1", "user2"] and targets["target5"]["outgoing"] == "userA"
    assert [lun["lun"] for lun in targets["target6"]["lun"]] == [10]
    assert got.tids == {"iqn.2008-09.com.example:server.target5": 10}
    notes = "\n".join(got.notes)
    assert f"{path}:44: direct-store /dev/sdd: hpt serves it as a file store" in notes
    assert f"{path}:57: vendor_id 'MyCompany Inc.' is longer than INQUIRY's 8 characters" in notes
    assert f"{path}:201: allow-in-use: not supported by hpt" in notes


@pytest.mark.parametrize(("text", "message"), [
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  bogus 1\n</target>\n",
     ":3: unknown directive bogus in <target iqn.2026-11.org.example:a>"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n", ":1: <target> is not closed"),
    ("</target>\n", ":1: </target> closes no <target> block"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  bs-type rbd\n</target>\n",
     ":3: backing store type rbd is not supported by hpt"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  device-type pt\n</target>\n",
     ":3: device-type: device type pt is not supported by hpt"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  backing-store /b\n  lun 4\n</target>\n",
     ":4: lun in <target> is for a target of one store"),
    ("<target iqn.2026-11.org.example:a>\n  incominguser u secret-number-1\n</target>\n"
     "<target iqn.2026-11.org.example:b>\n  incominguser u secret-number-2\n</target>\n",
     ":5: user u has another password at "),
    ("<target iqn.2026-11.org.example:a>\n  incominguser onlyname\n</target>\n",
     ":2: incominguser takes a user name and a password"),
    ("include missing.conf\n", ":1: include missing.conf: no such file"),
    ("default-driver fcoe\n", ":1: default-driver fcoe: hpt serves iscsi and iser only"),
    ("<lun 1>\n</lun>\n", ":1: <lun> blocks are not tgt's"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  lbppbe four\n</target>\n",
     ":3: lbppbe: lbppbe must be a number from 0 to 15, got 'four'"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  lbppbe 16\n</target>\n",
     ":3: lbppbe: lbppbe must be from 0 to 15 (READ CAPACITY(16)'s 4-bit"),
    ("<target iqn.2026-11.org.example:a>\n  backing-store /a\n  params lbppbe=-1\n</target>\n",
     ":3: params: lbppbe must be from 0 to 15"),
    ("<target iqn.2026-11.org.example:a>\n  <backing-store /a>\n    lbppbe 3\n"
     "    params physical_block_size=8192\n  </backing-store>\n</target>\n",
     ":2: lbppbe 3 (4096 bytes) and physical_block_size 8192 disagree"),
])
def test_refused_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TgtConfError) as err:
        import_tgt(path)
    assert str(err.value).startswith(f"{path}{message}"), str(err.value)


LBPPBE = """\
<target iqn.2026-11.org.example:e>
    lbppbe 3
    <backing-store {tmp}/e512.img>
    </backing-store>
    <backing-store {tmp}/e4k.img>
        block-size 4096
        params lbppbe=1
    </backing-store>
</target>
"""


def test_lbppbe_is_the_physical_block_size(tmp_path: Path) -> None:
    """tgt's lbppbe (2**lbppbe logical blocks per physical block, READ CAPACITY(16)) is hptd's
    physical_block_size = block_size << lbppbe, whichever of the two keys comes first."""
    from hpt.daemon.config import parse_config  # the test's view: the admin package never imports it

    for name in ("e512.img", "e4k.img"):
        (tmp_path / name).write_bytes(bytes(1 << 20))
    got = import_tgt(write(tmp_path, LBPPBE))
    assert got.notes == []
    luns = got.data["target"][0]["lun"]
    sizes = [(lun.get("block_size"), lun["physical_block_size"]) for lun in luns]
    assert sizes == [(None, 4096), (4096, 8192)]
    assert all("lbppbe" not in lun for lun in luns)
    config = parse_config(dumps(got.data), "imported", base_dir=tmp_path)
    assert [lc.params.extra["physical_block_size"] for lc in config.targets[0].luns] == [4096, 8192]


def test_ignored_directives_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "iSNSServerIP 10.0.0.1\n<target iqn.2026-11.org.example:a>\n"
                           "  backing-store /a\n  scsi_id abc\n  IFMarker No\n</target>\n")
    notes = import_tgt(path).notes
    assert notes == [
        f"{path}:1: iSNSServerIP: not supported by hpt (hpt does not register with iSNS): ignored",
        f"{path}:5: IFMarker: not supported by hpt (the marker keys are obsolete, RFC 7143 13.25): ignored",
        f"{path}:4: scsi_id: not supported by hpt (hpt derives the device identification (VPD 83h) from the "
        "serial number): ignored"]


def test_hptadm_import_tgt(tmp_path: Path) -> None:
    path = write(tmp_path, SEVERAL + "iSNS On\n")
    run = subprocess.run([sys.executable, "-m", "hpt.admin.main", "import-tgt", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"hptadm: {path}:24: iSNS: not supported by hpt (no iSNS in hpt): ignored\n"
    assert tomllib.loads(run.stdout) == import_tgt(path).data
    assert "# controller_tid 7: iqn.2026-11.org.example:several" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "hpt.admin.main", "import-tgt", str(tmp_path / "none.conf")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "none.conf: cannot read: No such file or directory" in bad.stderr


def test_hptd_reads_what_hptadm_prints(tmp_path: Path) -> None:
    """The printed TOML is a configuration hptd --config loads."""
    from hpt.daemon.config import parse_config  # the test's view: the admin package never imports it

    for name in ("disk1.img", "disk2.img", "disk3.img"):
        (tmp_path / name).write_bytes(bytes(1 << 20))

    config = parse_config(dumps(import_tgt(write(tmp_path, SEVERAL)).data), "imported", base_dir=tmp_path)
    (target,) = config.targets
    assert [lc.lun for lc in target.luns] == [3, 1, 2]
    assert target.luns[0].params.vendor == "ACME" and target.luns[0].params.write_cache is False
