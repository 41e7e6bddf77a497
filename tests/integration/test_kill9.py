"""hptd killed with SIGKILL while an initiator writes to a file LUN with FUA and with SYNCHRONIZE CACHE:
after a restart on the same file, every write that was acknowledged durable reads back."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest

from .hptd import one_lun_config, start_hptd
from .wire import WireInitiator

pytestmark = pytest.mark.integration

IQN = "iqn.2026-11.org.hpt.test:kill9"
CONFIG = one_lun_config(IQN, """
store = "file"
path = "{tmp}/disk.img"
size = "256M"
""")
BS = 512
BLOCKS = 8  # 4 KiB per write
WRITING = 3.0  # seconds of writes before the kill
SYNC_EVERY = 8  # non-FUA writes between two SYNCHRONIZE CACHEs


def write10(lba: int, fua: bool) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0x08 if fua else 0, lba, 0, BLOCKS, 0)


def pattern(seq: int) -> bytes:
    return struct.pack(">QQ", seq, seq * BLOCKS) * (BLOCKS * BS // 16)


def write_until_killed(ini: WireInitiator) -> dict[int, bytes]:
    """Write 4 KiB pieces one after another, every other one FUA, the others made durable by a
    SYNCHRONIZE CACHE now and then; the durable ones by LBA, until the connection dies."""
    durable: dict[int, bytes] = {}
    cached: dict[int, bytes] = {}
    seq = 0
    try:
        while True:
            seq += 1
            lba, fua = seq * BLOCKS, seq % 2 == 0
            r = ini.command(write10(lba, fua), lun=1, write=pattern(seq))
            assert r.status == 0, r
            (durable if fua else cached)[lba] = pattern(seq)
            if len(cached) >= SYNC_EVERY:
                r = ini.command(bytes((0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0)), lun=1)
                assert r.status == 0, r
                durable.update(cached)
                cached.clear()
    except (ConnectionError, OSError):
        return durable


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    daemon = start_hptd(tmp_path, CONFIG)
    try:
        ini = WireInitiator(daemon.port, IQN)
        assert ini.login() == 0
        ini.command(bytes(6), lun=1)  # POWER ON unit attention
        killer = threading.Timer(WRITING, daemon.proc.kill)
        killer.start()
        durable = write_until_killed(ini)
        killer.join()
        ini.close()
        assert daemon.proc.wait(10) == -9
    finally:
        daemon.stop()
    assert len(durable) > 50, f"only {len(durable)} writes acknowledged in {WRITING} s"
    again = start_hptd(tmp_path, CONFIG)
    try:
        ini = WireInitiator(again.port, IQN)
        assert ini.login() == 0
        ini.command(bytes(6), lun=1)
        lost = [lba for lba, data in sorted(durable.items())
                if ini.command(struct.pack(">BBIBHB", 0x28, 0, lba, 0, BLOCKS, 0), lun=1,
                               read=BLOCKS * BS).data != data]
        ini.close()
        assert not lost, f"{len(lost)} of {len(durable)} acknowledged writes lost, first at LBA {lost[0]}"
        print(f"kill -9: {len(durable)} acknowledged writes read back")
    finally:
        again.stop()
