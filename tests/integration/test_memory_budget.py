"""Memory an initiator can make hptd hold ([limits] session_memory, total_memory): three sessions each
send one 1 GiB READ(16) of a sparse 1 GiB+ file LUN and never read the Data-In, and one session sends a
1 GiB WRITE(16) and no data. hptd streams the READs in pieces and paces the WRITE by R2T, so its
resident memory grows by far less than the transfers; once the connections are gone a fresh session
is served (issue 13)."""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.lun import encode_lun

from .hptd import Hptd, one_lun_config, reset, start_hptd
from .wire import WireInitiator

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:memory"
CONFIG = one_lun_config(IQN, """
store = "file"
path = "{tmp}/big.img"
size = "1100M"
""")
GIB = 1 << 30
BS = 512
GROWTH_LIMIT = 512 << 20  # the bound for three undrained 1 GiB READs


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (/proc/PID/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read16(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBQIBB", 0x88, 0, lba, blocks, 0, 0)


def write16(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBQIBB", 0x8A, 0, lba, blocks, 0, 0)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Hptd]:
    d = start_hptd(tmp_path, CONFIG)
    yield d
    d.stop()


def session(port: int, isid: int) -> WireInitiator:
    ini = WireInitiator(port, IQN, isid=isid)
    assert ini.login() == 0
    ini.command(bytes(6), lun=1)  # takes the POWER ON unit attention
    return ini


def settle(pid: int, seconds: float) -> int:
    """hptd's largest RSS seen over ``seconds`` (it may still be filling buffers)."""
    top = rss(pid)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.25)
        top = max(top, rss(pid))
    return top


def test_undrained_reads_and_dataless_write_hold_bounded_memory(daemon: Hptd) -> None:
    started = time.monotonic()
    pid = daemon.proc.pid
    warm = session(daemon.port, 0x23D000000200)
    assert warm.command(read16(0, 8), lun=1, read=8 * BS).status == 0
    base = rss(pid)
    readers = []
    for i in range(3):
        ini = session(daemon.port, 0x23D000000300 + i)
        ini.send(read16(0, GIB // BS), lun=1, read=GIB)  # and never read the Data-In
        readers.append(ini)
    writer = session(daemon.port, 0x23D000000400)
    itt = 0x4242
    hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0x80 | 0x20 | 1, encode_lun(1), itt, w20=GIB, w24=writer.cmdsn,
                          w28=writer.expstatsn)  # F set, no immediate data: everything by R2T
    hdr[32:48] = write16(8, GIB // BS)
    writer.sock.sendall(bytes(hdr))
    top = settle(pid, 8)
    growth = top - base
    print(f"hptd RSS {base >> 20} MiB before, {top >> 20} MiB at most after three undrained 1 GiB READs "
          f"and a 1 GiB WRITE without data: +{growth >> 20} MiB")
    assert growth < GROWTH_LIMIT
    for ini in [*readers, writer]:
        reset(ini.sock)
    warm.close()
    fresh = session(daemon.port, 0x23D000000500)
    assert fresh.command(bytes((0x12, 0, 0, 0, 36, 0)), lun=1, read=36).status == 0
    rsp = fresh.command(read16(0, 2048), lun=1, read=2048 * BS)
    assert rsp.status == 0 and len(rsp.data) == 2048 * BS
    fresh.close()
    assert daemon.alive()
    assert time.monotonic() - started < 60


def test_streamed_write_and_read_round_trip_on_a_file_lun(daemon: Hptd) -> None:
    """A 6 MiB WRITE(16) answered R2T by R2T, then READ(16) of it: the bytes come back (the pieces go
    through the file store's asynchronous submit)."""
    ini = session(daemon.port, 0x23D000000600)
    payload = random.Random(13).randbytes(6 << 20)
    itt = 0x600
    hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0x80 | 0x20 | 1, encode_lun(1), itt, w20=len(payload),
                          w24=ini.cmdsn, w28=ini.expstatsn)
    hdr[32:48] = write16(4096, len(payload) // BS)
    ini.cmdsn += 1
    ini.sock.sendall(bytes(hdr))
    while True:
        rsp, _ = ini._recv()
        if rsp[0] & 0x3F == Opcode.SCSI_RSP:
            assert rsp[3] == 0
            break
        assert rsp[0] & 0x3F == Opcode.R2T
        ttt, offset, length = struct.unpack_from(">I", rsp, 20)[0], *struct.unpack_from(">II", rsp, 40)
        seg = 8192
        for datasn, off in enumerate(range(offset, offset + length, seg)):
            n = min(seg, offset + length - off)
            out = P.initiator_pdu(Opcode.DATA_OUT, 0x80 if off + n == offset + length else 0, encode_lun(1),
                                  itt, w20=ttt, w28=ini.expstatsn, w36=datasn, w40=off)
            P.set_dsl(out, n)
            ini.sock.sendall(bytes(out) + payload[off:off + n])
    got = ini.command(read16(4096, len(payload) // BS), lun=1, read=len(payload))
    assert got.status == 0 and got.data == payload
    ini.close()


def test_many_dataless_writes_hold_bounded_mappings(daemon: Hptd) -> None:
    """One session sends 400 WRITE(16)s of 1 GiB and no data (the issue saw 65,000 mappings from
    70,000): beyond the LU's queue depth they end in TASK SET FULL, so hptd's mappings and memory stay
    bounded."""
    pid = daemon.proc.pid
    maps_before = len(Path(f"/proc/{pid}/maps").read_text().splitlines())
    base = rss(pid)
    ini = session(daemon.port, 0x23D000000800)
    for i in range(400):
        hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0x80 | 0x20 | 1, encode_lun(1), 0x1000 + i, w20=GIB,
                              w24=ini.cmdsn, w28=ini.expstatsn)
        hdr[32:48] = write16(8, GIB // BS)
        ini.cmdsn += 1
        ini.sock.sendall(bytes(hdr))
    time.sleep(2)
    maps = len(Path(f"/proc/{pid}/maps").read_text().splitlines())
    print(f"400 dataless 1 GiB WRITEs: +{maps - maps_before} mappings, +{(rss(pid) - base) >> 20} MiB RSS")
    assert maps - maps_before < 300 and rss(pid) - base < GROWTH_LIMIT
    reset(ini.sock)
    fresh = session(daemon.port, 0x23D000000900)
    assert fresh.command(bytes((0x12, 0, 0, 0, 36, 0)), lun=1, read=36).status == 0
    fresh.close()
