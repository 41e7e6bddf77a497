"""Microbenchmarks of the hot paths (pytest-benchmark).

Run: ``python -m pytest perf --benchmark-only`` with the end-to-end runs, or ``python -m pytest
perf/bench_micro.py`` alone (they are not part of the test suite). Each has IOPS, MB/s, p99 and CPU per
call in its ``extra_info`` (``perf/micro.py``).
"""

from __future__ import annotations

import struct

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
    (``Connection.take_burst``): headers in, RAM store, 32 Data-In with status out (no sockets).
    Against ``test_read_4k_through_the_core`` (the lane in Python, one command per call), this is the
    batch path the design asks of numba: one call into compiled code per burst, not per command."""
    srv, conn, ini = _server_and_initiator()
    s = conn.session
    burst = bytearray(48 * 32)

    def one() -> int:
        sn = s.exp_cmdsn
        for i in range(32):
            hdr = memoryview(burst)[i * 48:(i + 1) * 48]
            hdr[:] = CMD
            hdr[16:20] = (100 + i).to_bytes(4, "big")
            hdr[24:28] = ((sn + i) & 0xFFFFFFFF).to_bytes(4, "big")
        taken = conn.take_burst(memoryview(burst), 32 * 1024)
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
