"""Every SCSI path that reaches the rbd store, through the SCSI engine (a thin disk LU over a real image):
READ, WRITE, WRITE with FUA, SYNCHRONIZE CACHE, UNMAP, WRITE SAME with UNMAP and of zeroes, GET LBA
STATUS, a resize (CAPACITY DATA HAS CHANGED), a snapshot (DATA PROTECT) and a cluster that stops
answering (LOGICAL UNIT COMMUNICATION TIME-OUT)."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci.ceph.microceph import MicroCeph
from hpt.daemon.config import load_config
from hpt.daemon.luns import build_lu
from hpt.scsi.core.command import ScsiCommand
from hpt.scsi.core.constants import CAPACITY_DATA_CHANGED, LU_COMMUNICATION_TIMEOUT, WRITE_PROTECTED, Status
from hpt.scsi.sbc.capacity import DEALLOCATED, MAPPED
from hpt.store.rbd import RbdStore
from hpt.store.registry import open_store
from tests.scsi.sbc_support import NEXUS, Disk, cdb10, cdb16, sa16
from tests.scsi.test_sbc_provisioning import unmap_cdb, unmap_list

BS = 512  # the block size of tests.scsi.sbc_support.Disk's read and write
OBJECT = 64 * 1024  # the images' object size: GET LBA STATUS sees allocation at this grain
PER_OBJECT = OBJECT // BS
FUA = 0x08


@pytest.fixture
def disk(ceph: MicroCeph, image: Callable[..., str]) -> Iterator[Disk]:
    store = open_store("rbd", {"image": image("16M", "--object-size", "64K"), "ceph_conf": ceph.conf,
                               "size_poll": 1})
    d = Disk(store, spc=True, thin=True)
    yield d
    store.close()


def status_of(disk: Disk, lba: int) -> tuple[int, int, int]:
    data = disk.run(sa16(0x12, lba, 24), alloc=24).data
    return struct.unpack_from(">QIB", data, 8)


def test_read_write_fua_and_synchronize_cache(disk: Disk) -> None:
    data = bytes(range(256)) * (3 * BS // 256)
    assert disk.run(cdb10(0x2A, 7, 3, FUA), data).good  # WRITE(10) with FUA
    assert disk.run(cdb16(0x8A, 100, 3), data).good  # WRITE(16)
    assert disk.run(cdb10(0x35, 0, 0)).good  # SYNCHRONIZE CACHE(10) over the whole LU
    assert disk.read(7, 3) == data and disk.read(100, 3) == data
    assert disk.run(cdb10(0x28, 7, 3), alloc=3 * BS).data == data  # READ(10)


def test_unmap_write_same_and_get_lba_status(disk: Disk) -> None:
    assert status_of(disk, 0)[2] == DEALLOCATED
    disk.write(0, b"\xee" * 4 * OBJECT)
    assert status_of(disk, 0) == (0, 4 * PER_OBJECT, MAPPED)
    plist = unmap_list((PER_OBJECT, PER_OBJECT))
    assert disk.run(unmap_cdb(len(plist)), plist).good
    assert status_of(disk, PER_OBJECT) == (PER_OBJECT, PER_OBJECT, DEALLOCATED)
    assert disk.read(PER_OBJECT, PER_OBJECT) == bytes(OBJECT)
    # WRITE SAME(16) with UNMAP of a zero block: deallocated
    assert disk.run(cdb16(0x93, 2 * PER_OBJECT, PER_OBJECT, 0x08), bytes(BS)).good
    assert status_of(disk, 2 * PER_OBJECT)[2] == DEALLOCATED
    # WRITE SAME(16) of zeroes without UNMAP: zeroed (rbd_write_zeroes)
    assert disk.run(cdb16(0x93, 3 * PER_OBJECT, 2, 0), bytes(BS)).good
    assert disk.read(3 * PER_OBJECT, 3) == bytes(2 * BS) + b"\xee" * BS
    # WRITE SAME(16) of a pattern
    assert disk.run(cdb16(0x93, 200, 5, 0), b"\x42" * BS).good
    assert disk.read(200, 5) == b"\x42" * 5 * BS


def test_resize_raises_capacity_data_has_changed(disk: Disk, ceph: MicroCeph) -> None:
    store = disk.store
    assert isinstance(store, RbdStore)
    ceph.rbd("resize", "--size", "32M", store.name)
    deadline = time.monotonic() + 10
    while store.size != 32 << 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    reply = disk.run(cdb10(0x28, 0, 1), alloc=BS)
    assert reply.status == Status.CHECK_CONDITION and reply.asc == CAPACITY_DATA_CHANGED
    data = disk.run(cdb10(0x25, 0, 0), alloc=8).data  # READ CAPACITY(10): the new last LBA
    assert struct.unpack(">II", data) == ((32 << 20) // BS - 1, BS)
    assert disk.run(cdb10(0x28, (16 << 20) // BS, 1), alloc=BS).good  # past the old end
    disk.lu.ua.clear(NEXUS.initiator_port)


def test_snapshot_lun_is_write_protected(ceph: MicroCeph, image: Callable[..., str]) -> None:
    name = image("4M")
    ceph.rbd("snap", "create", f"rbd/{name}@frozen")
    store = open_store("rbd", {"image": name, "snapshot": "frozen", "ceph_conf": ceph.conf})
    try:
        disk = Disk(store, spc=True, thin=True)
        assert disk.read(0, 2) == bytes(2 * BS)
        reply = disk.run(cdb10(0x2A, 0, 1), bytes(BS))
        assert reply.status == Status.CHECK_CONDITION and reply.asc == WRITE_PROTECTED
    finally:
        store.close()


def test_cluster_not_answering_is_a_communication_timeout(ceph: MicroCeph, image: Callable[..., str]) -> None:
    store = open_store("rbd", {"image": image("4M"), "ceph_conf": ceph.conf, "timeout": 2})
    try:
        disk = Disk(store, spc=True, thin=True)
        disk.write(0, b"\1" * BS)
        with ceph.paused("osd.0"):
            reply = disk.run(cdb10(0x28, 0, 1), alloc=BS)
        assert reply.status == Status.CHECK_CONDITION and reply.asc == LU_COMMUNICATION_TIMEOUT
        assert disk.read(0, 1) == b"\1" * BS
    finally:
        store.close()


def test_snapshot_lun_built_from_a_configuration_reports_wp(ceph: MicroCeph, image: Callable[..., str],
                                                            tmp_path: Path) -> None:
    """hptd's LU over a snapshot is write-protected as a whole: the WP bit of MODE SENSE too."""
    name = image("4M")
    ceph.rbd("snap", "create", f"rbd/{name}@s")
    cfg = tmp_path / "hptd.toml"
    cfg.write_text(f'[[target]]\nname = "iqn.2026-11.org.hpt.test:snap"\n  [[target.lun]]\n  lun = 1\n'
                   f'  store = "rbd"\n  image = "{name}"\n  snapshot = "s"\n  ceph_conf = "{ceph.conf}"\n')
    lu = build_lu(load_config(cfg).targets[0].luns[0])
    try:
        assert lu.params.readonly
        lu.ua.clear(NEXUS.initiator_port)
        buf = bytearray(4)
        result = lu.execute(ScsiCommand(0, bytes((0x1A, 0, 0x3F, 0, 4, 0)), NEXUS, data_in=memoryview(buf),
                                        expected_in=4))
        assert result.status == Status.GOOD and buf[2] & 0x80, bytes(buf).hex()
    finally:
        lu.release()
