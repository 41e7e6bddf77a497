"""Scale-out gateways (issue 11): two hptd export one rbd image under one target name, gateway A through
portal group 1 and B through group 2, each naming the other's group in ``peer_port_groups`` (SPC-5
5.16.2.1). Through either: the same LU identity (VPD 80h, 83h), both target port groups in REPORT TARGET
PORT GROUPS; libiscsi's MultipathIO family with one URL per gateway; a gateway that dies leaves the
other serving."""

from __future__ import annotations

import signal
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci.ceph.microceph import MicroCeph
from hpt.scsi.spc import vpd
from tests.integration.cunit import CunitResult, parse_cunit
from tests.integration.hptd import Hptd, need, start_hptd
from tests.integration.test_conformance import INITIATOR_1, INITIATOR_2
from tests.integration.wire import WireInitiator, tur
from tests.scsi.test_spc_inquiry import designators

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:gateways"
PR_FAMILIES = "SCSI.Pr[io]*"  # PERSISTENT RESERVE IN and OUT: Prin*, Prout*


def gateway_config(ceph: MicroCeph, image: str, group: int, peer: int) -> str:
    """hptd's configuration as gateway ``group`` of two: one portal in that group, the peer's group."""
    return f"""
[[portal]]
address = "127.0.0.1:{{port}}"
group = {group}

[[target]]
name = "{IQN}"
peer_port_groups = [{peer}]
alua = {{ 2 = "active/non-optimized" }}
alua_explicit = true
  [[target.lun]]
  lun = 1
  store = "rbd"
  image = "{image}"
  ceph_conf = "{ceph.conf}"
  thin = true
  block_size = 4096
"""


@pytest.fixture
def gateways(ceph: MicroCeph, image: Callable[..., str], tmp_path: Path) -> Iterator[tuple[Hptd, Hptd]]:
    name = image("64M")
    a = start_hptd(tmp_path, gateway_config(ceph, name, 1, 2))
    try:
        b = start_hptd(tmp_path, gateway_config(ceph, name, 2, 1))
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        for d in (a, b):
            d.stop()
            assert "Traceback" not in d.log_text(), d.log_text()[-4000:]


def session(d: Hptd) -> WireInitiator:
    ini = WireInitiator(d.port, IQN)
    assert ini.login() == 0
    for _ in range(5):  # past the power-on unit attention
        if ini.command(tur(), lun=1).status == 0:
            return ini
    raise AssertionError(f"no TEST UNIT READY succeeded through port {d.port}")


def inquiry_vpd(page: int) -> bytes:
    return struct.pack(">BBBHB", 0x12, 1, page, 255, 0)


def rtpg() -> bytes:
    return struct.pack(">BBxxxxIxB", 0xA3, 0x0A, 4096, 0)


def port_groups(data: bytes) -> list[tuple[int, int, list[int]]]:
    """(group, state, relative ports) of each REPORT TARGET PORT GROUPS descriptor (6.36.2)."""
    out, off = [], 4
    while off < len(data):
        n = data[off + 7]
        ports = [struct.unpack_from(">H", data, off + 10 + 4 * i)[0] for i in range(n)]
        out.append((struct.unpack_from(">H", data, off + 2)[0], data[off] & 0x0F, ports))
        off += 8 + 4 * n
    return out


def test_one_lu_two_target_port_groups(gateways: tuple[Hptd, Hptd]) -> None:
    sessions = [session(d) for d in gateways]
    try:
        reports = [port_groups(ini.command(rtpg(), lun=1, read=4096).data) for ini in sessions]
        assert reports == [[(1, 0, [1]), (2, 1, [2])]] * 2  # active/optimized, active/non-optimized
        serials = [ini.command(inquiry_vpd(0x80), lun=1, read=255).data for ini in sessions]
        assert serials[0] == serials[1]
        ids = [designators(ini.command(inquiry_vpd(0x83), lun=1, read=255).data) for ini in sessions]
        lu_ids = [[d for d in page if d[3] == vpd.ASSOC_LU] for page in ids]
        assert lu_ids[0] == lu_ids[1] and any(d[4] == vpd.TYPE_NAA for d in lu_ids[0])
        rtpis = [[d[5] for d in page if d[4] == vpd.TYPE_RELATIVE_PORT] for page in ids]
        assert rtpis == [[struct.pack(">I", 1)], [struct.pack(">I", 2)]]
    finally:
        for ini in sessions:
            ini.close()


def test_set_target_port_groups_through_a_reaches_b(gateways: tuple[Hptd, Hptd]) -> None:
    """Explicit ALUA across the gateways (SPC-5 6.46): through A, B's group goes standby."""
    through_a, through_b = (session(d) for d in gateways)
    try:
        descriptors = struct.pack(">4xBxHBxH", 0, 1, 2, 2)  # group 1 active/optimized, group 2 standby
        cdb = struct.pack(">BBxxxxIxB", 0xA4, 0x0A, len(descriptors), 0)
        assert through_a.command(cdb, lun=1, write=descriptors).status == 0
        changed = through_b.command(tur(), lun=1)  # ASYMMETRIC ACCESS STATE CHANGED (5.16.2.6)
        assert changed.status == 2 and changed.sense_key_asc == (6, 0x2A, 0x06)
        assert port_groups(through_b.command(rtpg(), lun=1, read=4096).data) == [(1, 0, [1]), (2, 2, [2])]
        refused = through_b.command(struct.pack(">BxIxHx", 0x28, 0, 1), lun=1, read=4096)
        assert refused.status == 2 and refused.sense_key_asc == (2, 0x04, 0x0B)  # TARGET PORT IN STANDBY
    finally:
        through_a.close()
        through_b.close()


def run_cunit(gateways: tuple[Hptd, Hptd], test: str, capsys: pytest.CaptureFixture[str]) -> CunitResult:
    """iscsi-test-cu with one URL per gateway; prints its table."""
    tool = need("iscsi-test-cu", "libiscsi-bin")
    proc = subprocess.run([tool, "--dataloss", "--test", test, "--initiator-name", INITIATOR_1,
                           "--initiator-name-2", INITIATOR_2, *(d.url(IQN) for d in gateways)],
                          capture_output=True, text=True, timeout=600)
    result = parse_cunit(proc.stdout)
    with capsys.disabled():
        print(f"\n{test} across two gateways:\n{result.table()}")
        print("failed:", ", ".join(result.failed()) or "none")
    assert all(d.alive() for d in gateways)
    assert result.outcomes, proc.stdout[-3000:]
    return result


def test_multipath_io_across_two_gateways(gateways: tuple[Hptd, Hptd], capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    """libiscsi's MultipathIO family: each of its 4 tests a real pass (Reset: the LOGICAL UNIT RESET's
    unit attention through the other gateway too)."""
    result = run_cunit(gateways, "SCSI.MultipathIO", capsys)
    assert result.count()["passed"] == len(result.outcomes) == 4, result.outcomes


def test_persistent_reservations_on_the_shared_state(gateways: tuple[Hptd, Hptd],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """libiscsi's PERSISTENT RESERVE IN/OUT families on the state kept in RADOS: no failure."""
    result = run_cunit(gateways, PR_FAMILIES, capsys)
    assert result.count()["passed"] == len(result.outcomes) >= 20, result.outcomes


def test_a_gateway_that_dies_leaves_its_peer_serving(gateways: tuple[Hptd, Hptd]) -> None:
    a, b = gateways
    through_b = session(b)
    try:
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(30)
        assert through_b.command(tur(), lun=1).status == 0
        assert through_b.command(struct.pack(">BxIxHx", 0x28, 0, 1), lun=1, read=4096).status == 0
        # REGISTER AND IGNORE EXISTING KEY: the shared state still changes (the dead gateway's watch
        # may hold the notification up to its timeout)
        register = struct.pack(">QQ4xB3x", 0, 0x1234, 0)
        cdb = struct.pack(">BBBxxIB", 0x5F, 6, 0, len(register), 0)
        assert through_b.command(cdb, lun=1, write=register).status == 0
        again = session(b)  # and new sessions log in
        again.close()
    finally:
        through_b.close()
