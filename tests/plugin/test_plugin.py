"""hpt's pytest plugin seen from another project's test suite (pytester, pytest in a subprocess):
``hpt_demo`` read through libiscsi and QEMU, injected faults as initiators see them, and
``hpt_target_factory`` serving a tape library and a target with two LUNs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOOLS = {"iscsi-inq": "libiscsi-bin", "iscsi-ls": "libiscsi-bin", "qemu-io": "qemu-utils"}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An outside project whose tests may use the libiscsi session helper (ctypes over libiscsi)."""
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian package {package}; ci/test.sh installs it)")
    pytester.makepyfile(libiscsi=(HERE / "libiscsi.py").read_text())
    pytester.syspathinsert()
    return pytester


def run(project: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    project.makepyfile(test_outside=source)
    return project.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args, timeout=300)


DEMO = '''
import subprocess

import pytest


def test_inquiry_through_libiscsi(hpt_demo):
    assert hpt_demo.iqn == "iqn.2026-11.org.hpt:demo"
    assert hpt_demo.portal.startswith("127.0.0.1:") and hpt_demo.portal != "127.0.0.1:3260"
    assert hpt_demo.url == f"iscsi://{hpt_demo.portal}/{hpt_demo.iqn}/1"
    out = subprocess.run(["iscsi-inq", hpt_demo.url], capture_output=True, text=True, check=True).stdout
    assert "Peripheral Device Type:DIRECT_ACCESS" in out
    assert "Vendor:HPT" in out


def test_bad_faults_say_what_is_wrong(hpt_demo):
    with pytest.raises(ValueError, match="the first block 9 is after the last 1"):
        hpt_demo.inject(1, op="read", lba=(9, 1), error="medium")
    with pytest.raises(ValueError, match="error must be one of"):
        hpt_demo.inject(1, op="read", lba=None, error="fire")
    with pytest.raises(ValueError, match="logical unit 7"):
        hpt_demo.inject(7, op="read", lba=None, error="busy")
'''


def test_hpt_demo_through_the_entry_point(project: pytest.Pytester) -> None:
    result = run(project, DEMO)
    result.assert_outcomes(passed=2)


def test_hpt_demo_loaded_with_p(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "fixture 'hpt_demo' not found" in run(project, DEMO).stdout.str()
    run(project, DEMO, "-p", "hpt.testing.plugin").assert_outcomes(passed=2)


MEDIUM = '''
import subprocess

from libiscsi import Session

CHECK_CONDITION, MEDIUM_ERROR = 0x02, 0x3
UNRECOVERED_READ_ERROR, WRITE_ERROR = 0x1100, 0x0C00


def qemu_io(url, command):
    done = subprocess.run(["qemu-io", "-f", "raw", "-c", command, url], capture_output=True, text=True)
    return done.stdout + done.stderr


def test_medium_errors_on_a_range(hpt_demo):
    hpt_demo.inject(1, op="read", lba=(100, 199), error="medium")
    hpt_demo.inject(1, op="write", lba=(500, 500), error="medium")
    with Session(hpt_demo.url) as s:
        for lba in (100, 150, 199):
            got = s.read16(lba, 1)
            assert (got.status, got.key, got.ascq) == (CHECK_CONDITION, MEDIUM_ERROR, UNRECOVERED_READ_ERROR)
        assert s.read16(96, 8).ascq == UNRECOVERED_READ_ERROR  # a read reaching into the range
        for lba in (0, 99, 200, 500):
            assert s.read16(lba, 1).status == 0
        assert s.write16(150, bytes(512)).status == 0
        got = s.write16(500, bytes(512))
        assert (got.status, got.key, got.ascq) == (CHECK_CONDITION, MEDIUM_ERROR, WRITE_ERROR)
    assert "Input/output error" in qemu_io(hpt_demo.url, "read 51200 512")
    assert "read 512/512 bytes" in qemu_io(hpt_demo.url, "read 102400 512")
    hpt_demo.clear()
    assert "read 512/512 bytes" in qemu_io(hpt_demo.url, "read 51200 512")
'''


def test_injected_medium_errors_seen_by_libiscsi_and_qemu(project: pytest.Pytester) -> None:
    run(project, MEDIUM).assert_outcomes(passed=1)


STATUS = '''
import threading
import time

from libiscsi import Session

BUSY, TASK_SET_FULL, CANCELLED = 0x08, 0x28, 0x0F000000


def test_busy_and_task_set_full(hpt_demo):
    hpt_demo.inject(1, op="read", lba=(10, 10), error="busy")
    hpt_demo.inject(1, op="any", lba=(20, 29), error="task_set_full")
    with Session(hpt_demo.url) as s:
        assert s.read16(10, 1).status == BUSY and s.read16(11, 1).status == 0
        assert s.write16(10, bytes(512)).status == 0  # a read fault: writes go on
        assert s.read16(25, 1).status == TASK_SET_FULL and s.write16(29, bytes(512)).status == TASK_SET_FULL
        hpt_demo.clear(1)
        assert s.read16(10, 1).status == 0 and s.read16(25, 1).status == 0


def test_delay_answers_late(hpt_demo):
    with Session(hpt_demo.url) as s:
        hpt_demo.inject(1, op="write", lba=None, error="delay:0.5")
        started = time.monotonic()
        assert s.write16(7, b"x" * 512).status == 0
        assert time.monotonic() - started >= 0.5
        assert s.read16(7, 1).status == 0


def test_drop_closes_the_connection(hpt_demo):
    hpt_demo.inject(1, op="read", lba=(40, 40), error="drop")
    with Session(hpt_demo.url, reconnect=False) as s:
        assert s.read16(39, 1).status == 0
        assert s.read16(40, 1).status == CANCELLED  # the connection went: no status came back
    assert "dropped the connection (injected fault)" in hpt_demo.log_text()
    # libiscsi's own recovery: it logs in again and retries until the fault is cleared
    with Session(hpt_demo.url) as s:
        got = []
        reader = threading.Thread(target=lambda: got.append(s.read16(40, 1)))
        reader.start()
        while hpt_demo.log_text().count("dropped the connection") < 2:
            time.sleep(0.05)
        hpt_demo.clear()
        reader.join(60)
        # the retry is GOOD, or reports the new I_T nexus' POWER ON, RESET unit attention (SAM-5 6.3.3)
        assert got and (got[0].status == 0 or (got[0].key, got[0].ascq >> 8) == (0x6, 0x29)), got
        assert s.read16(40, 1).status == 0
'''


def test_injected_status_faults_seen_by_libiscsi(project: pytest.Pytester) -> None:
    run(project, STATUS).assert_outcomes(passed=3)


FACTORY = '''
import subprocess

import pytest

from libiscsi import Session

VTL = """
[[target]]
name = "iqn.2026-11.org.example:vtl"

[[target.lun]]
lun = 0
type = "changer"
slots = 4
media = "MEDIA"
drives = [1]

[[target.lun.cartridge]]
slot = 1
barcode = "TST001L6"

[[target.lun]]
lun = 1
type = "tape"
"""

TWO = """
[[portal]]
address = "127.0.0.1:{port}"

[[target]]
name = "iqn.2026-11.org.example:two"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "8M"
  [[target.lun]]
  lun = 2
  store = "file"
  path = "{tmp}/two.img"
  size = "16M"
  block_size = 4096
"""


def inq(url):
    return subprocess.run(["iscsi-inq", url], capture_output=True, text=True, check=True).stdout


def test_a_tape_library(hpt_target_factory, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    subprocess.run(["hptimg", "--op", "new", "--barcode", "TST001L6", "--size", "16",
                    "--file", str(media / "TST001L6")], check=True, capture_output=True)
    target = hpt_target_factory(VTL.replace("MEDIA", str(media)))
    assert target.iqn == "iqn.2026-11.org.example:vtl" and target.url.endswith("/0")
    assert "Peripheral Device Type:MEDIA_CHANGER" in inq(target.url_of(target.iqn, 0))
    assert "Peripheral Device Type:SEQUENTIAL_ACCESS" in inq(target.url_of(target.iqn, 1))
    listing = subprocess.run(["iscsi-ls", "-s", f"iscsi://{target.portal}"], capture_output=True,
                             text=True, check=True).stdout
    assert "Lun:0" in listing.replace(" ", "") and "Lun:1" in listing.replace(" ", "")


def test_two_luns_and_their_own_faults(hpt_target_factory):
    target = hpt_target_factory(TWO)
    one, two = target.url_of(target.iqn, 1), target.url_of(target.iqn, 2)
    assert target.url == one and two.endswith("/iqn.2026-11.org.example:two/2")
    target.inject(2, op="read", lba=None, error="hardware")
    with Session(one) as s:
        assert s.read16(0, 1).status == 0
    with Session(two) as s:
        got = s.read16(0, 1, block_size=4096)
        assert (got.status, got.key) == (0x02, 0x4)
    with pytest.raises(LookupError, match="no LUN 3"):
        target.url_of(target.iqn, 3)
    target.call("lun.new", name=target.iqn, lun=3, keys={"store": "ram", "size": "1M"})
    assert "Peripheral Device Type:DIRECT_ACCESS" in inq(target.url_of(target.iqn, 3))


def test_a_bad_configuration_is_reported(hpt_target_factory):
    with pytest.raises(RuntimeError, match=r"block_size: must be 512 or 4096, got 520"):
        hpt_target_factory(TWO.replace("block_size = 4096", "block_size = 520"))
    with pytest.raises(ValueError, match="not TOML"):
        hpt_target_factory("[[target]\\n")
'''


def test_hpt_target_factory(project: pytest.Pytester) -> None:
    run(project, FACTORY).assert_outcomes(passed=3)
