"""hptd with an FCoE port in fabric mode on one end of a veth pair in a private network namespace;
on the other, the test FCF (``fcf_switch``): it advertises, accepts the FIP FLOGI with an FPMA, answers
the name server and relays a scapy initiator's PLOGI/PRLI, INQUIRY, READ CAPACITY and WRITE/READ
with verification; then Clear Virtual Links, and hptd discovers the FCF and logs in again."""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.lab.netns import NetNamespace
from hpt.scsi.core.constants import Status
from tests.fcoe.conftest import INITIATOR_MAC
from tests.fcoe.fcf_switch import INITIATOR_ID, NAME_SERVER, TARGET_ID, FcfHarness
from tests.fcoe.hptd import fcoe_config, running_hptd
from tests.fcoe.initiator import Initiator
from tests.fcoe.test_netns import SocketLink, socket_in_namespace

pytestmark = pytest.mark.integration


@pytest.fixture
def hptd(namespace: NetNamespace, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    config = fcoe_config("fc0", [f"20:00:{INITIATOR_MAC}"], mode="fabric")
    with running_hptd(namespace, tmp_path, config) as proc:
        yield proc


def read_write(ini: Initiator, lba: int, data: bytes) -> None:
    blocks = len(data) // 512
    write = ini.scsi(struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0), data_out=data)
    assert write.status == Status.GOOD
    read = ini.scsi(struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0), read=len(data))
    assert read.status == Status.GOOD and read.data == data


def test_hptd_behind_the_test_fcf(namespace: NetNamespace, hptd: subprocess.Popen[str]) -> None:
    with socket_in_namespace(namespace.name, "fc1") as sock:
        fcf = FcfHarness(SocketLink(sock, timeout=10.0))  # advertises at once, then every 4 s
        registered = ["PLOGI fffffc", "CT fc 0217", "CT fc 021f", "CT fc 0218"]
        fcf.run_until(lambda: fcf.seen(*NAME_SERVER) == registered, "fabric login")
        assert fcf.seen("flogi ") and fcf.seen("solicitation ")
        ini = fcf.initiator(INITIATOR_MAC)
        assert ini.port_id == INITIATOR_ID
        ini.fabric_login(TARGET_ID)
        ini.clear_unit_attention()
        ini.check_disk(16 << 20)
        data = os.urandom(256 * 1024)
        read_write(ini, 64, data)

        fcf.clear_virtual_links(TARGET_ID, fcf.switch.ports[TARGET_ID].wwpn)
        fcf.run_until(
            lambda: len(fcf.seen("flogi ")) == 2 and len(fcf.seen(*NAME_SERVER)) == 8, "a new fabric login"
        )
        ini.fabric_login(TARGET_ID)
        ini.clear_unit_attention()
        read = ini.scsi(struct.pack(">BBIBHB", 0x28, 0, 64, 0, len(data) // 512, 0), read=len(data))
        assert read.status == Status.GOOD and read.data == data
        read_write(ini, 2048, os.urandom(64 * 1024))
        assert fcf.switch.log.dropped == 0, fcf.switch.log
