"""hptd with ``workers = 2`` under ``[daemon]``: the main process accepts the TCP connections and hands
each to the worker process with the fewest connections; the workers serve the same file LU, share
persistent reservations, a LOGICAL UNIT RESET's unit attentions, ALUA states and the session table
(reinstatement) through the main process; a worker killed with SIGKILL is restarted while the other keeps
serving; SIGTERM stops them all; a ram LU is one memfd every worker maps; bad ``workers`` values, and
what one process must keep (a changer, a tape drive, an iSER portal), are refused with exit status 2.
The workers' indices and pids come from the main process's log lines (``worker N (pid P): connection
from 127.0.0.1:PORT``, ``worker N started``)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hpt.admin.client import AdminError, Client
from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.lun import encode_lun

from .hptd import REPO, Hptd, free_port, hptadm, one_lun_config, request_status, start_hptd
from .wire import Response, WireInitiator, luns_of, report_luns, tur, write10

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:workers"
FILE_LUN = """
store = "file"
path = "{tmp}/disk.img"
size = "64M"
"""
CONFIG = one_lun_config(IQN, FILE_LUN, head="[daemon]\nworkers = 2\n")
NAME_A, ISID_A = "iqn.2026-11.org.hpt.test:workers-a", 0x23D000000101
NAME_B, ISID_B = "iqn.2026-11.org.hpt.test:workers-b", 0x23D000000102

CONNECTION = re.compile(r"worker (\d+) \(pid (\d+)\): connection from 127\.0\.0\.1:(\d+)")
STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")
EXITED = re.compile(r"worker (\d+) \(pid (\d+)\) exited with (.+?); restarting")

GOOD, CHECK_CONDITION, RESERVATION_CONFLICT = 0x00, 0x02, 0x18
BLOCKS = 8  # blocks per write in the kill -9 test


def wait_for(what: str, probe: Callable[[], object], timeout: float = 20.0) -> object:
    """Poll ``probe`` until it returns something true (returned), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 1):
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def started(d: Hptd) -> list[tuple[int, int]]:
    """(index, pid) of every ``worker N started (pid P)`` line, in log order."""
    return [(int(m[1]), int(m[2])) for m in STARTED.finditer(d.log_text())]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Hptd]:
    with (tmp_path / "disk.img").open("wb") as f:  # made here: test_a_new_file_is_created_once makes its own
        f.truncate(64 << 20)
    d = start_hptd(tmp_path, CONFIG)
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        yield d
    finally:
        d.stop()
        log = d.log_text()
        assert "Traceback" not in log, log[-4000:]


def worker_of(d: Hptd, ini: WireInitiator) -> tuple[int, int]:
    """(index, pid) of the worker the main process handed ``ini``'s connection to, from its log line."""
    port = ini.sock.getsockname()[1]

    def find() -> tuple[int, int] | None:
        for m in CONNECTION.finditer(d.log_text()):
            if int(m[3]) == port:
                return int(m[1]), int(m[2])
        return None

    found = wait_for(f"a 'worker N (pid P): connection from 127.0.0.1:{port}' line", find, 10.0)
    assert isinstance(found, tuple)
    return found


def past_attentions(ini: WireInitiator) -> None:
    """TEST UNIT READY until GOOD (past the power-on and other unit attentions), at most 5 times."""
    r = None
    for _ in range(5):
        r = ini.command(tur(), lun=1)
        if r.status == GOOD:
            return
        assert r.status == CHECK_CONDITION and r.sense_key_asc[0] == 6, r
    raise AssertionError(f"TEST UNIT READY still not GOOD after 5 tries: {r}")


def session(d: Hptd, name: str, isid: int) -> WireInitiator:
    ini = WireInitiator(d.port, IQN, name=name, isid=isid)
    status = ini.login()
    assert status == 0, f"login of {name} failed with status {status:#06x}"
    past_attentions(ini)
    return ini


def close_all(*inis: WireInitiator | None) -> None:
    """Close each session's connection (None: it was never opened)."""
    for ini in inis:
        if ini is not None:
            ini.close()


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10_fua(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0x08, lba, 0, blocks, 0)


def block_size(ini: WireInitiator) -> int:
    """The LU's logical block size (READ CAPACITY(10))."""
    r = ini.command(bytes([0x25]) + bytes(9), lun=1, read=8)
    assert r.status == GOOD and len(r.data) == 8, r
    return int(struct.unpack_from(">I", r.data, 4)[0])


def pattern(tag: int, seq: int, size: int) -> bytes:
    return struct.pack(">QQ", tag, seq) * (size // 16)


def pr_out(action: int, key: int, sa_key: int = 0, kind: int = 0) -> tuple[bytes, bytes]:
    """PERSISTENT RESERVE OUT (SPC-5 6.16): CDB and basic parameter list (scope LU_SCOPE)."""
    params = struct.pack(">QQ4xB3x", key, sa_key, 0)
    return struct.pack(">BBBxxIB", 0x5F, action, kind, len(params), 0), params


REGISTER, RESERVE, RELEASE, CLEAR = 0, 1, 2, 3
WRITE_EXCLUSIVE = 1


def read_keys(ini: WireInitiator) -> list[int]:
    """PERSISTENT RESERVE IN, READ KEYS (SPC-5 6.15.2): the registered keys."""
    r = ini.command(struct.pack(">BBxxxxxHB", 0x5E, 0, 4096, 0), lun=1, read=4096)
    assert r.status == GOOD, r
    n = struct.unpack_from(">I", r.data, 4)[0] // 8
    return [struct.unpack_from(">Q", r.data, 8 + 8 * i)[0] for i in range(n)]


def read_reservation(ini: WireInitiator) -> tuple[int, int] | None:
    """PERSISTENT RESERVE IN, READ RESERVATION (6.15.3): (key, type) of the reservation, if any."""
    r = ini.command(struct.pack(">BBxxxxxHB", 0x5E, 1, 4096, 0), lun=1, read=4096)
    assert r.status == GOOD, r
    if struct.unpack_from(">I", r.data, 4)[0] == 0:
        return None
    return struct.unpack_from(">Q", r.data, 8)[0], r.data[21] & 0x0F


def closed_by_target(ini: WireInitiator, timeout: float) -> str:
    """Read ``ini``'s socket until the target closes it: how it ended (``"EOF"``, the reset's exception,
    or ``"open"`` when it was still open after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    for _ in range(10_000):
        left = deadline - time.monotonic()
        if left <= 0:
            return "open"
        ini.sock.settimeout(left)
        try:
            if not ini.sock.recv(65536):
                return "EOF"
        except TimeoutError:
            return "open"
        except ConnectionError as e:
            return type(e).__name__
    return "open"


def pdus_until_closed(ini: WireInitiator, timeout: float) -> tuple[list[bytes], str]:
    """The PDU headers ``ini`` receives until the target closes its connection, and how it ended."""
    headers: list[bytes] = []
    ini.sock.settimeout(timeout)
    for _ in range(1000):
        try:
            hdr, _ = ini._recv()
        except TimeoutError:
            return headers, "open"
        except ConnectionError as e:
            return headers, type(e).__name__
        headers.append(hdr)
    return headers, "too many PDUs"


def gone(pid: int) -> bool:
    """The process no longer exists (or is a zombie nobody reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_sessions_spread_over_two_workers_and_see_the_same_data(daemon: Hptd) -> None:
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    try:
        (index_a, pid_a), (index_b, pid_b) = worker_of(daemon, a), worker_of(daemon, b)
        assert index_a != index_b and pid_a != pid_b, daemon.log_text()[-3000:]
        assert {index_a, index_b} == {1, 2}
        assert daemon.proc.pid not in (pid_a, pid_b)
        assert (index_a, pid_a) in started(daemon) and (index_b, pid_b) in started(daemon)
        bs = block_size(a)
        assert block_size(b) == bs
        one = os.urandom(8 * bs)
        assert a.command(write10(100, 8), lun=1, write=one).status == GOOD
        r = b.command(read10(100, 8), lun=1, read=8 * bs)
        assert r.status == GOOD and r.data == one, r.status
        other = os.urandom(4 * bs)
        assert b.command(write10(102, 4), lun=1, write=other).status == GOOD
        r = a.command(read10(100, 8), lun=1, read=8 * bs)
        assert r.status == GOOD and r.data == one[: 2 * bs] + other + one[6 * bs :], r.status
        # SIGUSR1's report as one process gives it, with each worker's share
        status = request_status(daemon.proc, daemon.log)
        assert status["portals"] == [{"address": f"127.0.0.1:{daemon.port}", "transport": "tcp", "group": 1}]
        assert sorted(s["initiator"] for s in status["sessions"]) == [NAME_A, NAME_B]
        assert status["fcoe_ports"] == []
        assert sorted((w["index"], w["sessions"]) for w in status["workers"]) == [(1, 1), (2, 1)]
    finally:
        close_all(a, b)


def test_reservation_through_one_worker_is_enforced_through_the_other(daemon: Hptd) -> None:
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    try:
        assert worker_of(daemon, a)[1] != worker_of(daemon, b)[1]
        bs = block_size(a)
        key = 0xA11CE
        cdb, params = pr_out(REGISTER, 0, key)
        assert a.command(cdb, lun=1, write=params).status == GOOD
        cdb, params = pr_out(RESERVE, key, kind=WRITE_EXCLUSIVE)
        assert a.command(cdb, lun=1, write=params).status == GOOD
        assert read_keys(b) == [key]
        assert read_reservation(b) == (key, WRITE_EXCLUSIVE)
        refused = b.command(write10(300, 1), lun=1, write=bytes(bs))
        assert refused.status == RESERVATION_CONFLICT, refused
        assert b.command(read10(300, 1), lun=1, read=bs).status == GOOD  # Write Exclusive: reads allowed
        assert a.command(write10(300, 1), lun=1, write=b"\xaa" * bs).status == GOOD  # the holder writes

        cdb, params = pr_out(RELEASE, key, kind=WRITE_EXCLUSIVE)
        assert a.command(cdb, lun=1, write=params).status == GOOD
        assert read_reservation(b) is None
        r = b.command(write10(300, 1), lun=1, write=b"\xbb" * bs)
        assert r.status == GOOD, r

        cdb, params = pr_out(RESERVE, key, kind=WRITE_EXCLUSIVE)
        assert a.command(cdb, lun=1, write=params).status == GOOD
        refused = b.command(write10(301, 1), lun=1, write=bytes(bs))
        assert refused.status == RESERVATION_CONFLICT, refused
        cdb, params = pr_out(CLEAR, key)
        assert a.command(cdb, lun=1, write=params).status == GOOD
        assert read_keys(b) == [] and read_reservation(b) is None
        r = b.command(write10(301, 1), lun=1, write=b"\xcc" * bs)
        assert r.status == GOOD, r
        r = a.command(read10(300, 2), lun=1, read=2 * bs)
        assert r.status == GOOD and r.data == b"\xbb" * bs + b"\xcc" * bs, r.status
    finally:
        close_all(a, b)


def test_reservation_outlives_the_worker_that_took_it(daemon: Hptd) -> None:
    """The main process keeps the reservation: after kill -9 of the worker A's nexus was on, B is still
    refused, and A (logging in again with the same name and ISID, the same I_T nexus) still holds it."""
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    again = None
    try:
        (index_a, pid_a), (_, pid_b) = worker_of(daemon, a), worker_of(daemon, b)
        assert pid_a != pid_b
        bs = block_size(a)
        key = 0xB0B
        for action, kind, k, sa_key in ((REGISTER, 0, 0, key), (RESERVE, WRITE_EXCLUSIVE, key, 0)):
            cdb, params = pr_out(action, k, sa_key, kind)
            assert a.command(cdb, lun=1, write=params).status == GOOD
        os.kill(pid_a, signal.SIGKILL)
        assert closed_by_target(a, 10.0) != "open", (
            "A's connection still open 10 s after its worker's kill -9"
        )
        assert read_keys(b) == [key]
        assert read_reservation(b) == (key, WRITE_EXCLUSIVE)
        refused = b.command(write10(700, 1), lun=1, write=bytes(bs))
        assert refused.status == RESERVATION_CONFLICT, refused
        wait_for(
            f"worker {index_a} restarted",
            lambda: any(i == index_a and p != pid_a for i, p in started(daemon)),
        )
        again = session(daemon, NAME_A, ISID_A)
        assert again.command(write10(700, 1), lun=1, write=b"\xdd" * bs).status == GOOD  # still the holder
        cdb, params = pr_out(CLEAR, key)
        assert again.command(cdb, lun=1, write=params).status == GOOD
        r = b.command(write10(701, 1), lun=1, write=b"\xee" * bs)
        assert r.status == GOOD, r
        r = b.command(read10(700, 2), lun=1, read=2 * bs)
        assert r.status == GOOD and r.data == b"\xdd" * bs + b"\xee" * bs
    finally:
        close_all(a, b, again)


def test_reinstatement_across_workers(daemon: Hptd) -> None:
    first = session(daemon, NAME_A, ISID_A)
    second = None
    try:
        index_1, pid_1 = worker_of(daemon, first)
        second = WireInitiator(daemon.port, IQN, name=NAME_A, isid=ISID_A)
        index_2, pid_2 = worker_of(daemon, second)
        assert index_2 != index_1 and pid_2 != pid_1, daemon.log_text()[-3000:]
        status = second.login()
        assert status == 0, f"reinstating login failed with status {status:#06x}"
        ended = closed_by_target(first, 10.0)
        assert ended != "open", "the reinstated session's connection is still open 10 s after the new login"
        past_attentions(second)
        bs = block_size(second)
        data = os.urandom(4 * bs)
        assert second.command(write10(500, 4), lun=1, write=data).status == GOOD
        r = second.command(read10(500, 4), lun=1, read=4 * bs)
        assert r.status == GOOD and r.data == data
    finally:
        close_all(first, second)


def lu_reset(ini: WireInitiator) -> int:
    """LOGICAL UNIT RESET of LUN 1 (a Task Management Function Request, RFC 7143 11.5); its response."""
    ini.itt += 1
    hdr = P.initiator_pdu(
        Opcode.TASK_MGMT_REQ,
        0x80 | 5,
        encode_lun(1),
        ini.itt,
        w20=0xFFFFFFFF,
        w24=ini.cmdsn,
        w28=ini.expstatsn,
        immediate=True,
    )
    ini._send(hdr)
    for _ in range(100):
        rsp, _ = ini._recv()
        if rsp[0] & 0x3F == Opcode.TASK_MGMT_RSP:
            return rsp[2]
    raise AssertionError("no Task Management Function Response among 100 PDUs")


def test_lu_reset_through_one_worker_reaches_the_other(daemon: Hptd) -> None:
    """The unit attention of a LOGICAL UNIT RESET through A's worker reaches B's nexus on the other
    worker (SAM-5 5.12: BUS DEVICE RESET FUNCTION OCCURRED for every I_T nexus)."""
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    try:
        assert worker_of(daemon, a)[1] != worker_of(daemon, b)[1]
        assert lu_reset(a) == 0  # function complete
        r = b.command(tur(), lun=1)
        assert r.status == CHECK_CONDITION and r.sense_key_asc == (6, 0x29, 0x03), r
        assert b.command(tur(), lun=1).status == GOOD
    finally:
        close_all(a, b)


def rtpg() -> bytes:
    return struct.pack(">BBxxxxIxB", 0xA3, 0x0A, 4096, 0)


def group_states(data: bytes) -> list[tuple[int, int]]:
    """(group, state) of each REPORT TARGET PORT GROUPS descriptor (SPC-5 6.36.2)."""
    out, off = [], 4
    for _ in range(64):
        if off >= len(data):
            break
        out.append((struct.unpack_from(">H", data, off + 2)[0], data[off] & 0x0F))
        off += 8 + 4 * data[off + 7]
    return out


def test_alua_state_set_through_one_worker_reaches_the_other(tmp_path: Path) -> None:
    """Two portal groups of one hptd with two workers: SET TARGET PORT GROUPS through A (group 1, one
    worker) puts group 2 in standby for B (group 2, the other worker)."""
    port2 = free_port()
    config = (
        f'[daemon]\nworkers = 2\n\n[[portal]]\naddress = "127.0.0.1:{{port}}"\n\n[[portal]]\n'
        f'address = "127.0.0.1:{port2}"\ngroup = 2\n\n[[target]]\nname = "{IQN}"\nalua_explicit = true\n'
        f'  [[target.lun]]\n  lun = 1\n  store = "file"\n  path = "{{tmp}}/disk.img"\n  size = "64M"\n'
    )
    d = start_hptd(tmp_path, config)
    a = b = None
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        a = session(d, NAME_A, ISID_A)
        b = WireInitiator(port2, IQN, name=NAME_B, isid=ISID_B)
        assert b.login() == 0
        past_attentions(b)
        assert worker_of(d, a)[1] != worker_of(d, b)[1]
        assert group_states(b.command(rtpg(), lun=1, read=4096).data) == [(1, 0), (2, 0)]
        descriptors = struct.pack(">4xBxHBxH", 0, 1, 2, 2)  # group 1 active/optimized, group 2 standby
        cdb = struct.pack(">BBxxxxIxB", 0xA4, 0x0A, len(descriptors), 0)
        r = a.command(cdb, lun=1, write=descriptors)
        assert r.status == GOOD, r
        changed = b.command(tur(), lun=1)  # ASYMMETRIC ACCESS STATE CHANGED (SPC-5 5.16.2.6)
        assert changed.status == CHECK_CONDITION and changed.sense_key_asc == (6, 0x2A, 0x06), changed
        assert group_states(b.command(rtpg(), lun=1, read=4096).data) == [(1, 0), (2, 2)]
        bs = block_size(a)
        refused = b.command(read10(0, 1), lun=1, read=bs)
        assert refused.status == CHECK_CONDITION and refused.sense_key_asc == (2, 0x04, 0x0B), refused
        assert a.command(read10(0, 1), lun=1, read=bs).status == GOOD
    finally:
        for ini in (a, b):
            if ini is not None:
                ini.close()
        d.stop()
    log = d.log_text()
    assert "Traceback" not in log, log[-4000:]


def caching_page(ini: WireInitiator) -> bytes:
    """The current caching mode page (MODE SENSE(6), DBD)."""
    r = ini.command(bytes((0x1A, 0x08, 0x08, 0, 255, 0)), lun=1, read=255)
    assert r.status == GOOD, r
    return r.data[4:4 + 2 + r.data[5]]


def test_mode_select_through_one_worker_reaches_the_other(daemon: Hptd) -> None:
    """The write cache turned off by MODE SELECT through one worker is off for the other's session,
    which gets MODE PARAMETERS CHANGED first (SPC-5 6.13)."""
    a = b = None
    try:
        a, b = session(daemon, NAME_A, ISID_A), session(daemon, NAME_B, ISID_B)
        assert worker_of(daemon, a)[1] != worker_of(daemon, b)[1]
        page = bytearray(caching_page(a))
        assert page[2] & 0x04  # WCE on by default
        page[0] &= 0x7F  # PS is reserved in MODE SELECT
        page[2] &= ~0x04
        body = bytes(4) + bytes(page)
        assert a.command(bytes((0x15, 0x10, 0, 0, len(body), 0)), lun=1, write=body).status == GOOD
        changed = b.command(tur(), lun=1)
        assert changed.status == CHECK_CONDITION and changed.sense_key_asc == (6, 0x2A, 0x01), changed
        assert not caching_page(b)[2] & 0x04
    finally:
        close_all(a, b)


def test_sessions_per_initiator_are_counted_over_the_workers(tmp_path: Path) -> None:
    """limits.max_sessions_per_initiator = 1: the initiator's second session, handed to the other
    worker, is refused with 0302 (out of resources) as one process would refuse it."""
    head = "[daemon]\nworkers = 2\n\n[limits]\nmax_sessions_per_initiator = 1\n"
    d = start_hptd(tmp_path, one_lun_config(IQN, FILE_LUN, head=head))
    a = b = None
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        a = session(d, NAME_A, ISID_A)
        b = WireInitiator(d.port, IQN, name=NAME_A, isid=ISID_B)
        assert b.login() == 0x0302
        assert worker_of(d, a)[1] != worker_of(d, b)[1]
        assert a.command(tur(), lun=1).status == GOOD
    finally:
        close_all(a, b)
        d.stop()
    assert "Traceback" not in d.log_text()


def test_connection_limits_are_counted_over_the_workers(tmp_path: Path) -> None:
    """max_connections_per_address = 3 with two workers: the 4th connection from one address sheds the
    oldest one still logging in, on whichever worker it is; once 3 sessions are logged in, a 4th
    connection is refused (counted per worker, 6 would get in)."""
    head = "[daemon]\nworkers = 2\n\n[limits]\nlogin_timeout = 60\nmax_connections_per_address = 3\n"
    d = start_hptd(tmp_path, one_lun_config(IQN, FILE_LUN, head=head))
    silent: list[socket.socket] = []
    inis: list[WireInitiator] = []
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        silent = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(4)]
        assert silent[0].recv(1) == b""  # the oldest, shed for the 4th
        wait_for("the shed line", lambda: "connection limit" in d.log_text())
        for sock in silent[1:]:
            sock.close()
        wait_for("the silent connections gone", lambda: d.log_text().count("closing") >= 4)
        for i in range(3):
            ini = WireInitiator(d.port, IQN, name=f"{NAME_A}{i}", isid=ISID_A + i)
            assert ini.login() == 0
            inis.append(ini)
            past_attentions(ini)  # past the login: the worker has told the main process
        refused = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            assert refused.recv(1) == b""  # closed at once: 3 logged in, none to shed
        finally:
            refused.close()
        wait_for("the refusal line", lambda: "refused: 3 connections" in d.log_text())
        assert all(ini.command(tur(), lun=1).status == GOOD for ini in inis)
    finally:
        close_all(*inis)
        for sock in silent:
            sock.close()
        d.stop()
    assert "Traceback" not in d.log_text()


class Writer(threading.Thread):
    """Writes BLOCKS-block pieces one after another over ``slots`` pieces from ``base`` (round and round;
    FUA when asked), each a distinct pattern, until ``stop``, ``limit`` writes, ``seconds``, a status other
    than GOOD or an exception; ``acked``: the last acknowledged data of each piece, ``writes`` counts."""

    def __init__(
        self,
        ini: WireInitiator,
        base: int,
        tag: int,
        bs: int,
        stop: threading.Event,
        fua: bool,
        slots: int,
        limit: int = 20_000,
        seconds: float = 40.0,
    ) -> None:
        super().__init__(daemon=True)
        self.ini, self.base, self.tag, self.bs, self.stop, self.fua = ini, base, tag, bs, stop, fua
        self.slots, self.limit, self.seconds = slots, limit, seconds
        self.acked: dict[int, bytes] = {}
        self.writes = 0
        self.refused: Response | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        try:
            for seq in range(self.limit):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                lba = self.base + seq % self.slots * BLOCKS
                data = pattern(self.tag, seq, BLOCKS * self.bs)
                cdb = write10_fua(lba, BLOCKS) if self.fua else write10(lba, BLOCKS)
                r = self.ini.command(cdb, lun=1, write=data)
                if r.status != GOOD:
                    self.refused = r
                    return
                self.acked[lba] = data
                self.writes += 1
        except BaseException as e:
            self.error = e

    def outcome(self) -> str:
        return f"{self.writes} writes, error {self.error!r}, refused {self.refused}"


def unread(ini: WireInitiator, acked: dict[int, bytes], bs: int) -> list[int]:
    """LBAs of ``acked`` whose data does not read back through ``ini``."""
    bad = []
    for lba, data in sorted(acked.items()):
        r = ini.command(read10(lba, BLOCKS), lun=1, read=BLOCKS * bs)
        if r.status != GOOD or r.data != data:
            bad.append(lba)
    return bad


def on_worker(d: Hptd, pid: int, attempts: int = 20) -> WireInitiator:
    """A new session (initiator name workers-probe) whose connection was handed to worker ``pid``: new
    connections until one is (a restarted worker gets connections once it is ready), each a few tenths of
    a second apart, at most ``attempts``."""
    seen = []
    for n in range(attempts):
        ini = session(d, "iqn.2026-11.org.hpt.test:workers-probe", 0x23D000000200 + n)
        handed = worker_of(d, ini)
        if handed[1] == pid:
            return ini
        seen.append(handed)
        ini.close()
        time.sleep(0.3)
    raise AssertionError(f"no connection of {attempts} went to worker pid {pid}: {seen}")


def test_kill_9_of_one_worker_mid_io(daemon: Hptd) -> None:
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    again = None
    try:
        (index_a, pid_a), (_, pid_b) = worker_of(daemon, a), worker_of(daemon, b)
        assert pid_a != pid_b
        bs = block_size(a)
        a.sock.settimeout(10)  # A's connection must fail, not hang
        stop = threading.Event()
        writer_a = Writer(a, 0, 0xA, bs, stop, fua=True, slots=4000, limit=4000)  # no overwrite
        writer_b = Writer(b, 65536, 0xB, bs, stop, fua=False, slots=500)
        writer_a.start()
        writer_b.start()
        try:
            wait_for("20 writes through each worker", lambda: min(writer_a.writes, writer_b.writes) >= 20)
            assert writer_b.is_alive(), f"B's writer ended before the kill: {writer_b.outcome()}"
            os.kill(pid_a, signal.SIGKILL)
            at_kill = writer_b.writes
            writer_a.join(20)
            assert not writer_a.is_alive(), "A's connection still served 20 s after its worker's kill -9"
            wait_for(
                "20 more writes through B after the kill",
                lambda: writer_b.writes >= at_kill + 20 or not writer_b.is_alive(),
            )
        finally:
            stop.set()
            writer_a.join(20)
            writer_b.join(60)
        assert writer_b.error is None and writer_b.refused is None, (writer_b.error, writer_b.refused)
        assert writer_b.writes >= at_kill + 20, f"B wrote {writer_b.writes - at_kill} times after the kill"
        assert isinstance(writer_a.error, ConnectionError), (
            f"A's connection ended with {writer_a.error!r} (refused: {writer_a.refused})"
        )
        bad = unread(b, writer_b.acked, bs)
        assert not bad, f"{len(bad)} of B's {len(writer_b.acked)} writes do not read back, first LBA {bad[0]}"

        def restarted() -> tuple[int, int] | None:
            return next(((i, p) for i, p in started(daemon) if i == index_a and p != pid_a), None)

        new = wait_for(f"worker {index_a} restarted", restarted)
        assert isinstance(new, tuple)
        log = daemon.log_text()
        exits = [(int(m[1]), int(m[2]), m[3]) for m in EXITED.finditer(log)]
        assert [e[:2] for e in exits] == [(index_a, pid_a)], log[-3000:]
        assert "KILL" in exits[0][2] or "9" in exits[0][2], exits  # the status names the signal
        assert daemon.alive()

        again = session(daemon, NAME_A, ISID_A)  # A logs in again, as an initiator would: same ISID
        bad = unread(again, writer_a.acked, bs)
        assert not bad, (
            f"{len(bad)} of A's {len(writer_a.acked)} acknowledged writes lost, first LBA {bad[0]}"
        )
        # the restarted worker serves: A's new session if it went there (the worker with the fewest
        # connections once ready), else a new connection that does
        probe = again if worker_of(daemon, again)[1] == new[1] else on_worker(daemon, new[1])
        try:
            data = os.urandom(BLOCKS * bs)
            assert probe.command(write10(40000, BLOCKS), lun=1, write=data).status == GOOD
            for ini in (again, b):
                r = ini.command(read10(40000, BLOCKS), lun=1, read=BLOCKS * bs)
                assert r.status == GOOD and r.data == data
        finally:
            if probe is not again:
                probe.close()
        print(f"kill -9: A {len(writer_a.acked)} writes before the kill, B {writer_b.writes} in all")
    finally:
        close_all(a, b, again)


def test_sigterm_stops_every_worker(daemon: Hptd) -> None:
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    try:
        assert worker_of(daemon, a)[1] != worker_of(daemon, b)[1]
        pids = [pid for _, pid in started(daemon)]
        assert len(pids) == 2
        assert daemon.stop() == 0
        for ini in (a, b):  # each was asked to log out (Async Message, AsyncEvent 1: RFC 7143 11.9.1)
            headers, ended = pdus_until_closed(ini, 10.0)
            assert ended != "open", "a connection still open after hptd exited"
            asyncs = [h[36] for h in headers if h[0] & 0x3F == 0x32]
            assert 1 in asyncs, f"no logout request: {[hex(h[0]) for h in headers]}"
        for pid in pids:
            wait_for(f"worker pid {pid} gone", lambda pid=pid: gone(pid), 10.0)
    finally:
        close_all(a, b)


def test_sigterm_with_writes_in_flight(daemon: Hptd) -> None:
    """SIGTERM while an initiator on each worker writes: hptd exits 0, each writer's connection ends
    (closed, not hung), no worker remains, and what was acknowledged is in the file."""
    a = session(daemon, NAME_A, ISID_A)
    b = session(daemon, NAME_B, ISID_B)
    try:
        assert worker_of(daemon, a)[1] != worker_of(daemon, b)[1]
        pids = [pid for _, pid in started(daemon)]
        bs = block_size(a)
        stop = threading.Event()
        writers = [
            # no LBA written twice (what a write cut short left is then never taken for an acked one's),
            # and as many as each half of the disk holds: the stop's logout wait outlasted 4,000
            Writer(a, 0, 0xA, bs, stop, fua=True, slots=8000, limit=8000),
            Writer(b, 65536, 0xB, bs, stop, fua=True, slots=8000, limit=8000),
        ]
        for w in writers:
            w.ini.sock.settimeout(30)
            w.start()
        try:
            wait_for("10 writes through each worker", lambda: min(w.writes for w in writers) >= 10)
            assert all(w.is_alive() for w in writers), [w.outcome() for w in writers]
            assert daemon.stop() == 0
            for w in writers:
                w.join(30)
        finally:
            stop.set()
            for w in writers:
                w.join(30)
        for w in writers:
            assert not w.is_alive() and isinstance(w.error, ConnectionError), w.outcome()
        for pid in pids:
            wait_for(f"worker pid {pid} gone", lambda pid=pid: gone(pid), 10.0)
        with (daemon.log.parent / "disk.img").open("rb") as f:
            for w in writers:
                for lba, data in w.acked.items():
                    f.seek(lba * bs)
                    assert f.read(len(data)) == data, f"acknowledged write at LBA {lba} not in the file"
    finally:
        close_all(a, b)


def test_a_new_file_is_created_once(tmp_path: Path) -> None:
    """The file LU's file does not exist yet: both workers start on it, none failing because the other
    created it first (each worker opens the store; a race, so tried eight times over)."""
    for n in range(8):
        lun = FILE_LUN.replace("disk.img", f"new-{n}.img")
        d = start_hptd(tmp_path, one_lun_config(IQN, lun, head="[daemon]\nworkers = 2\n"))
        try:
            ini = session(d, NAME_A, ISID_A)
            ini.close()
            assert {i for i, _ in started(d)} == {1, 2}
            assert d.alive(), d.log_text()
            assert (tmp_path / f"new-{n}.img").stat().st_size == 64 << 20
        finally:
            d.stop()
        log = d.log_text()
        assert "cannot start" not in log and "Traceback" not in log, log[-3000:]


def config_error(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "hptd.toml"
    cfg.write_text(text.replace("{port}", str(free_port())).replace("{tmp}", str(tmp_path)))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        return subprocess.run(
            [sys.executable, "-m", "hpt.daemon", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"hptd accepted the configuration and ran for 60 s:\n{text}\n{e.stderr!r}"
        ) from None


@pytest.mark.parametrize("value", ["0", "-1", '"two"', "1.5"])
def test_workers_must_be_a_positive_integer(tmp_path: Path, value: str) -> None:
    r = config_error(tmp_path, one_lun_config(IQN, FILE_LUN, head=f"[daemon]\nworkers = {value}\n"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "workers" in r.stderr and f"{tmp_path / 'hptd.toml'}:2:" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr


ISER_PORTAL = '[[portal]]\naddress = "127.0.0.1:3999"\ntransport = "iser"\n'


@pytest.mark.parametrize(
    ("lun", "extra", "first", "last"),
    [
        ('type = "changer"', "", "  [[target.lun]]", '  type = "changer"'),
        ('type = "tape"', "", "  [[target.lun]]", '  type = "tape"'),
        (FILE_LUN, ISER_PORTAL, "[[portal]]", 'transport = "iser"'),
    ],
    ids=["changer", "tape", "iser"],
)
def test_workers_refuse_what_one_process_keeps(
    tmp_path: Path, lun: str, extra: str, first: str, last: str
) -> None:
    """A changer, a tape drive, an iSER portal with workers = 2: exit status 2, a message naming
    ``workers`` and a line of the table refused."""
    text = one_lun_config(IQN, lun, head=f"[daemon]\nworkers = 2\n\n{extra}")
    r = config_error(tmp_path, text)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "workers" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = text.splitlines()
    start = lines.index(first)
    end = lines.index(last, start)
    named = [n for n in range(start + 1, end + 2) if f"{tmp_path / 'hptd.toml'}:{n}:" in r.stderr]
    assert named, f"no line {start + 1}-{end + 1} ({first.strip()} .. {last.strip()}) named:\n{r.stderr}"


RAM_LUN = 'store = "ram"\nsize = "8M"'


@pytest.mark.parametrize("lun", [FILE_LUN, RAM_LUN, 'type = "tape"'], ids=["file", "ram", "tape"])
def test_auto_workers(tmp_path: Path, lun: str) -> None:
    """workers = "auto": one worker per core for a file or ram LUN (one process on a one-core machine),
    one process for a tape drive, which says why; either way the LUN serves."""
    d = start_hptd(tmp_path, one_lun_config(IQN, lun, head='[daemon]\nworkers = "auto"\n'))
    a = None
    try:
        cores = len(os.sched_getaffinity(0))
        many = cores > 1 and "tape" not in lun
        expected = f"{cores} workers, one per core" if many else "one process ("
        expected = f"workers = auto: {expected}"
        wait_for(f"the line {expected!r}", lambda: expected in d.log_text())
        if many:
            wait_for("every worker started", lambda: {i for i, _ in started(d)} >= set(range(1, cores + 1)))
        else:
            assert "a tape keeps its state in one process" in d.log_text() or cores == 1
        if "tape" in lun:  # no cartridge loaded: the login is what serves
            a = WireInitiator(d.port, IQN, name=NAME_A, isid=ISID_A)
            assert a.login() == 0
        else:
            a = session(d, NAME_A, ISID_A)
            assert a.command(write10(0, 1), lun=1, write=bytes(512)).status == GOOD
    finally:
        close_all(a)
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


def test_ram_lu_is_one_medium_that_outlives_a_worker(tmp_path: Path) -> None:
    """A ram LU with workers = 2 is one memfd of the main process's, mapped by each worker: a write
    through one worker reads back through the other, GET LBA STATUS agrees, and a worker killed with
    SIGKILL takes no acknowledged write with it (its restart maps the same memory)."""
    d = start_hptd(tmp_path, one_lun_config(IQN, RAM_LUN + '\nthin = true', head="[daemon]\nworkers = 2\n"))
    a = b = again = None
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        a, b = session(d, NAME_A, ISID_A), session(d, NAME_B, ISID_B)
        (_, pid_a), (_, pid_b) = worker_of(d, a), worker_of(d, b)
        assert pid_a != pid_b
        bs = block_size(a)
        data = os.urandom(BLOCKS * bs)
        assert a.command(write10(2048, BLOCKS), lun=1, write=data).status == GOOD
        r = b.command(read10(2048, BLOCKS), lun=1, read=BLOCKS * bs)
        assert r.status == GOOD and r.data == data
        # GET LBA STATUS (SBC-4 5.7) through B: the pages A wrote are mapped (state 0), before them not
        r = b.command(struct.pack(">BBQIBB", 0x9E, 0x12, 0, 24, 0, 0), lun=1, read=24)
        assert r.status == GOOD, r
        first_lba, blocks, state = struct.unpack_from(">QIB", r.data, 8)
        assert (first_lba, state) == (0, 1) and blocks == 2048, (first_lba, blocks, state)
        os.kill(pid_a, signal.SIGKILL)
        wait_for("worker restarted", lambda: any(p not in (pid_a, pid_b) for _, p in started(d)))
        close_all(a)
        a = None
        again = session(d, NAME_A, ISID_A)
        for ini in (again, b):
            r = ini.command(read10(2048, BLOCKS), lun=1, read=BLOCKS * bs)
            assert r.status == GOOD and r.data == data
    finally:
        close_all(a, b, again)
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


@contextlib.contextmanager
def on_two_workers(tmp_path: Path, lun: str) -> Iterator[tuple[WireInitiator, WireInitiator]]:
    """hptd with two workers and ``lun``, sessions A and B logged in through different workers; then
    closed, and hptd stopped (exit status 0, no traceback logged)."""
    d = start_hptd(tmp_path, one_lun_config(IQN, lun, head="[daemon]\nworkers = 2\n"))
    a = b = None
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        a, b = session(d, NAME_A, ISID_A), session(d, NAME_B, ISID_B)
        assert worker_of(d, a)[1] != worker_of(d, b)[1]
        yield a, b
    finally:
        close_all(a, b)
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


def test_sanitize_through_one_worker_gates_the_other(tmp_path: Path) -> None:
    """SBC-4 4.11.2 across processes: while a SANITIZE started through one worker runs, the other
    worker's commands end with NOT READY, SANITIZE IN PROGRESS; once it completes both serve the
    overwritten medium."""
    lun = 'store = "file"\npath = "{tmp}/disk.img"\nsize = "4M"\nsanitize_rate = 2097152'
    with on_two_workers(tmp_path, lun) as (a, b):
        plist = struct.pack(">BxH", 1, 4) + b"\x5a" * 4
        r = a.command(struct.pack(">BB5xHx", 0x48, 0x81, len(plist)), lun=1, write=plist)  # IMMED OVERWRITE
        assert r.status == GOOD, r
        r = b.command(tur(), lun=1)
        assert r.status == CHECK_CONDITION and r.sense_key_asc == (2, 0x04, 0x1B), r.sense_key_asc
        wait_for("the sanitize to end", lambda: b.command(tur(), lun=1).status == GOOD)
        bs = block_size(b)
        for ini in (a, b):
            got = ini.command(read10(0, 1), lun=1, read=bs)
            assert got.status == GOOD and got.data == b"\x5a" * bs


def test_a_control_request_waits_for_every_worker(tmp_path: Path) -> None:
    """A request that comes while the workers start (hpt.testing injects its faults as soon as the
    control socket answers) waits until every worker is ready, so each gets it: a medium error injected
    that early is answered through both workers."""
    sock = tmp_path / "control.sock"
    port = free_port()
    config = tmp_path / "hptd.toml"
    head = f'[daemon]\nworkers = 2\ncontrol_socket = "{sock}"\n'
    config.write_text(one_lun_config(IQN, FILE_LUN, head=head).replace("{port}", str(port))
                      .replace("{tmp}", str(tmp_path)))
    log = tmp_path / "hptd.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "hpt.daemon", "--config", str(config)],
                                stdout=subprocess.PIPE, stderr=fh, text=True,
                                env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path)
    d = Hptd(proc, port, log)
    a = b = None
    try:
        fault = {"name": IQN, "lun": 1, "op": "read", "lba": [7, 7], "error": "medium"}

        def injected() -> bool:
            try:
                with Client(str(sock), timeout=60.0) as client:
                    client.call("lun.inject", fault)
                return True
            except (OSError, AdminError):
                return False

        wait_for("the control socket to take the fault", injected, 60.0)
        a, b = session(d, NAME_A, ISID_A), session(d, NAME_B, ISID_B)
        assert worker_of(d, a)[1] != worker_of(d, b)[1]
        for ini in (a, b):
            r = ini.command(read10(7, 1), lun=1, read=512)
            assert r.status == CHECK_CONDITION and r.sense_key_asc[0] == 3, (r.status, r.sense_key_asc)
    finally:
        close_all(a, b)
        assert d.stop() == 0


def test_a_restarted_worker_serves_the_running_configuration(tmp_path: Path) -> None:
    """A LUN added with hptadm after hptd started is served by a worker restarted after a kill -9: it
    builds the main process's running configuration, not the file's."""
    head = f'[daemon]\nworkers = 2\ncontrol_socket = "{tmp_path}/control.sock"\n'
    d = start_hptd(tmp_path, one_lun_config(IQN, FILE_LUN, head=head))
    try:
        wait_for("both workers started", lambda: {i for i, _ in started(d)} >= {1, 2})
        hptadm(tmp_path, "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2",
               "--bstype", "ram", "--bsopts", "size=4M")
        pid = dict(started(d))[1]  # worker 1: the one new connections go to while none has any
        os.kill(pid, signal.SIGKILL)
        wait_for("the worker restarted", lambda: len(started(d)) >= 3)
        ini = on_worker(d, started(d)[2][1])
        try:
            assert luns_of(ini.command(report_luns(), lun=1, read=4096).data) == [1, 2]
        finally:
            ini.close()
    finally:
        assert d.stop() == 0


def test_crypto_erase_through_one_worker_gives_the_other_the_new_key(tmp_path: Path) -> None:
    """An encrypted LU served by two workers: both read what either writes, and after SANITIZE CRYPTO
    ERASE through one (SBC-4 4.11.5) the other uses the new key too: what was written before reads as
    noise through both, what is written after reads back through both."""
    lun = FILE_LUN + 'encryption_key_file = "{tmp}/lun.key"\n'
    with on_two_workers(tmp_path, lun) as (a, b):
        before, after = b"written before" * 292 + bytes(8), b"written after!" * 292 + bytes(8)
        assert a.command(write10(0, 8), lun=1, write=before).status == GOOD
        assert b.command(read10(0, 8), lun=1, read=4096).data == before  # one key
        erase = b.command(bytes((0x48, 0x03, 0, 0, 0, 0, 0, 0, 0, 0)), lun=1)  # CRYPTO ERASE, IMMED 0
        assert erase.status == GOOD, erase
        assert b.command(write10(16, 8), lun=1, write=after).status == GOOD
        past_attentions(a)
        assert a.command(read10(16, 8), lun=1, read=4096).data == after  # the new key here too
        for ini in (a, b):
            assert ini.command(read10(0, 8), lun=1, read=4096).data != before
