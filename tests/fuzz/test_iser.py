"""iSER messages into the iSER endpoint (``hpt.iser.endpoint.IserConnection`` over the fake verbs of
tests/iser): an iSER header with any flags, STags and offsets (Hello among them) before any PDU or any
bytes, before and after an iSER login. The initiator side carries out the target's RDMA requests against
buffers it registered and fails those aimed elsewhere, as an HCA would. No exception escapes, and once
the connection has flushed every ring slot is given back."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iser.endpoint import RECV
from hpt.iser.header import Hello
from tests.fuzz import budget
from tests.fuzz.pdus import TAG, pdus
from tests.iser.fake_verbs import ENUMS
from tests.iser.test_connection_iser import CONFIG, ISER_KEYS, TARGET
from tests.iser.test_endpoint import Wire, make_wire

SIZES = st.sampled_from((1, 512, 4096, 65536))


@st.composite
def messages(draw: st.DrawFn, register: Callable[[bytes], tuple[int, int]], cmdsn: int, login: bool) -> bytes:
    """One RECV: an iSER header and a PDU, a Hello, or any bytes."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=96))
    if choice == 1:
        return Hello(draw(st.integers(0, 15)), draw(st.integers(0, 15)), draw(st.integers(0, 65535))).encode()
    flags = draw(st.sampled_from((0x10, 0x18, 0x14, 0x1C))) if choice > 2 else draw(st.integers(0, 255))
    stags = []
    for _ in range(2):
        if draw(st.booleans()):
            stag, va = register(bytes(draw(SIZES)))
            stags.append((stag, va + draw(st.sampled_from((0, 0, 512, -512)))))
        else:
            stags.append((draw(TAG), draw(st.integers(0, 2**64 - 1))))
    (ws, wva), (rs, rva) = stags
    header = bytes((flags, 0, 0, 0)) + ws.to_bytes(4, "big") + (wva % 2**64).to_bytes(8, "big") + \
        rs.to_bytes(4, "big") + (rva % 2**64).to_bytes(8, "big")
    pdu = draw(pdus(cmdsn, login=login))
    return header + pdu.bhs + pdu.ahs + pdu.data


def hca(wire: Wire) -> None:
    """Carry out the work requests the endpoint posted: SENDs are taken, RDMA to a registered buffer is
    done, RDMA anywhere else fails (a remote access error)."""
    qp, ep = wire.ep.qp, wire.ep
    chained = True  # how the RDMA Write before a chained SEND went
    while qp.sends:
        wr = qp.sends.pop(0)
        kind, idx = (wr.wr_id >> 28) & 0xF, wr.wr_id & 0xFFFFFFF
        ok, chained = chained, True
        if wr.opcode in (ENUMS.IBV_WR_RDMA_WRITE, ENUMS.IBV_WR_RDMA_READ):
            buf = wire.memory.get(wr.rkey)
            start = wr.remote_addr - ctypes.addressof(ctypes.c_char.from_buffer(buf)) if buf else -1
            ok = buf is not None and start >= 0 and start + wr.sg[0].length <= len(buf)
            if wr.opcode == ENUMS.IBV_WR_RDMA_WRITE and wr.next_wr is not None:
                chained = ok
                continue  # completes with the SEND chained to it
        ep.completion(kind, idx, ok, 0, "" if ok else "REM_ACCESS_ERR")
        ep.pump()


def flush(server: Server, wire: Wire) -> None:
    ep = wire.ep
    ep.close("test over")
    hca(wire)
    for wr in list(ep.qp.recvs):
        ep.completion(RECV, wr.wr_id & 0xFFFFFFF, False, 0, "WR_FLUSH_ERR")
    assert ep.finished
    ep.destroy()
    assert server.ring.in_use == 0, f"{server.ring.in_use} ring slots not given back"


@budget.fuzz_settings(300)
@given(login=st.booleans(), data=st.data())
def test_iser_messages(login: bool, data: st.DataObject) -> None:
    budget.count("iser")
    server = Server(parse_config(CONFIG))
    try:
        wire = make_wire(server)
        if login:
            assert wire.login(TARGET, ISER_KEYS).pdu.w36 >> 16 == 0 and wire.ep.core.rdma
        for _ in range(data.draw(st.integers(1, 6))):
            if wire.ep.draining or not wire.ep.qp.recvs:
                break
            wire.deliver(data.draw(messages(wire.register, wire.cmdsn, not wire.ep.core.full_feature)))
            hca(wire)
        flush(server, wire)
    finally:
        server.stop()
