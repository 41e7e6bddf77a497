"""A network fuzzer against a live hptd on loopback: mutated PDUs (bytes flipped, cut short, junk
appended) on fresh connections, before any login and after a real one, some connections reset instead
of closed. Bounded in PDUs and in time; afterwards hptd is alive, its log holds no traceback or internal
error, and a fresh login with INQUIRY (libiscsi's iscsi-inq) is served."""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.iscsi.text import encode_text
from hpt.scsi.core.lun import encode_lun

from .hptd import Hptd, need, one_lun_config, reset, start_hptd
from .wire import WireInitiator

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:fuzz"
CONFIG = one_lun_config(IQN, 'store = "ram"\nsize = "16M"', head="[limits]\nlogin_timeout = 5\n")
PDUS = int(os.environ.get("HPT_NETFUZZ_PDUS", "2000"))
SECONDS = float(os.environ.get("HPT_NETFUZZ_SECONDS", "60"))


def wire(hdr: bytearray, data: bytes = b"") -> bytes:
    P.set_dsl(hdr, len(data))
    return bytes(hdr) + data + b"\0" * (-len(data) & 3)


def seeds(ini: WireInitiator) -> list[bytes]:
    """Well-formed PDUs of every initiator kind for this connection's state."""
    itt, sn, exp, lun = ini.itt + 1, ini.cmdsn, ini.expstatsn, encode_lun(1)
    login = [("InitiatorName", ini.name), ("SessionType", "Normal"), ("TargetName", IQN),
             ("AuthMethod", "None")]
    inquiry = P.initiator_pdu(Opcode.SCSI_CMD, 0xC1, lun, itt, w20=96, w24=sn, w28=exp)
    inquiry[32:38] = bytes((0x12, 0, 0, 0, 96, 0))
    write = P.initiator_pdu(Opcode.SCSI_CMD, 0xA1, lun, itt + 1, w20=4096, w24=sn, w28=exp)
    write[32:42] = struct.pack(">BBIBHB", 0x2A, 0, 8, 0, 8, 0)
    return [
        wire(P.initiator_pdu(Opcode.LOGIN_REQ, 0x81, ini.isid.to_bytes(6, "big") + bytes(2), itt, w24=sn,
                             immediate=True), encode_text(login)),
        wire(inquiry),
        wire(write, bytes(512)),
        wire(P.initiator_pdu(Opcode.DATA_OUT, 0x80, lun, itt + 1, w20=1, w28=exp, w40=512), bytes(3584)),
        wire(P.initiator_pdu(Opcode.NOP_OUT, 0x80, lun, itt, w20=0xFFFFFFFF, w24=sn, w28=exp), b"ping"),
        wire(P.initiator_pdu(Opcode.TEXT_REQ, 0x80, bytes(8), itt, w20=0xFFFFFFFF, w24=sn, w28=exp),
             encode_text([("SendTargets", "All")])),
        wire(P.initiator_pdu(Opcode.TASK_MGMT_REQ, 0x80 | 1, lun, itt, w20=itt + 1, w24=sn, w28=exp,
                             immediate=True)),
        wire(P.initiator_pdu(Opcode.TASK_MGMT_REQ, 0x80 | 5, lun, itt, w24=sn, w28=exp, immediate=True)),
        wire(P.initiator_pdu(Opcode.LOGOUT_REQ, 0x80, bytes(8), itt, w24=sn, w28=exp, immediate=True)),
        wire(P.initiator_pdu(Opcode.SNACK_REQ, 0x80, lun, itt, w28=exp)),
    ]


def mutate(rng: random.Random, pdu: bytes) -> bytes:
    out = bytearray(pdu)
    for _ in range(rng.choice((0, 1, 1, 2, 4))):
        at = rng.randrange(48) if rng.random() < 0.8 else rng.randrange(len(out))
        out[at] ^= rng.randrange(1, 256)
    what = rng.random()
    if what < 0.1:
        del out[rng.randrange(1, len(out)):]  # cut short: the rest never comes
    elif what < 0.2:
        out += rng.randbytes(rng.randrange(1, 200))
    return bytes(out)


def drain(sock: socket.socket) -> None:
    sock.settimeout(0.02)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def close(rng: random.Random, sock: socket.socket) -> None:
    if rng.random() < 0.3:  # reset rather than close
        reset(sock)
    else:
        sock.close()


def fuzz(port: int, rng: random.Random) -> tuple[int, int]:
    """Send mutated PDUs until PDUS have gone or SECONDS have passed; (PDUs, connections)."""
    sent = conns = 0
    end = time.monotonic() + SECONDS
    while sent < PDUS and time.monotonic() < end:
        conns += 1
        ini = WireInitiator(port, IQN, name=f"iqn.2026-11.org.hpt.test:fuzz{conns % 4}",
                            isid=0x23D000000000 + rng.randrange(4))
        try:
            if rng.random() < 0.6:
                ini.sock.settimeout(10)
                ini.login()
            for _ in range(rng.randint(1, 8)):
                ini.sock.sendall(mutate(rng, rng.choice(seeds(ini))))
                sent += 1
            drain(ini.sock)
        except OSError:
            pass  # the target closed the connection: what a broken peer deserves
        close(rng, ini.sock)
    return sent, conns


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Hptd]:
    d = start_hptd(tmp_path, CONFIG)
    yield d
    d.stop()


def test_mutated_pdus_before_and_after_login(daemon: Hptd) -> None:
    inq = need("iscsi-inq", "libiscsi-bin")
    seed = int(os.environ.get("HPT_NETFUZZ_SEED", random.randrange(2**32)))
    sent, conns = fuzz(daemon.port, random.Random(seed))
    print(f"network fuzz: seed {seed}, {sent} PDUs on {conns} connections")
    assert daemon.alive(), f"hptd died (seed {seed}):\n{daemon.log_text()[-4000:]}"
    done = subprocess.run([inq, daemon.url(IQN)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "Vendor:HPT" in done.stdout, f"seed {seed}: {done.stderr}"
    log = daemon.log_text()
    for bad in ("Traceback", "internal error"):
        assert bad not in log, f"seed {seed}: {bad} in hptd's log:\n{log[log.index(bad) - 2000:][:6000]}"
