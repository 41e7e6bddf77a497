"""SPC-2 RESERVE/RELEASE (SPC-2 5.5, 7.21, 7.22) and their mixing with persistent reservations."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, Status
from hpt.scsi.lu import LogicalUnit

from .conftest import READ10, TUR, WRITE10, Initiator

RESERVE6 = bytes((0x16, 0, 0, 0, 0, 0))
RELEASE6 = bytes((0x17, 0, 0, 0, 0, 0))
RESERVE10 = bytes((0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0))
RELEASE10 = bytes((0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0))
MODE_SENSE6 = bytes((0x1A, 0, 0x3F, 0, 255, 0))
INQUIRY = bytes((0x12, 0, 0, 0, 96, 0))
REPORT_LUNS = bytes((0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0))
REQUEST_SENSE = bytes((0x03, 0, 0, 0, 18, 0))
RSOC = bytes((0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0))
ALLOW_REMOVAL = bytes((0x1E, 0, 0, 0, 0, 0))
PREVENT_REMOVAL = bytes((0x1E, 0, 0, 0, 1, 0))
PR_IN_READ_KEYS = bytes((0x5E, 0, 0, 0, 0, 0, 0, 0x10, 0, 0))
CONFLICT = Status.RESERVATION_CONFLICT


def register(ini: Initiator, key: int) -> int:
    data = struct.pack(">QQ4xB3x", 0, key, 0)
    return ini.run(bytes((0x5F, 6, 0, 0, 0, 0, 0, 0, 24, 0)), data).status


@pytest.mark.parametrize(("reserve", "release"), [(RESERVE6, RELEASE6), (RESERVE10, RELEASE10)])
def test_reserve_release(a: Initiator, b: Initiator, lu: LogicalUnit, reserve: bytes, release: bytes) -> None:
    assert a.run(reserve).good and lu.pr.spc2_holder == a.port
    assert a.run(reserve).good  # the holder may repeat it
    assert b.run(reserve).status == CONFLICT
    assert a.run(release).good and lu.pr.spc2_holder is None
    assert b.run(reserve).good and b.run(release).good


def test_two_initiators(a: Initiator, b: Initiator) -> None:
    """libiscsi Reserve6.2Initiators: MODE SENSE from the other initiator conflicts (tgt lets it through)."""
    assert a.run(RESERVE6).good
    assert b.run(RESERVE6).status == CONFLICT
    assert b.run(RELEASE6).good  # a no-op from a non-holder
    assert a.run(MODE_SENSE6).good
    assert b.run(MODE_SENSE6).status == CONFLICT
    for cdb in (TUR, READ10, WRITE10, PREVENT_REMOVAL):
        assert b.run(cdb).status == CONFLICT
    for cdb in (INQUIRY, REPORT_LUNS, REQUEST_SENSE, RSOC, ALLOW_REMOVAL):
        assert b.run(cdb).good
    assert a.run(READ10).good and a.run(WRITE10).good and a.run(TUR).good
    assert b.run(RESERVE6).status == CONFLICT
    assert a.run(RELEASE6).good
    assert b.run(RESERVE6).good and b.run(RELEASE6).good


@pytest.mark.parametrize(("cdb", "bit"), [
    (bytes((0x16, 0x10, 0, 0, 0, 0)), 4),  # 3RDPTY
    (bytes((0x16, 0x01, 0, 0, 0, 0)), 0),  # EXTENT
    (bytes((0x17, 0x10, 0, 0, 0, 0)), 4),
    (bytes((0x56, 0x02, 0, 0, 0, 0, 0, 0, 0, 0)), 1),  # LONGID
    (bytes((0x57, 0x10, 0, 0, 0, 0, 0, 0, 0, 0)), 4),
])
def test_third_party_rejected(a: Initiator, cdb: bytes, bit: int) -> None:
    r = a.run(cdb)
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, bit, True)


def test_pr_commands_conflict_with_reserve(a: Initiator, b: Initiator) -> None:
    """SPC-3 5.6.3: any PERSISTENT RESERVE command conflicts while an SPC-2 reservation exists."""
    assert a.run(RESERVE6).good
    assert a.run(PR_IN_READ_KEYS).status == CONFLICT
    assert register(a, 1) == CONFLICT
    assert register(b, 2) == CONFLICT


def test_reserve_conflicts_with_registrations(a: Initiator, b: Initiator) -> None:
    assert register(b, 7) == Status.GOOD
    for ini in (a, b):
        assert ini.run(RESERVE6).status == CONFLICT
        assert ini.run(RELEASE10).status == CONFLICT


def test_nexus_loss_releases(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert a.run(RESERVE6).good
    a.target.nexus_lost(b.nexus)
    assert lu.pr.spc2_holder == a.port
    a.target.nexus_lost(a.nexus)
    assert lu.pr.spc2_holder is None
    b.clear_ua()
    assert b.run(RESERVE6).good


@pytest.mark.parametrize("reset", ["lu", "warm", "cold"])
def test_resets_release(a: Initiator, b: Initiator, lu: LogicalUnit, reset: str) -> None:
    assert a.run(RESERVE6).good
    if reset == "lu":
        a.target.lu_reset(0)
    else:
        a.target.target_reset(cold=reset == "cold")
    assert lu.pr.spc2_holder is None
    b.clear_ua()
    assert b.run(RESERVE6).good
