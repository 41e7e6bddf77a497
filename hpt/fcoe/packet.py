"""The FCoE port's raw Ethernet driver: AF_PACKET sockets bound to FIP (0x8914) and FCoE (0x8906) on
one interface, one thread per port (packet(7)).

Received frames go to the sans-I/O :class:`FcoePort`; what it answers leaves with one ``sendmsg`` per
frame, data frames as scatter lists of header bytes and ring slot views.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import struct
import threading
import time
from pathlib import Path

from hpt.fcoe.fip import ALL_ENODE_MACS, ALL_VN2VN_MACS
from hpt.fcoe.frame import ETH_P_FCOE, ETH_P_FIP, HEAD_LEN, parse_mac
from hpt.fcoe.port import FcoePort
from hpt.native.batch import later

log = logging.getLogger("hpt.fcoe")

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP, PACKET_DROP_MEMBERSHIP = 1, 2
PACKET_MR_MULTICAST, PACKET_MR_UNICAST = 0, 3
PACKET_OUTGOING = 4
PACKET_STATISTICS = 6
#: How often the driver reads the sockets' drop counts into the port's counters.
STATS_PERIOD = 1.0
RECV_SIZE = 9216
SO_RCVBUFFORCE = 33
#: Receive buffer: a 1 MiB write burst is ~500 frames of ~4 KiB kernel memory each.
RCVBUF_BYTES = 8 << 20


def interface_mac(interface: str) -> bytes:
    """The interface's MAC address (sysfs); raises OSError when there is no such interface."""
    return parse_mac(Path(f"/sys/class/net/{interface}/address").read_text().strip())


def interface_mtu(interface: str) -> int:
    return int(Path(f"/sys/class/net/{interface}/mtu").read_text())


def open_socket(interface: str, ethertype: int) -> socket.socket:
    """An AF_PACKET raw socket for one ethertype on ``interface``, receiving ALL-VN2VN-MACs and
    ALL-ENodes-MACs (FCF advertisements) too."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
    try:
        sock.bind((interface, ethertype))
        for group in (ALL_VN2VN_MACS, ALL_ENODE_MACS):
            membership(sock, interface, PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST, group)
        set_receive_buffer(sock, RCVBUF_BYTES)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def membership(sock: socket.socket, interface: str, action: int, kind: int, mac: bytes) -> None:
    """Add or drop a MAC address the interface receives for this socket (packet(7) membership):
    a multicast group, or a unicast address such as a fabric-granted FPMA."""
    mreq = struct.pack("iHH8s", socket.if_nametoindex(interface), kind, 6, mac)
    sock.setsockopt(SOL_PACKET, action, mreq)


def set_receive_buffer(sock: socket.socket, size: int) -> None:
    """Raise the socket's receive buffer, past net.core.rmem_max when allowed (CAP_NET_ADMIN)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def socket_drops(sock: socket.socket) -> int:
    """Frames the kernel dropped for ``sock`` (receive buffer full) since the last call (packet(7)
    PACKET_STATISTICS: struct tpacket_stats, reset by reading)."""
    _packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return int(drops)


class PacketDriver:
    """Runs one :class:`FcoePort` on ``interface`` in its own thread."""

    def __init__(self, port: FcoePort, interface: str) -> None:
        self.port = port
        self.interface = interface
        self.socks = [open_socket(interface, ETH_P_FIP), open_socket(interface, ETH_P_FCOE)]
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        port.engine.notify = self._completed  # SCSI completions from other threads wake the loop
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"fcoe-{interface}", daemon=True)
        self.send_errors = 0
        self._unicast = bytes(6)  # the FPMA the interface was told to receive, in fabric mode
        self._head = memoryview(bytearray(HEAD_LEN))  # a frame's headers, when its payload lands apart

    def _sync_unicast(self) -> None:
        """In fabric mode, have the NIC receive the FPMA the port was granted (and no old one)."""
        if self.port.fabric is None or self.port.local_mac == self._unicast:
            return
        old, new = self._unicast, self.port.local_mac
        for action, mac in ((PACKET_DROP_MEMBERSHIP, old), (PACKET_ADD_MEMBERSHIP, new)):
            if any(mac):
                try:
                    membership(self.socks[1], self.interface, action, PACKET_MR_UNICAST, mac)
                except OSError as err:
                    log.warning("%s: unicast filter for %s: %s", self.interface, mac.hex(":"), err)
        self._unicast = new

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Log out the remote ports, stop the thread and close the sockets."""
        self._stopping = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout)
        for sock in self.socks:
            sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _completed(self) -> None:
        if not later(self, self.wake):  # once per completion batch
            self.wake()

    def wake(self) -> None:
        """Another thread queued work for the port (a SCSI completion): run the loop now."""
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # closed (stopping), or the pipe is full: the loop wakes anyway
            pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _flush(self) -> None:
        sock = self.socks[1]
        for frame in self.port.take_output():
            try:
                sock.sendmsg(frame)
            except OSError as err:  # e.g. ENOBUFS, or the link went down: the peer retries
                self.send_errors += 1
                log.debug("%s: send failed: %s", self.interface, err)
        self.port.transmitted()
        self._sync_unicast()

    def _run(self) -> None:
        port = self.port
        buf = bytearray(RECV_SIZE)
        view = memoryview(buf)
        port.start(time.monotonic())
        self._flush()
        deadline = port.tick(time.monotonic())
        stats_due = time.monotonic() + STATS_PERIOD
        while not self._stopping:
            timeout = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([*self.socks, self._wake_r], [], [], timeout)
            for sock in ready:
                if sock is self._wake_r:
                    self._drain_wake()
                    continue
                self._drain(sock, view)  # type: ignore[arg-type]
            now = time.monotonic()
            deadline = port.tick(now)
            self._flush()
            if now >= stats_due:
                self._count_drops()
                stats_due = now + STATS_PERIOD
        port.stop()
        self._flush()
        self._count_drops()

    def _count_drops(self) -> None:
        """Add the frames the kernel dropped before hptd read them to the port's ``socket_drops``."""
        drops = sum(socket_drops(sock) for sock in self.socks)
        if drops:
            counters = self.port.counters
            counters["socket_drops"] = counters.get("socket_drops", 0) + drops
            log.warning("%s: the kernel dropped %d received frames (receive buffer full)",
                        self.interface, drops)

    def _drain(self, sock: socket.socket, view: memoryview) -> None:
        """Receive every frame waiting on ``sock``. On the FCoE socket, while a write waits for data,
        each frame is received in parts so that an FCP_DATA payload lands in the write's buffer
        (``FcoePort.landing``): the headers in ``_head``, the payload there, anything beyond in ``view``."""
        port, head = self.port, self._head
        fcoe = sock is self.socks[1]
        while True:
            landing = port.landing() if fcoe else None
            try:
                if landing is None:
                    n, addr = sock.recvfrom_into(view)
                else:
                    n, _, _, addr = sock.recvmsg_into([head, landing, view])
            except BlockingIOError:
                return
            except OSError as err:
                log.warning("%s: receive failed: %s", self.interface, err)
                return
            if addr[2] == PACKET_OUTGOING:  # our own frames, looped back to packet sockets
                continue
            try:
                if landing is None:
                    port.receive(view[:n], time.monotonic())
                else:
                    port.receive_landed(head, landing, view, n, time.monotonic())
            except Exception:  # a bug must not take the port down: count it, drop the frame
                log.exception("%s: frame handling failed", self.interface)
                self.port.counters["internal_error"] = self.port.counters.get("internal_error", 0) + 1
            self._flush()
