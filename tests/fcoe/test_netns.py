"""hptd with an FCoE port on one end of a veth pair in a private network namespace, the scapy
initiator on the other: FIP VN2VN login, PLOGI/PRLI, INQUIRY, READ CAPACITY, WRITE/READ with
verification, ABTS of an outstanding command, LOGO, then SIGTERM."""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.lab.netns import NetNamespace
from hpt.fcoe.packet import set_receive_buffer
from hpt.scsi.core.constants import Status
from tests.fcoe.hptd import fcoe_config, running_hptd
from tests.fcoe.initiator import Initiator
from tests.fcoe.layers import FC
from tests.integration.hptd import request_status

pytestmark = pytest.mark.integration

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
INITIATOR_MAC = "52:54:00:bb:00:02"


class SocketLink:
    """Raw Ethernet frames (FIP and FCoE only) through an AF_PACKET socket; ``recv`` gives up
    ``timeout`` seconds after the last frame sent (beacons alone do not keep it waiting)."""

    def __init__(self, sock: socket.socket, timeout: float = 20.0) -> None:
        self.sock = sock
        self.timeout = timeout
        self.limit = time.monotonic() + timeout

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)
        self.limit = time.monotonic() + self.timeout

    def recv(self) -> bytes | None:
        while True:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, self.limit - time.monotonic()))
            if not ready:
                return None
            data, addr = self.sock.recvfrom(9216)
            if addr[2] != PACKET_OUTGOING and data[12:14] in (b"\x89\x06", b"\x89\x14"):
                return data


def socket_in_namespace(namespace: str, interface: str) -> socket.socket:
    """An AF_PACKET socket on ``interface`` of ``namespace``, made by a thread that joins it (setns)."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((interface, ETH_P_ALL))
            set_receive_buffer(sock, 32 << 20)  # Python reads slower than hptd sends a 256 KiB read
            made.append(sock)
        except BaseException as err:  # handed to the caller
            made.append(err)
        finally:
            os.close(fd)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


@pytest.fixture
def hptd(namespace: NetNamespace, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    with running_hptd(namespace, tmp_path, fcoe_config("fc0", [f"20:00:{INITIATOR_MAC}"])) as proc:
        yield proc


def test_scapy_initiator_against_hptd(
    namespace: NetNamespace, hptd: subprocess.Popen[str], tmp_path: Path
) -> None:
    sock = socket_in_namespace(namespace.name, "fc1")
    with sock:
        ini = Initiator(SocketLink(sock), INITIATOR_MAC, port_id=0x000002)
        ini.login()
        (port,) = request_status(hptd, tmp_path / "hptd.log")["fcoe_ports"]  # SIGUSR1: what hptd shows
        assert (port["name"], port["mode"], port["state"], port["peers"]) == ("fc0", "vn2vn", "up", 1)
        assert port["rports"] == [{"wwpn": f"20:00:{INITIATOR_MAC}", "port_id": "000002", "state": "ready"}]
        ini.clear_unit_attention()
        ini.check_disk(16 << 20)
        data = os.urandom(256 * 1024)
        blocks = len(data) // 512
        write = ini.scsi(struct.pack(">BBIBHB", 0x2A, 0, 64, 0, blocks, 0), data_out=data)
        assert write.status == Status.GOOD and write.xfer_rdys == [(0, len(data))]
        read = ini.scsi(struct.pack(">BBIBHB", 0x28, 0, 64, 0, blocks, 0), read=len(data))
        assert read.status == Status.GOOD and read.data == data
        # ABTS of a write whose data is still outstanding.
        ox = ini.command(struct.pack(">BBIBHB", 0x2A, 0, 0, 0, 8, 0), data_out=bytes(4096))
        assert ini.fc_reply(ox, "XFER_RDY")[FC].r_ctl == 0x05
        assert ini.abts(ox)[FC].r_ctl == 0x84
        assert ini.scsi(bytes(6)).status == Status.GOOD
        assert bytes(ini.logo()[FC].payload)[0] == 0x02
