"""Fixtures for the FCoE tests: a disk target, a sans-I/O port on a virtual clock, the project's
reference capture."""

from __future__ import annotations

import os
import random
import shutil
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.lab.netns import NetNamespace
from ci.lab.pcap import Frame, read_pcap
from hpt.fcoe.frame import ETH_HLEN, FCOE_HLEN, HEAD_LEN, R_CTL_DATA, TRAILER_LEN, parse_mac
from hpt.fcoe.port import FcoePort
from hpt.native.ring import Ring
from hpt.scsi.lu import LuParams
from hpt.scsi.sbc.profile import make_disk
from hpt.scsi.target import ScsiTarget
from hpt.store.registry import open_store
from tests.fcoe.fcf_switch import FcfHarness
from tests.fcoe.initiator import Initiator

CAPTURE = Path(__file__).resolve().parents[1] / "data" / "fcoe-vn2vn-lio.pcap.gz"
TARGET_MAC = "52:54:00:aa:00:01"
INITIATOR_MAC = "52:54:00:bb:00:02"
TARGET_WWNN, TARGET_WWPN = 0x1000525400AA0001, 0x2000525400AA0001
DISK_BYTES = 8 << 20


class PortLink:
    """Drives a sans-I/O :class:`FcoePort` on a virtual clock: frames sent are received at once;
    ``recv`` advances the clock to the port's next timer while nothing is queued, up to ``horizon``
    seconds past the last frame sent."""

    def __init__(self, port: FcoePort, horizon: float = 30.0) -> None:
        self.port = port
        self.now = 0.0
        self.horizon = horizon
        self.limit = horizon
        self.queue: deque[bytes] = deque()
        port.start(self.now)
        self.drain()

    def drain(self) -> None:
        for frame in self.port.take_output():
            self.queue.append(b"".join(bytes(part) for part in frame))
        self.port.transmitted()

    def send(self, frame: bytes) -> None:
        self.port.receive(frame, self.now)
        self.drain()
        self.limit = self.now + self.horizon

    def recv(self) -> bytes | None:
        while not self.queue:
            deadline = self.port.tick(self.now)
            self.drain()
            if self.queue:
                break
            if deadline > self.limit:
                return None
            self.now = max(self.now, deadline)
        return self.queue.popleft()


class LandingLink(PortLink):
    """A :class:`PortLink` that hands frames over as ``PacketDriver`` does on its FCoE socket: while a
    write waits for data, split the way ``recvmsg_into`` scatters it (headers, the port's landing,
    the rest), counting the data frames whose payload was all in the landing (``in_place``)."""

    in_place = 0

    def send(self, frame: bytes) -> None:
        landing = self.port.landing()
        if landing is None:
            super().send(frame)
            return
        head, body = memoryview(bytearray(frame[:HEAD_LEN])), frame[HEAD_LEN:]
        fit = min(len(body), len(landing))
        landing[:fit] = body[:fit]
        tail = memoryview(bytearray(body[fit:]) + bytearray(64))
        self.in_place += len(body) - TRAILER_LEN <= len(landing) and frame[ETH_HLEN + FCOE_HLEN] == R_CTL_DATA
        self.port.receive_landed(head, landing, tail, len(frame), self.now)
        self.drain()
        self.limit = self.now + self.horizon


def make_target(luns: int = 1, store: str = "ram", size: int = DISK_BYTES) -> ScsiTarget:
    target = ScsiTarget("fcoe-test")
    for lun in range(luns):
        target.add_lu(make_disk(lun, LuParams(), open_store(store, {"size": size}), target))
    return target


def make_port(
    target: ScsiTarget, ring: Ring | None = None, mac: str = TARGET_MAC, wwpn: int = TARGET_WWPN, **kw: object
) -> FcoePort:
    return FcoePort("test", parse_mac(mac), TARGET_WWNN, wwpn, target, ring, rng=random.Random(7), **kw)  # type: ignore[arg-type]


def fabric_port(target: ScsiTarget, ring: Ring) -> tuple[FcoePort, FcfHarness]:
    """A port in fabric mode on link 0 of the test FCF, both on the port's virtual clock."""
    port = make_port(target, ring, mode="fabric")
    link = PortLink(port)
    return port, FcfHarness(link, clock=lambda: link.now)


def free_slots(ring: Ring) -> int:
    taken = []
    while (slot := ring.try_alloc()) >= 0:
        taken.append(slot)
    for slot in taken:
        ring.free(slot)
    return len(taken)


@pytest.fixture
def ring() -> Ring:
    return Ring(256 * 1024, 8)


@pytest.fixture
def target() -> ScsiTarget:
    return make_target()


@pytest.fixture
def port(target: ScsiTarget, ring: Ring) -> FcoePort:
    return make_port(target, ring)


@pytest.fixture(params=["receive", "landing"])
def link(port: FcoePort, request: pytest.FixtureRequest) -> PortLink:
    """The port fed whole frames, or as the driver feeds it while a write waits for data."""
    return (PortLink if request.param == "receive" else LandingLink)(port)


@pytest.fixture
def initiator(link: PortLink) -> Initiator:
    return Initiator(link, INITIATOR_MAC)


@pytest.fixture
def logged_in(initiator: Initiator) -> Initiator:
    initiator.login()
    initiator.clear_unit_attention()
    return initiator


@pytest.fixture
def namespace() -> Iterator[NetNamespace]:
    """A network namespace with a veth pair: fc0 (hptd's end) and fc1 (the test's, MAC INITIATOR_MAC)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (not available here)")
    with NetNamespace("hptfc") as ns:
        ns.ip("link", "add", "fc0", "mtu", "9000", "type", "veth", "peer", "name", "fc1", "mtu", "9000")
        ns.ip("link", "set", "fc1", "address", INITIATOR_MAC)
        for dev in ("fc0", "fc1"):
            ns.ip("link", "set", dev, "up")
        yield ns


@pytest.fixture(scope="session")
def capture() -> list[Frame]:
    return list(read_pcap(CAPTURE))
