"""The AF_PACKET driver's socket helpers on the loopback interface (needs CAP_NET_RAW)."""

from __future__ import annotations

import os
import socket

import pytest

from hpt.fcoe.frame import ETH_P_FCOE
from hpt.fcoe.packet import open_socket, socket_drops

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="AF_PACKET sockets need CAP_NET_RAW (root)")


def test_frames_the_kernel_drops_are_counted_once() -> None:
    sock = open_socket("lo", ETH_P_FCOE)
    sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # room for a frame or two
        assert socket_drops(sock) == 0
        sender.bind(("lo", 0))
        frame = bytes(6) + bytes(6) + ETH_P_FCOE.to_bytes(2, "big") + bytes(2000)
        for _ in range(50):
            sender.send(frame)
        drops = socket_drops(sock)
        assert 0 < drops < 50
        assert socket_drops(sock) == 0  # reading the statistics resets them
    finally:
        sender.close()
        sock.close()
