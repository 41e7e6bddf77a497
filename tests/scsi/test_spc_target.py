"""ScsiTarget: LUN addressing, REPORT LUNS (SPC-5 6.33) and task management (SAM-5 6.3, 7)."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from hpt.scsi.core.command import TaskAttr
from hpt.scsi.core.constants import (
    BUS_DEVICE_RESET_FUNCTION,
    COMMANDS_CLEARED_BY_ANOTHER_INITIATOR,
    I_T_NEXUS_LOSS,
    INVALID_FIELD_IN_CDB,
    LUN_NOT_SUPPORTED,
    MODE_PARAMETERS_CHANGED,
    POWER_ON_OCCURRED,
    POWER_ON_RESET,
    REPORTED_LUNS_DATA_CHANGED,
    Asc,
    Status,
)
from hpt.scsi.core.lun import encode_lun
from hpt.scsi.core.sense import parse_sense
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.sbc.profile import DISK
from hpt.scsi.target import ScsiTarget, TmfResult

from .conftest import TARGET_NAME, TUR, Initiator, make_lu, make_nexus


def report_luns(select: int = 0, alloc: int = 4096) -> bytes:
    return struct.pack(">BxBxxxIxB", 0xA0, select, alloc, 0)


def lun_list(data: bytes) -> list[bytes]:
    (n,) = struct.unpack_from(">I", data)
    return [data[8 + i : 16 + i] for i in range(0, n, 8)]


@pytest.fixture
def three_luns(target: ScsiTarget, a: Initiator) -> ScsiTarget:
    target.add_lu(make_lu(1))
    target.add_lu(make_lu(300))
    a.clear_ua()
    return target


def test_report_luns(a: Initiator, three_luns: ScsiTarget) -> None:
    d = a.run(report_luns()).data
    assert lun_list(d) == [encode_lun(0), encode_lun(1), encode_lun(300)]
    assert lun_list(d)[2] == bytes((0x41, 0x2C, 0, 0, 0, 0, 0, 0))  # flat space addressing
    for select in (0x02, 0x11):
        assert lun_list(a.run(report_luns(select)).data) == lun_list(d)
    for select in (0x01, 0x10):
        assert a.run(report_luns(select)).data == bytes(8)


@pytest.mark.parametrize("select", [0x03, 0x12, 0xFF])
def test_report_luns_bad_select(a: Initiator, select: int) -> None:
    r = a.run(report_luns(select))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (2, None, True)


def test_report_luns_short_allocation(a: Initiator) -> None:
    r = a.run(report_luns(alloc=15))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (6, None, True)
    r = a.run(report_luns(alloc=16), alloc=16)
    assert r.good and r.data == struct.pack(">I4x", 8) + encode_lun(0)


def test_report_luns_without_lun0() -> None:
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(make_lu(5))
    ini = Initiator(t, make_nexus("iqn.x", 1))
    assert lun_list(ini.run(report_luns(), lun=0).data) == [encode_lun(5)]
    assert lun_list(ini.run(report_luns(), lun=42).data) == [encode_lun(5)]


def test_luns_changed_unit_attention(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    lu.ua.establish(MODE_PARAMETERS_CHANGED, only=a.port)
    a.target.add_lu(make_lu(1))
    assert list(_pending(lu, a.port)) == [MODE_PARAMETERS_CHANGED, REPORTED_LUNS_DATA_CHANGED]
    assert a.run(report_luns()).good
    assert list(_pending(lu, a.port)) == [MODE_PARAMETERS_CHANGED]  # REPORT LUNS cleared its own
    assert a.target.remove_lu(1) is not None and a.target.luns() == [0]
    assert lu.ua.peek(b.port) == REPORTED_LUNS_DATA_CHANGED
    assert a.target.remove_lu(1) is None


def _pending(lu: LogicalUnit, port: str) -> list[Asc]:
    out = []
    while (asc := lu.ua.pop(port)) is not None:
        out.append(asc)
    for asc in out:
        lu.ua.establish(asc, only=port)
    return out


def test_duplicate_lun(target: ScsiTarget) -> None:
    with pytest.raises(ValueError, match="LUN 0 exists"):
        target.add_lu(make_lu(0))
    lu0 = target.lu(0)
    assert lu0 is not None and lu0.target is target and target.lu(3) is None


def test_absent_lun_commands(a: Initiator) -> None:
    r = a.run(TUR, lun=8)
    assert r.status == Status.CHECK_CONDITION and r.asc == LUN_NOT_SUPPORTED
    r = a.run(bytes((0x03, 0, 0, 0, 252, 0)), lun=8)
    assert r.good and parse_sense(r.data) == LUN_NOT_SUPPORTED and r.data[0] == 0x70
    r = a.run(bytes((0x03, 1, 0, 0, 252, 0)), lun=8)
    assert r.good and r.data[0] == 0x72 and parse_sense(r.data) == LUN_NOT_SUPPORTED


def test_first_command_reports_power_on(target: ScsiTarget) -> None:
    fresh = Initiator(target, make_nexus("iqn.new", 1))
    assert fresh.run(TUR).asc == POWER_ON_RESET
    assert fresh.run(TUR).good


def test_aca_attribute_and_naca_bit_are_refused_without_taking_the_unit_attention(target: ScsiTarget) -> None:
    """NormACA is 0 (SAM-5 5.2, 8.6.5): ACA and NACA=1 end in INVALID FIELD IN CDB."""
    fresh = Initiator(target, make_nexus("iqn.new", 1))
    assert fresh.run(TUR, attr=TaskAttr.ACA).asc == INVALID_FIELD_IN_CDB
    naca = fresh.run(bytes((0, 0, 0, 0, 0, 0x04)))  # TEST UNIT READY, CONTROL byte NACA
    assert naca.asc == INVALID_FIELD_IN_CDB and naca.sks == (5, 2, True)
    r10 = fresh.run(bytes((0x12, 0, 0, 0, 96, 0x04)))  # INQUIRY too: the check precedes the opcode's own
    assert r10.asc == INVALID_FIELD_IN_CDB and r10.sks == (5, 2, True)
    assert fresh.run(TUR).asc == POWER_ON_RESET  # still pending: the refused commands did not report it
    assert fresh.run(TUR, attr=TaskAttr.HEAD_OF_QUEUE).good


# -- task management ---------------------------------------------------------------------------
def test_lu_reset(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert a.target.lu_reset(0) == TmfResult.FUNCTION_COMPLETE
    assert a.run(TUR).asc == BUS_DEVICE_RESET_FUNCTION and b.run(TUR).asc == BUS_DEVICE_RESET_FUNCTION
    assert a.run(TUR).good
    assert a.target.lu_reset(9) == TmfResult.INCORRECT_LUN


@pytest.mark.parametrize(("cold", "asc"), [(False, BUS_DEVICE_RESET_FUNCTION), (True, POWER_ON_OCCURRED)])
def test_target_reset(a: Initiator, three_luns: ScsiTarget, cold: bool, asc: object) -> None:
    assert three_luns.target_reset(cold=cold) == TmfResult.FUNCTION_COMPLETE
    for lun in three_luns.luns():
        assert a.run(TUR, lun=lun).asc == asc


def test_nexus_loss(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    lu.ua.establish(MODE_PARAMETERS_CHANGED)
    a.target.nexus_lost(a.nexus)
    assert a.run(TUR).asc == I_T_NEXUS_LOSS and a.run(TUR).good  # the loss replaces older conditions
    assert b.run(TUR).asc == MODE_PARAMETERS_CHANGED


def test_clear_task_set(a: Initiator, b: Initiator, c: Initiator, lu: LogicalUnit) -> None:
    assert a.target.clear_task_set(0, a.nexus) == TmfResult.FUNCTION_COMPLETE
    assert lu.ua.peek(a.port) is None
    assert lu.ua.peek(b.port) == COMMANDS_CLEARED_BY_ANOTHER_INITIATOR
    assert lu.ua.peek(c.port) == COMMANDS_CLEARED_BY_ANOTHER_INITIATOR
    assert a.target.clear_task_set(9, a.nexus) == TmfResult.INCORRECT_LUN


def test_clear_task_set_named_ports(a: Initiator, b: Initiator, c: Initiator, lu: LogicalUnit) -> None:
    a.target.clear_task_set(0, a.nexus, cleared_ports=[c.port, a.port])
    assert lu.ua.peek(b.port) is None and lu.ua.peek(a.port) is None
    assert lu.ua.peek(c.port) == COMMANDS_CLEARED_BY_ANOTHER_INITIATOR


def test_abort_task_set(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert a.target.abort_task_set(0, a.nexus) == TmfResult.FUNCTION_COMPLETE
    assert lu.ua.peek(a.port) is None and lu.ua.peek(b.port) is None
    assert a.target.abort_task_set(4, a.nexus) == TmfResult.INCORRECT_LUN


def test_profile_reset_hook(a: Initiator) -> None:
    """LU reset, target reset and I_T nexus loss call the device profile's reset (SAM-5 6.3)."""
    calls: list[tuple[int, str | None]] = []
    target = a.target
    target.remove_lu(0)
    target.add_lu(make_lu(0, profile=replace(DISK, reset=lambda unit, port: calls.append((unit.lun, port)))))
    a.target.lu_reset(0)
    a.target.target_reset()
    a.target.nexus_lost(a.nexus)
    assert calls == [(0, None), (0, None), (0, a.port)]


def test_lost_nexuses_are_remembered_up_to_a_bound(target: ScsiTarget, lu: LogicalUnit,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Initiators with a new ISID per session do not grow the unit attention table without end."""
    from hpt.scsi.core import unit_attention

    monkeypatch.setattr(unit_attention, "MAX_LOST", 3)
    live = Initiator(target, make_nexus("iqn.live", 1))
    live.run(TUR)
    target.nexus_lost(live.nexus)  # lost, then back: no longer a candidate to forget
    assert live.run(TUR).asc == I_T_NEXUS_LOSS
    gone = [Initiator(target, make_nexus("iqn.gone", isid)) for isid in range(10)]
    for ini in gone:
        ini.run(TUR)
        target.nexus_lost(ini.nexus)
    assert len(lu.ua) == 1 + 3  # the live nexus and the three most recently lost
    assert gone[-1].run(TUR).asc == I_T_NEXUS_LOSS  # remembered
    assert gone[0].run(TUR).asc == POWER_ON_RESET  # forgotten: a new nexus to the LU
    assert live.run(TUR).good
