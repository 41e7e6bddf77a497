"""A peer that stops reading stalls only itself (issue 13): one session sends a 64 MiB READ(16) of a
file LUN and does not read the Data-In, so its socket fills; the store engine's completion thread (one
for all of hptd's file LUNs) must not block sending to it, so another session's 4 KiB READs of another
file LUN on the same engine keep completing. Once the first session reads, its READ arrives whole (what
the socket did not take went out from the connection's own thread)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .hptd import Hptd, one_lun_config, reset, start_hptd
from .test_memory_budget import BS, read16
from .wire import WireInitiator

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:undrained"
BIG = 64 << 20  # far more than the socket buffers hold
SERVED_FOR = 6.0  # seconds the second session keeps reading
LATENCY_LIMIT = 3.0  # each of its READs completes within this


def config(engine: str) -> str:
    lun = f'store = "file"\npath = "{{tmp}}/big.img"\nsize = "128M"\nio_engine = "{engine}"'
    return one_lun_config(IQN, lun) + (f'  [[target.lun]]\n  lun = 2\n  store = "file"\n'
                                       f'  path = "{{tmp}}/small.img"\n  size = "64M"\n'
                                       f'  io_engine = "{engine}"\n')


@pytest.fixture(params=["uring", "threads"])
def daemon(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hptd]:
    d = start_hptd(tmp_path, config(request.param))
    yield d
    d.stop()


def session(port: int, isid: int) -> WireInitiator:
    ini = WireInitiator(port, IQN, isid=isid)
    assert ini.login() == 0
    for lun in (1, 2):
        ini.command(bytes(6), lun=lun)  # takes the POWER ON unit attention
    return ini


def test_a_peer_that_does_not_read_stalls_no_other_lun(daemon: Hptd) -> None:
    started = time.monotonic()
    stalled = session(daemon.port, 0x23D000000900)
    stalled.send(read16(0, BIG // BS), lun=1, read=BIG)  # and does not read the Data-In
    time.sleep(1.0)  # its socket fills and the engine's completions for it have nowhere to go
    other = session(daemon.port, 0x23D000000901)
    other.sock.settimeout(LATENCY_LIMIT)
    reads = 0
    slowest = 0.0
    end = time.monotonic() + SERVED_FOR
    while time.monotonic() < end:
        lba = (reads * 8 * 7919) % (64 * 2048 - 8)
        t = time.monotonic()
        rsp = other.command(read16(lba, 8), lun=2, read=8 * BS)  # socket.timeout: the READ stalled
        slowest = max(slowest, time.monotonic() - t)
        assert rsp.status == 0 and len(rsp.data) == 8 * BS
        reads += 1
    print(f"{reads} 4 KiB READs in {SERVED_FOR:g} s beside an undrained 64 MiB READ; slowest {slowest:.3f} s")
    assert slowest < LATENCY_LIMIT
    big = stalled.response()
    assert big.status == 0 and len(big.data) == BIG
    reset(stalled.sock)
    other.close()
    assert daemon.alive()
    assert time.monotonic() - started < 60
