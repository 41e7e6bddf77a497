"""1,000 idle sessions cost hptd no thread each: quiet connections wait in the portal's epoll set
(hpt.iscsi.loop) and serve again when a command comes, with one process and with two workers."""

from __future__ import annotations

import resource
import struct
import time
from pathlib import Path

import pytest

from tests.integration.hptd import one_lun_config, start_hptd
from tests.integration.wire import WireInitiator, write10

IQN = "iqn.2026-11.org.hpt.test:idle"
SESSIONS = 1000
LIMITS = """[limits]
max_connections = 1100
max_connections_per_address = 1100
max_sessions_per_initiator = 1100
"""


def threads_of(pids: list[int]) -> int:
    """The threads of these processes now (/proc/PID/status)."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                total += int(line.split()[1])
    return total


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_thousand_idle_sessions_hold_no_thread_each(tmp_path: Path, workers: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * SESSIONS + 100:  # this process holds the initiators' sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * SESSIONS), hard))
    head = f"[daemon]\nworkers = {workers}\n\n{LIMITS}"
    lun = 'store = "file"\npath = "{tmp}/lu.img"\nsize = "8M"'
    hptd = start_hptd(tmp_path, one_lun_config(IQN, lun, head))
    pids = [hptd.proc.pid] + (children(hptd.proc.pid) if workers > 1 else [])
    inis: list[WireInitiator] = []
    try:
        idle_threads = threads_of(pids)
        for i in range(SESSIONS):
            ini = WireInitiator(hptd.port, IQN, name=f"{IQN}{i}", isid=0x23D000100000 + i)
            assert ini.login() == 0, f"session {i}"
            inis.append(ini)
        # logged in and quiet: within PARK_AFTER (2 s) each gives its thread up
        deadline = time.monotonic() + 30
        while threads_of(pids) > idle_threads + 8 and time.monotonic() < deadline:
            time.sleep(0.2)
        parked_threads = threads_of(pids)
        assert parked_threads <= idle_threads + 8, f"{parked_threads} threads for {SESSIONS} idle sessions"
        for i in range(0, SESSIONS, 50):  # and they serve: every 50th writes and reads back its block
            ini = inis[i]
            assert ini.command(bytes(6), lun=1).status == 2  # POWER ON, RESET first
            data = i.to_bytes(4, "big") * 128
            assert ini.command(write10(i // 50, 1), lun=1, write=data).status == 0
            rsp = ini.command(read10(i // 50, 1), lun=1, read=512)
            assert rsp.status == 0 and rsp.data == data
        assert hptd.alive()
    finally:
        for ini in inis:
            ini.close()
        assert hptd.stop() == 0
