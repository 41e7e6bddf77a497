"""START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL on removable and fixed LUs."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    MEDIUM_CHANGED,
    MEDIUM_NOT_PRESENT,
    MEDIUM_REMOVAL_PREVENTED,
    Status,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import check_ready
from hpt.scsi.sbc.medium import medium_present, release_prevention
from tests.scsi.sbc_support import BS, NEXUS, OTHER, Disk, RecordingStore, cdb10, sa16

START, LOEJ, NO_FLUSH = 0x01, 0x02, 0x04


def ssu(b4: int, immed: int = 0) -> bytes:
    return struct.pack(">BBxxBx", 0x1B, immed, b4)


def prevent(value: int) -> bytes:
    return struct.pack(">BxxxBx", 0x1E, value)


def test_eject_and_load_removable_medium() -> None:
    disk = Disk(removable=True)
    assert disk.run(ssu(LOEJ)).status == Status.GOOD
    assert not medium_present(disk.lu)
    with pytest.raises(SenseError) as err:
        check_ready(disk.lu)
    assert err.value.asc == MEDIUM_NOT_PRESENT
    assert disk.run(cdb10(0x28, 0, 1), alloc=BS).asc == MEDIUM_NOT_PRESENT
    assert disk.run(cdb10(0x2A, 0, 1), bytes(BS)).asc == MEDIUM_NOT_PRESENT
    assert disk.run(sa16(0x10, 0, 32), alloc=32).asc == MEDIUM_NOT_PRESENT
    assert disk.run(ssu(LOEJ | START)).status == Status.GOOD
    assert medium_present(disk.lu)
    assert disk.run(cdb10(0x28, 0, 1), alloc=BS).status == Status.GOOD


def test_loading_tells_the_other_nexuses() -> None:
    disk = Disk(removable=True)
    disk.run(ssu(LOEJ))
    disk.run(ssu(LOEJ | START))
    assert disk.lu.ua.peek(NEXUS.initiator_port) is None
    assert disk.lu.ua.peek(OTHER.initiator_port) == MEDIUM_CHANGED


def test_start_stop_without_loej_keeps_the_medium() -> None:
    disk = Disk(removable=True)
    for b4 in (0, START, NO_FLUSH, START | NO_FLUSH):
        assert disk.run(ssu(b4)).status == Status.GOOD
        assert medium_present(disk.lu)


@pytest.mark.parametrize("condition", range(1, 16))
def test_power_condition_ignores_loej_and_start(condition) -> None:
    disk = Disk(removable=True)
    assert disk.run(ssu(condition << 4 | LOEJ)).status == Status.GOOD
    assert medium_present(disk.lu)


def test_stop_flushes_unless_no_flush() -> None:
    store = RecordingStore(1 << 20)
    disk = Disk(store)
    disk.run(ssu(NO_FLUSH))
    assert store.syncs == []
    disk.run(ssu(0))
    assert store.syncs == [(0, 0)]
    disk.run(ssu(START))
    assert store.syncs == [(0, 0)]


def test_fixed_lu_rejects_loej_and_prevent() -> None:
    disk = Disk()
    reply = disk.run(ssu(LOEJ))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (4, 1, True)
    assert disk.run(ssu(START)).status == Status.GOOD
    reply = disk.run(prevent(1))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (4, 1, True)
    assert disk.run(prevent(0)).status == Status.GOOD


@pytest.mark.parametrize("value", [2, 3])
def test_obsolete_prevent_values(value) -> None:
    reply = Disk(removable=True).run(prevent(value))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (4, 1, True)


def test_prevent_blocks_eject_and_load_from_every_nexus() -> None:
    disk = Disk(removable=True)
    assert disk.run(prevent(1)).status == Status.GOOD
    assert disk.run(ssu(LOEJ)).asc == MEDIUM_REMOVAL_PREVENTED
    assert disk.run(ssu(LOEJ), nexus=OTHER).asc == MEDIUM_REMOVAL_PREVENTED
    assert medium_present(disk.lu)
    assert disk.run(prevent(0)).status == Status.GOOD
    assert disk.run(ssu(LOEJ)).status == Status.GOOD
    disk.run(prevent(1))
    assert disk.run(ssu(LOEJ | START)).asc == MEDIUM_REMOVAL_PREVENTED
    disk.run(prevent(0))
    assert disk.run(ssu(LOEJ | START)).status == Status.GOOD


def test_prevention_is_held_per_nexus() -> None:
    disk = Disk(removable=True)
    disk.run(prevent(1))
    disk.run(prevent(1), nexus=OTHER)
    disk.run(prevent(0))
    assert disk.run(ssu(LOEJ)).asc == MEDIUM_REMOVAL_PREVENTED
    disk.run(prevent(0), nexus=OTHER)
    assert disk.run(ssu(LOEJ)).status == Status.GOOD


def test_release_prevention_on_nexus_loss_and_reset() -> None:
    disk = Disk(removable=True)
    disk.run(prevent(1))
    disk.run(prevent(1), nexus=OTHER)
    release_prevention(disk.lu, NEXUS.initiator_port)
    assert disk.run(ssu(LOEJ)).asc == MEDIUM_REMOVAL_PREVENTED
    release_prevention(disk.lu)
    assert disk.run(ssu(LOEJ)).status == Status.GOOD
    release_prevention(Disk().lu)  # nothing held: nothing to do


def test_test_unit_ready_reports_the_unloaded_medium() -> None:
    disk = Disk(removable=True, spc=True)
    assert disk.lu.table.get(0x00) is not None  # TEST UNIT READY comes from SPC
    assert disk.run(bytes(6)).status == Status.GOOD
    disk.run(ssu(LOEJ))
    assert disk.run(bytes(6)).asc == MEDIUM_NOT_PRESENT


@pytest.mark.parametrize("event", ["nexus_lost", "lu_reset", "target_reset"])
def test_target_events_release_prevention(event) -> None:
    disk = Disk(removable=True, spc=True)
    target_mod = pytest.importorskip("hpt.scsi.target")
    target = target_mod.ScsiTarget("iqn.2024-01.org.hpt:t")
    target.add_lu(disk.lu)
    disk.run(prevent(1))
    assert disk.run(ssu(LOEJ)).asc == MEDIUM_REMOVAL_PREVENTED
    if event == "nexus_lost":
        target.nexus_lost(NEXUS)
    elif event == "lu_reset":
        target.lu_reset(disk.lu.lun)
    else:
        target.target_reset()
    disk.lu.ua.clear(NEXUS.initiator_port)
    assert disk.run(ssu(LOEJ)).status == Status.GOOD
