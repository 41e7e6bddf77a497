"""Just enough of pyverbs' surface to drive the iSER endpoint on a host without RDMA: work requests are
recorded by a fake QP and carried out by the test (memory is real: SGE addresses point into mappings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

ENUMS = SimpleNamespace(
    IBV_ACCESS_LOCAL_WRITE=1, IBV_QPT_RC=2, IBV_QPS_INIT=1, IBV_QPS_RTR=2, IBV_QPS_RTS=3, IBV_QPS_ERR=6,
    IBV_QP_STATE=1, IBV_QP_MAX_QP_RD_ATOMIC=1 << 13, IBV_WR_RDMA_WRITE=0, IBV_WR_SEND=2, IBV_WR_RDMA_READ=4,
    IBV_SEND_SIGNALED=2, IBV_WC_SUCCESS=0,
)


class MR:
    def __init__(self, pd: Any, length: int, access: int, address: int = 0) -> None:
        self.length, self.address, self.lkey, self.closed = length, address, 0x77, False

    def close(self) -> None:
        self.closed = True


@dataclass
class SGE:
    addr: int
    length: int
    lkey: int


class RecvWR:
    def __init__(self, wr_id: int, num_sge: int, sg: list[SGE], next_wr: RecvWR | None = None) -> None:
        self.wr_id, self.sg, self.next_wr = wr_id, sg, next_wr


class SendWR:
    def __init__(self, wr_id: int, opcode: int, num_sge: int, sg: list[SGE], send_flags: int = 2) -> None:
        self.wr_id, self.opcode, self.sg, self.send_flags = wr_id, opcode, sg, send_flags
        self.next_wr: SendWR | None = None
        self.rkey = self.remote_addr = 0

    def set_wr_rdma(self, rkey: int, addr: int) -> None:
        self.rkey, self.remote_addr = rkey, addr


@dataclass
class QP:
    pd: Any
    init: Any
    qp_num: int = 0x11
    recvs: list[RecvWR] = field(default_factory=list)
    sends: list[SendWR] = field(default_factory=list)
    posts: int = 0
    states: list[int] = field(default_factory=list)
    closed: bool = False

    def post_recv(self, wr: RecvWR | None) -> None:
        while wr is not None:
            self.recvs.append(wr)
            wr = wr.next_wr

    def post_send(self, wr: SendWR | None) -> None:
        self.posts += 1
        while wr is not None:
            self.sends.append(wr)
            wr = wr.next_wr

    def modify(self, attr: Any, mask: int) -> None:
        self.states.append(attr.qp_state)

    def close(self) -> None:
        self.closed = True


class FakeCmid:
    """The connection's CMID: the CM's QP attributes for each state, disconnect."""

    def __init__(self) -> None:
        self.disconnected = False

    def init_qp_attr(self, state: int) -> tuple[Any, int]:
        mask = ENUMS.IBV_QP_STATE | ENUMS.IBV_QP_MAX_QP_RD_ATOMIC
        return SimpleNamespace(qp_state=state, max_rd_atomic=0), mask

    def disconnect(self) -> None:
        self.disconnected = True


VERBS = SimpleNamespace(
    enums=ENUMS,
    mr=SimpleNamespace(MR=MR),
    wr=SimpleNamespace(SGE=SGE, RecvWR=RecvWR, SendWR=SendWR),
    qp=SimpleNamespace(QPCap=SimpleNamespace, QPInitAttr=SimpleNamespace, QP=QP, QPAttr=SimpleNamespace),
)
