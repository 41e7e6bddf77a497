"""Just enough of ``hpt.native.verbs`` to drive the iSER endpoint on a host without RDMA: work requests are
recorded by a fake QP and carried out by the test (memory is real: SGE addresses point into mappings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from hpt.native.verbs import RDMA_READ, RDMA_WRITE, SEND, WR

ENUMS = SimpleNamespace(
    IBV_QPS_INIT=1, IBV_QPS_RTR=2, IBV_QPS_RTS=3, IBV_QPS_ERR=6,
    IBV_WR_RDMA_WRITE=RDMA_WRITE, IBV_WR_SEND=SEND, IBV_WR_RDMA_READ=RDMA_READ,
)


class MR:
    """``Device.register(address, length)``."""

    def __init__(self, address: int, length: int) -> None:
        self.length, self.address, self.lkey, self.closed = length, address, 0x77, False

    def close(self) -> None:
        self.closed = True


@dataclass
class SGE:
    addr: int
    length: int
    lkey: int


@dataclass
class RecvWR:
    wr_id: int
    sg: list[SGE]


@dataclass
class SendWR:
    wr_id: int
    opcode: int
    sg: list[SGE]
    signaled: bool
    rkey: int = 0
    remote_addr: int = 0
    next_wr: SendWR | None = None


@dataclass
class QP:
    qp_num: int = 0x11
    recvs: list[RecvWR] = field(default_factory=list)
    sends: list[SendWR] = field(default_factory=list)
    posts: int = 0
    states: list[int] = field(default_factory=list)
    closed: bool = False

    def post_recv(self, base: int, size: int, lkey: int, tag: int, indices: Any) -> int:
        self.recvs += [RecvWR(tag | i, [SGE(base + i * size, size, lkey)]) for i in indices]
        return len(indices)

    def post_send(self, wrs: bytearray, n: int) -> int:
        """Unpack the chain as the C side does (``hv_post_send``)."""
        self.posts += 1
        chain = []
        for wr_id, addr, remote, length, lkey, rkey, op, signaled, _ in WR.iter_unpack(wrs[: n * WR.size]):
            chain.append(SendWR(wr_id, op, [SGE(addr, length, lkey)], bool(signaled), rkey, remote))
        for a, b in zip(chain, chain[1:], strict=False):
            a.next_wr = b
        self.sends += chain
        return n

    def connect(self, cm_id: int, read_depth: int) -> None:
        self.states += [ENUMS.IBV_QPS_INIT, ENUMS.IBV_QPS_RTR, ENUMS.IBV_QPS_RTS]

    def to_error(self) -> None:
        self.states.append(ENUMS.IBV_QPS_ERR)

    def close(self) -> None:
        self.closed = True


class FakeLane:
    """A connection's fast lane (``hpt.native.verbs.Lane``) that never takes anything: the portal's
    hv_serve is not run here, so every command takes the driver's path."""

    outstanding = error = 0

    def __init__(self) -> None:
        self.on = False
        self.closed = False

    def view(self, conn: int, lus: int, nlus: int) -> None:
        self.on = True

    def off(self) -> None:
        self.on = False

    def answered(self) -> int:
        return 0

    def orphans(self) -> list[int]:
        return []

    def close(self) -> None:
        self.closed = True


class FakeVerbs:
    """A device's verbs (``hpt.native.verbs.Device``): registration, queue pairs, lanes."""

    register = MR

    def queue_pair(self, max_send_wr: int, max_recv_wr: int) -> QP:
        return QP()

    def lane(self, qp: QP, *args: object) -> FakeLane:
        return FakeLane()


class FakeCmid:
    """The connection's CMID: disconnect."""

    def __init__(self) -> None:
        self.disconnected = False

    def disconnect(self) -> None:
        self.disconnected = True
