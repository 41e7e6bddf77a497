"""A PDU-level iSER initiator for tests: SEND messages with iSER headers, and its memory for RDMA.

The initiator registers each command's buffers under an STag; the target's :class:`RdmaWrite` and
:class:`RdmaRead` requests are carried out against that memory, so tests see the same bytes an HCA would move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import Opcode, Pdu
from hpt.iscsi.rdma import RdmaRead, RdmaWrite, SendPdu
from hpt.iser.header import IserHeader
from tests.iscsi.initiator import Initiator, Reply

BASE_VA = 0x7F00_0000_0000


@dataclass
class Region:
    """One registered initiator buffer: ``data`` lives at virtual address ``va``."""

    va: int
    data: bytearray

    def span(self, va: int, n: int) -> slice:
        start = va - self.va
        assert start >= 0 and start + n <= len(self.data), f"RDMA {n} bytes at {va:#x} outside the region"
        return slice(start, start + n)


@dataclass
class IserInitiator(Initiator):
    """:class:`Initiator` over messages: ``remote`` is the iSER header of the next PDU it sends."""

    conn: Connection
    remote: IserHeader | None = None
    memory: dict[int, Region] = field(default_factory=dict)
    rdma_writes: list[RdmaWrite] = field(default_factory=list)
    rdma_reads: list[RdmaRead] = field(default_factory=list)
    auto_read: bool = True  # carry out RDMA Reads at once; False leaves them in ``held_reads``
    held_reads: list[RdmaRead] = field(default_factory=list)
    _stag: int = 0x100

    def __post_init__(self) -> None:
        super().__init__(self.conn)

    def send(self, hdr: bytearray, data: bytes = b"", ahs: bytes = b"") -> None:
        from hpt.iscsi import pdu as P

        P.set_dsl(hdr, len(data))
        hdr[4] = len(ahs) // 4  # TotalAHSLength in words (RFC 7143 11.2.1.4)
        remote, self.remote = self.remote, None
        self.conn.receive_pdu(bytes(hdr) + ahs, data, remote=remote)
        self.conn.execute_ready()

    def register(self, data: bytes | bytearray) -> tuple[int, int]:
        """A buffer the target may RDMA to or from: its (STag, VA)."""
        self._stag += 1
        va = BASE_VA + self._stag * 0x10_0000
        self.memory[self._stag] = Region(va, bytearray(data))
        return self._stag, va

    def replies(self) -> list[Reply]:
        out: list[Reply] = []
        while True:
            reqs = self.conn.requests()
            self.conn.output_sent()
            if not reqs:
                return out
            for req in reqs:
                if isinstance(req, SendPdu):
                    out.append(self._reply(req))
                elif isinstance(req, RdmaWrite):
                    self.rdma_writes.append(req)
                    region = self.memory[req.stag]
                    buf = self.conn.ring.view(req.slot) if req.task is None else req.task.buf
                    assert buf is not None
                    region.data[region.span(req.va, req.length)] = buf[: req.length]
                    self.conn.release(req)
                    out.append(self._reply(req.response))
                else:
                    self.rdma_reads.append(req)
                    if self.auto_read:
                        self.complete_read(req)
                    else:
                        self.held_reads.append(req)
            self.conn.execute_ready()

    def complete_read(self, req: RdmaRead) -> None:
        region = self.memory[req.stag]
        assert req.task.buf is not None
        req.task.buf[req.offset : req.offset + req.length] = region.data[region.span(req.va, req.length)]
        self.conn.rdma_read_done(req.task)
        self.conn.execute_ready()

    def _reply(self, msg: SendPdu) -> Reply:
        pdu = Pdu(bytes(msg.header))
        data = bytes(msg.data) if msg.data is not None else b""
        assert pdu.dsl == len(data)
        if pdu.opcode in (Opcode.SCSI_RSP, Opcode.LOGIN_RSP, Opcode.TEXT_RSP, Opcode.LOGOUT_RSP,
                          Opcode.TASK_MGMT_RSP, Opcode.REJECT, Opcode.NOP_IN):
            self.expstatsn = (pdu.w24 + 1) & 0xFFFFFFFF
        return Reply(pdu, data)

    # ------------------------------------------------------------------ SCSI with advertised buffers
    def read_cmd(self, cdb: bytes, n: int, **kw: object) -> tuple[list[Reply], bytes]:
        """A read with its buffer registered under a Read STag; returns the replies and the buffer."""
        stag, va = self.register(bytes(n))
        self.remote = IserHeader(read_stag=stag, read_va=va)
        replies = self.scsi(cdb, read=n, **kw)  # type: ignore[arg-type]
        return replies, bytes(self.memory[stag].data)

    def write_cmd(self, cdb: bytes, data: bytes, *, unsolicited: int = 0, **kw: object) -> list[Reply]:
        """A write whose data past ``unsolicited`` bytes is under a Write STag (VA: first solicited byte)."""
        header = IserHeader()
        if unsolicited < len(data):
            stag, va = self.register(data[unsolicited:])
            header = IserHeader(write_stag=stag, write_va=va)
        self.remote = header
        return self.scsi(cdb, write=data, **kw)  # type: ignore[arg-type]
