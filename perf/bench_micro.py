"""Microbenchmarks of the hot paths (pytest-benchmark).

Run: ``python -m pytest perf --benchmark-only`` with the end-to-end runs, or ``python -m pytest
perf/bench_micro.py`` alone (they are not part of the test suite). Each has IOPS, MB/s, p99 and CPU per
call in its ``extra_info`` (``perf/micro.py``).
"""

from __future__ import annotations

import struct

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode, Pdu
from hpt.scsi.core.lun import encode_lun
from perf import micro
from perf.runs import Run

LUN1 = encode_lun(1)
CMD = P.initiator_pdu(Opcode.SCSI_CMD, 0xC1, LUN1, 7, w20=4096, w24=1, w28=1)
CMD[32:42] = struct.pack(">BBIBHB", 0x28, 0, 1234, 0, 8, 0)


def test_parse_scsi_command(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    bhs = memoryview(bytes(CMD))

    def parse() -> tuple[int, bytes]:
        p = Pdu(bhs)
        return p.edtl, p.cdb()

    assert micro.run(benchmark, perf_run, parse) == (4096, bytes(CMD[32:48]))


def test_build_data_in(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    hdr = micro.run(benchmark, perf_run, lambda: P.data_in(7, 0x81, 0, LUN1, 5, 2, 130, 0, 0, 0, 4096))
    assert len(hdr) == 48 and hdr[0] == Opcode.DATA_IN


def _server_and_initiator():  # type: ignore[no-untyped-def]
    from hpt.daemon.config import parse_config
    from hpt.daemon.server import Server
    from hpt.iscsi.connection import Connection
    from tests.iscsi.initiator import Initiator

    srv = Server(
        parse_config(
            '[[portal]]\naddress = "127.0.0.1:3260"\n[[target]]\nname = "iqn.2026-11.org.hpt:b"\n'
            '[[target.lun]]\nlun = 1\nstore = "ram"\nsize = "64M"\n'
        )
    )
    conn = Connection(
        srv.context_for(srv.config.portals[0]), srv.ring, peer="127.0.0.1:1", local="127.0.0.1:2"
    )
    ini = Initiator(conn)
    ini.login("iqn.2026-11.org.hpt:b")
    ini.scsi(bytes(6))  # consume the power-on unit attention
    return srv, conn, ini


def test_read_4k_through_the_core(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    """One 4 KiB READ(10): header in, SCSI core, RAM store, Data-In + status out (no sockets)."""
    srv, conn, ini = _server_and_initiator()
    hdr = bytearray(CMD)
    s = conn.session

    def one() -> int:
        hdr[24:28] = s.exp_cmdsn.to_bytes(4, "big")
        buf = conn.expect()
        buf[:48] = hdr
        conn.received(48)
        conn.execute_ready()
        out = conn.data_to_send()
        conn.output_sent()
        return len(out)

    assert micro.run(benchmark, perf_run, one, nbytes=4096) == 2  # header + slot view
    srv.stop()


def test_read_burst_of_32_through_the_c_lane(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    """32 pipelined 4 KiB READ(10)s as one receive brings them, answered by the fast lane in C
    (``Connection.take_burst``): headers in, CmdSN window, LU checks, RAM store, 32 Data-In with
    status out (no sockets). The same burst each call, the session's ExpCmdSN wound back to take it
    as new. Against ``test_read_4k_through_the_core`` (one command per call) and the numba and struct
    batch paths below (``test_read_burst_of_32_numba_batch``)."""
    srv, conn, view, rewind = _lane_burst()

    def one() -> int:
        rewind()
        taken = conn.take_burst(view, 32 * 1024)
        out = conn.data_to_send()
        conn.output_sent()
        return taken // 48 if len(out) == 64 else -1

    assert micro.run(benchmark, perf_run, one, nbytes=32 * 4096, ios=32) == 32
    srv.stop()


def _owner_process(sock: object) -> None:
    """The main process's side of a worker's channel, in a process of its own (``test_owner_round_trip``)."""
    import threading

    from hpt.daemon.workers.channel import Channel
    from hpt.daemon.workers.owner import INLINE, StateOwner

    done = threading.Event()
    owner = StateOwner(lambda _w: None)
    Channel(sock, lambda m, fds: owner.handle(1, m, fds), "owner", on_close=done.set,  # type: ignore[arg-type]
            inline=INLINE).start()
    done.wait(600)


def test_owner_round_trip(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    """What a worker pays to reach the state hptd's main process keeps for every worker (issue 17): one
    read of a LU's shared reservation state over the channel, to another process and back (a PERSISTENT
    RESERVE IN's refresh; a login's TSIH and claim are one such round trip each). The data path never
    makes one: each command's conflict check reads the worker's own copy, which notifications keep current."""
    import multiprocessing

    from hpt.daemon.workers.channel import Channel, channel_pair
    from hpt.daemon.workers.remote import OwnedObject, Watches

    mine, theirs = channel_pair()
    child = multiprocessing.get_context("fork").Process(target=_owner_process, args=(theirs,), daemon=True)
    child.start()
    theirs.close()
    channel = Channel(mine, lambda m, fds: None, "worker")
    channel.start()
    obj = OwnedObject(channel, "iqn.b/1/pr", Watches())
    assert obj.write(b'{"registrations": []}', 0) == 1
    try:
        assert micro.run(benchmark, perf_run, obj.read) == (b'{"registrations": []}', 1)
    finally:
        channel.close()
        child.join(5)


# -- the batch path: numba against struct and against the fast lane in C (issue 17) ---------------------
BURST = 32
BLOCK = 512


def _read_burst() -> bytearray:
    """32 pipelined READ(10)s of 4 KiB as one receive brings them."""
    burst = bytearray()
    for i in range(BURST):
        hdr = bytearray(CMD)
        hdr[16:20] = (100 + i).to_bytes(4, "big")
        hdr[24:28] = (1 + i).to_bytes(4, "big")
        hdr[34:38] = (8 * i).to_bytes(4, "big")
        burst += hdr
    return burst


def _lane_burst():  # type: ignore[no-untyped-def]
    """A logged-in connection, a burst of 32 READs in its CmdSN window, and what winds the session's
    ExpCmdSN back so that the same burst is new at each call."""
    srv, conn, _ini = _server_and_initiator()
    s = conn.session
    burst = _read_burst()
    first = s.exp_cmdsn
    for i in range(BURST):
        burst[i * 48 + 24:i * 48 + 28] = ((first + i) & 0xFFFFFFFF).to_bytes(4, "big")

    def rewind() -> None:
        s.exp_cmdsn = first

    return srv, conn, memoryview(burst), rewind


def _kernels():  # type: ignore[no-untyped-def]
    return pytest.importorskip("perf.batch_kernels", reason="numba is not installed (pip install .[perf])")


def test_batch_decode_numba(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    """Decode the 32 headers and CDBs of a burst in one jitted call (``perf/batch_kernels.py``)."""
    import numpy as np

    k = _kernels()
    burst = np.frombuffer(_read_burst(), dtype=np.uint8)
    rows = np.empty((BURST, k.COLUMNS), dtype=np.int64)
    assert micro.run(benchmark, perf_run, lambda: k.decode_burst(burst, len(burst), 1 << 20, BLOCK, rows),
                     ios=BURST) == (BURST, len(burst))
    assert rows[5].tolist() == [105, 0x28, 40, 8, 0, 0, 1, 6]


def test_batch_decode_struct(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    """The same decode with ``struct``, a command at a time (the Python path's way)."""
    k = _kernels()
    burst = memoryview(_read_burst())
    rows, taken = micro.run(benchmark, perf_run,
                            lambda: k.decode_burst_struct(burst, len(burst), 1 << 20, BLOCK), ios=BURST)
    assert taken == len(burst) and rows[5] == (105, 0x28, 40, 8, 0, 0, 1, 6)


class _Sink:
    """A socket the answers go to, drained by a thread (as an initiator reads them)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.near, self.far = socket.socketpair()
        self.near.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.far.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.got = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        buf = bytearray(1 << 20)
        while n := self.far.recv_into(buf):
            self.got += n

    def close(self) -> None:
        self.near.close()


class _BurstOfReads:
    """One burst of 32 READs, the batch path the issue asks of numba, sent on ``sink``: decode, the
    store's copy into 32 slots (a RAM store), the 32 Data-In headers with status, one ``sendmsg`` of
    header and slot views; the decode and the encode jitted (``with_numba``) or with ``struct``."""

    def __init__(self, sink: _Sink) -> None:
        import numpy as np

        self.sendmsg = sink.near.sendmsg
        self.k = k = _kernels()
        raw = _read_burst()
        self.view = memoryview(raw)
        self.burst = np.frombuffer(raw, dtype=np.uint8)
        self.store = bytearray(64 << 20)
        self.slots = [memoryview(bytearray(4096)) for _ in range(BURST)]
        self.rows = np.empty((BURST, k.COLUMNS), dtype=np.int64)
        self.lun = np.frombuffer(bytes(LUN1), dtype=np.uint8)
        self.hdrs = np.zeros(48 * BURST, dtype=np.uint8)
        self.out = bytearray(48 * BURST)

    def _send(self, rows: list, headers: memoryview) -> int:  # type: ignore[type-arg]
        """What stays in Python per command (the store's copy, the send list), then the send."""
        out: list[memoryview] = []
        store, slots = self.store, self.slots
        for i, (_itt, _op, lba, blocks, _fua, _dpo, _ok, _sn) in enumerate(rows):
            ln = blocks * BLOCK
            slot = slots[i]
            slot[:ln] = store[lba * BLOCK:lba * BLOCK + ln]
            out += (headers[i * 48:i * 48 + 48], slot[:ln])
        return self.sendmsg(out)

    def with_numba(self) -> int:
        k = self.k
        n, _ = k.decode_burst(self.burst, len(self.burst), 1 << 17, BLOCK, self.rows)
        k.encode_data_in(self.rows, n, self.lun, BLOCK, 1, 33, 64, self.hdrs)
        return self._send(self.rows[:n].tolist(), memoryview(self.hdrs.data).cast("B"))

    def with_struct(self) -> int:
        got, _ = self.k.decode_burst_struct(self.view, len(self.view), 1 << 17, BLOCK)
        self.k.encode_data_in_struct(got, bytes(LUN1), BLOCK, 1, 33, 64, self.out)
        return self._send(got, memoryview(self.out))


SENT = BURST * (48 + 4096)  # what a burst's answers are on the wire


def test_read_burst_of_32_sent_by_the_c_lane(benchmark: BenchmarkFixture, perf_run: Run) -> None:
    """The batch path end to end as the TCP driver runs it: 32 READ(10)s of 4 KiB taken by the fast
    lane in C with the connection's socket lent, the answers sent in the same call (GIL released for
    the checks, the reads and the ``sendmsg``), against the numba and struct batch paths below."""
    srv, conn, view, rewind = _lane_burst()
    sink = _Sink()
    fd = sink.near.fileno()

    def one() -> int:
        rewind()
        return conn.take_burst(view, 32 * 1024, fd)

    try:
        assert micro.run(benchmark, perf_run, one, nbytes=BURST * 4096, ios=BURST) == len(view)
    finally:
        sink.close()
        srv.stop()


@pytest.mark.parametrize("way", ["numba", "struct"])
def test_read_burst_of_32_sent_batch(benchmark: BenchmarkFixture, perf_run: Run, way: str) -> None:
    """numba: one jitted decode of the burst, the store's copies and the send list in Python, one
    jitted encode of the 32 Data-In headers, one ``sendmsg`` (no session or LU checks: a lower
    bound); struct: the same, decoding and encoding a command at a time."""
    sink = _Sink()
    try:
        burst = _BurstOfReads(sink)
        run = burst.with_numba if way == "numba" else burst.with_struct
        assert micro.run(benchmark, perf_run, run, nbytes=BURST * 4096, ios=BURST) == SENT
    finally:
        sink.close()
