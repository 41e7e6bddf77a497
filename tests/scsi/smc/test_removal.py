"""PREVENT ALLOW MEDIUM REMOVAL on the import/export slots and an operator's access (SMC-3 4.2.4, 6.13):
unit attentions, refusals, and the hold dropped on nexus loss and reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.smc import operator
from hpt.scsi.smc.elements import (
    IMPORT_EXPORT_ACCESSED,
    INVALID_ELEMENT_ADDRESS,
    MEDIUM_DESTINATION_FULL,
    MEDIUM_SOURCE_EMPTY,
    Cartridge,
)
from tests.scsi.conftest import Initiator
from tests.scsi.smc.conftest import DRIVE0, IE0, SLOT0, move, parse_status, read_element_status

PREVENT, ALLOW = bytes((0x1E, 0, 0, 0, 1, 0)), bytes((0x1E, 0, 0, 0, 0, 0))
NEW = Cartridge("NEW001L6", Path("/media/NEW001L6"))


def test_operator_import_is_a_unit_attention(lu: LogicalUnit, a: Initiator, b: Initiator) -> None:
    operator.insert(lu, IE0, NEW)
    for ini in (a, b):
        assert ini.run(bytes(6)).asc == IMPORT_EXPORT_ACCESSED
        assert ini.run(bytes(6)).good
    _, elements = parse_status(a.run(read_element_status(kind=3)).data)
    assert elements[0]["barcode"] == "NEW001L6" and elements[0]["flags"] & 0x03 == 0x03  # IMPEXP, FULL
    assert a.run(move(IE0, DRIVE0)).good


def test_operator_at_a_storage_slot_is_not_ready_to_ready(lu: LogicalUnit, a: Initiator) -> None:
    operator.remove(lu, SLOT0 + 3)
    assert a.run(bytes(6)).asc == MEDIUM_CHANGED
    operator.insert(lu, SLOT0 + 3, NEW)
    assert lu.state.element(SLOT0 + 3).medium == NEW


def test_prevent_refuses_the_operator_at_the_import_export_slot(lu: LogicalUnit, a: Initiator,
                                                                b: Initiator) -> None:
    assert a.run(PREVENT).good
    with pytest.raises(SenseError) as err:
        operator.insert(lu, IE0, NEW)
    assert err.value.asc == MEDIUM_REMOVAL_PREVENTED
    assert a.run(move(SLOT0, IE0)).good  # the application still moves media there
    with pytest.raises(SenseError):
        operator.remove(lu, IE0)
    assert b.run(bytes(6)).good  # nothing happened at the slot
    assert a.run(ALLOW).good
    assert operator.remove(lu, IE0).barcode == "HPT001L6"


def test_prevent_is_dropped_when_its_nexus_is_lost_or_on_reset(lu: LogicalUnit, a: Initiator,
                                                                b: Initiator) -> None:
    assert a.run(PREVENT).good and b.run(PREVENT).good
    assert lu.target is not None
    lu.target.nexus_lost(a.nexus)
    assert lu.state.preventers == {b.port}
    lu.target.lu_reset(0)
    assert lu.state.preventers == set()
    operator.insert(lu, IE0, NEW)


def test_prevent_field_values(a: Initiator) -> None:
    reply = a.run(bytes((0x1E, 0, 0, 0, 2, 0)))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (4, 1, True)


def test_operator_mistakes(lu: LogicalUnit) -> None:
    with pytest.raises(SenseError) as err:
        operator.insert(lu, SLOT0, NEW)
    assert err.value.asc == MEDIUM_DESTINATION_FULL
    for address in (1, 4242):
        with pytest.raises(SenseError) as err:
            operator.insert(lu, address, NEW)
        assert err.value.asc == INVALID_ELEMENT_ADDRESS


def test_a_medium_taken_out_by_hand_is_gone(lu: LogicalUnit, a: Initiator) -> None:
    assert a.run(move(SLOT0, IE0)).good
    assert operator.remove(lu, IE0) == Cartridge("HPT001L6", Path("/media/HPT001L6"))
    assert a.run(move(IE0, SLOT0)).asc == IMPORT_EXPORT_ACCESSED
    assert a.run(move(IE0, SLOT0)).asc == MEDIUM_SOURCE_EMPTY
