"""Connections dropped on a live hptd in the middle of a command's data: half-way through the Data-Out of
a WRITE (closed or reset) and half-way through the Data-In of a READ. The LU keeps serving, and every
write that was acknowledged before reads back unchanged."""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.lun import encode_lun

from .hptd import Hptd, need, one_lun_config, reset, start_hptd
from .wire import WireInitiator

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:drops"
CONFIG = one_lun_config(IQN, """
store = "file"
path = "{tmp}/disk.img"
size = "64M"
""")
BS = 512
KEPT = 256  # blocks 0..255 hold acknowledged data; the dropped commands go to blocks from 4096
ROUNDS = 12


def rw(op: int, lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def session(port: int, isid: int = 0x23D000000042) -> WireInitiator:
    ini = WireInitiator(port, IQN, isid=isid)
    assert ini.login() == 0
    ini.command(bytes(6), lun=1)  # takes the POWER ON unit attention
    return ini


def drop(sock: socket.socket, rst: bool) -> None:
    if rst:
        reset(sock)
    else:
        sock.close()


def drop_mid_data_out(port: int, rng: random.Random, rst: bool) -> None:
    """A 128 KiB WRITE: 4 KiB immediate, unsolicited Data-Out, then half a PDU and the connection gone
    (or gone already in the immediate data)."""
    ini = session(port, isid=0x23D000000100 + rng.randrange(8))
    total, itt, lba = 128 << 10, 0x777, 4096 + rng.randrange(1000) * 8
    data = rng.randbytes(total)
    hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0x20 | 1, encode_lun(1), itt, w20=total, w24=ini.cmdsn,
                          w28=ini.expstatsn)  # F clear: unsolicited Data-Out follows
    hdr[32:42] = rw(0x2A, lba, total // BS)
    P.set_dsl(hdr, 4096)
    if rng.random() < 0.3:  # cut in the immediate data
        ini.sock.sendall(bytes(hdr) + data[:rng.randrange(1, 4096)])
        drop(ini.sock, rst)
        return
    ini.sock.sendall(bytes(hdr) + data[:4096])
    offset = 4096
    for datasn in range(rng.randrange(0, 6)):
        out = P.initiator_pdu(Opcode.DATA_OUT, 0, encode_lun(1), itt, w20=0xFFFFFFFF, w28=ini.expstatsn,
                              w36=datasn, w40=offset)
        P.set_dsl(out, 4096)
        ini.sock.sendall(bytes(out) + data[offset:offset + 4096])
        offset += 4096
    out = P.initiator_pdu(Opcode.DATA_OUT, 0, encode_lun(1), itt, w20=0xFFFFFFFF, w28=ini.expstatsn,
                          w40=offset)
    P.set_dsl(out, 4096)
    ini.sock.sendall(bytes(out) + data[offset:offset + rng.randrange(1, 4096)])  # cut in its data
    drop(ini.sock, rst)


def drop_mid_data_in(port: int, rng: random.Random, rst: bool) -> None:
    """A 1 MiB READ of which only the first bytes are taken before the connection goes."""
    ini = session(port, isid=0x23D000000200 + rng.randrange(8))
    ini.send(rw(0x28, 0, (1 << 20) // BS), lun=1, read=1 << 20)
    ini.sock.recv(rng.randrange(1, 9000))
    drop(ini.sock, rst)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Hptd]:
    d = start_hptd(tmp_path, CONFIG)
    yield d
    d.stop()


def test_dropped_connections_mid_data_leave_the_lu_serving(daemon: Hptd) -> None:
    seed = int(os.environ.get("HPT_DROP_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    kept = rng.randbytes(KEPT * BS)
    ini = session(daemon.port)
    for lba in range(0, KEPT, 64):  # acknowledged writes, 32 KiB each
        r = ini.command(rw(0x2A, lba, 64), lun=1, write=kept[lba * BS:(lba + 64) * BS])
        assert r.status == 0, r
    ini.close()
    for n in range(ROUNDS):
        drop_mid_data_out(daemon.port, rng, rst=n % 2 == 0)
        drop_mid_data_in(daemon.port, rng, rst=n % 3 == 0)
    assert daemon.alive()
    ini = session(daemon.port)
    got = ini.command(rw(0x28, 0, KEPT), lun=1, read=KEPT * BS)
    assert got.status == 0 and got.data == kept, f"seed {seed}: acknowledged data changed"
    ini.close()
    inq = subprocess.run([need("iscsi-inq", "libiscsi-bin"), daemon.url(IQN)], capture_output=True, text=True,
                         timeout=30)
    assert inq.returncode == 0, inq.stderr
    assert "Traceback" not in daemon.log_text()
