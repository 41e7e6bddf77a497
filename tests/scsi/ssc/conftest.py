"""A target with one tape drive LU (LUN 0) holding a fresh 4 MiB cartridge, and initiators to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.media.tape import create
from hpt.options import resolve
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.params import COMMON_OPTIONS, lu_params
from hpt.scsi.ssc.profile import TAPE
from hpt.scsi.target import ScsiTarget
from tests.scsi.conftest import HOST_A, HOST_B, TARGET_NAME, Initiator, _initiator

MIB = 1 << 20


def tape_lu(cartridge: Path | None, **keys: object) -> LogicalUnit:
    """A tape LU whose parameters are resolved through the common and the tape schemas, as hptd does."""
    given = {"cartridge": None if cartridge is None else str(cartridge), **keys}
    params = lu_params(TAPE, resolve((*COMMON_OPTIONS, *TAPE.options), given))
    return LogicalUnit(TAPE, params, None, lun=0)


@pytest.fixture
def cartridge(tmp_path: Path) -> Path:
    path = tmp_path / "HPT001L6"
    create(path, "HPT001L6", 4 * MIB, early_warning=256 << 10)
    return path


@pytest.fixture
def target(cartridge: Path) -> ScsiTarget:
    t = ScsiTarget(TARGET_NAME)
    t.add_lu(tape_lu(cartridge))
    return t


@pytest.fixture
def lu(target: ScsiTarget) -> LogicalUnit:
    found = target.lu(0)
    assert found is not None
    return found


@pytest.fixture
def a(target: ScsiTarget) -> Initiator:
    return _initiator(target, HOST_A, 0x23D000000001)


@pytest.fixture
def b(target: ScsiTarget) -> Initiator:
    return _initiator(target, HOST_B, 0x23D000000002)
