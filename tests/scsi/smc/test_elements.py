"""The element model: layout, addresses and the changer's moves (SMC-3 4.2, 6.5, 6.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.scsi.core.constants import MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.smc.changer import Changer
from hpt.scsi.smc.elements import (
    INVALID_ELEMENT_ADDRESS,
    MAX_ELEMENTS,
    MEDIUM_DESTINATION_FULL,
    MEDIUM_SOURCE_EMPTY,
    Cartridge,
    DriveSlot,
    ElementType,
    build_elements,
    layout,
)
from tests.scsi.smc.conftest import DRIVE0, DRIVE1, IE0, SLOT0, FakeDrive, new_changer


def test_layout_runs_picker_slots_import_export_drives() -> None:
    shape = layout(8, 1, 2)
    assert [shape.first(k) for k in ElementType if k] == [1, SLOT0, IE0, DRIVE0]
    elements = build_elements(shape, [DriveSlot(FakeDrive("a"), 1), DriveSlot(FakeDrive("b"), 2)])
    assert [e.address for e in elements] == [1, *range(1000, 1008), 1008, 1009, 1010]
    assert [e.type for e in elements][-3:] == [ElementType.IMPORT_EXPORT, *[ElementType.DATA_TRANSFER] * 2]
    assert [e.index for e in elements if e.type == ElementType.STORAGE] == list(range(8))


@pytest.mark.parametrize("counts", [(0, 1, 1), (1, -1, 0), (MAX_ELEMENTS, 1, 0)])
def test_bad_layouts_are_refused(counts: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        layout(*counts)


def test_drive_count_must_match_the_layout() -> None:
    with pytest.raises(ValueError, match="2 drives, 1 given"):
        build_elements(layout(2, 0, 2), [DriveSlot(FakeDrive("a"), 1)])


def _asc(err: pytest.ExceptionInfo[SenseError]) -> object:
    return err.value.asc


def test_move_loads_and_unloads_drives(changer: Changer, drives: list[FakeDrive]) -> None:
    changer.move(SLOT0, DRIVE1)
    assert drives[1].loaded == Path("/media/HPT001L6")
    dte = changer.element(DRIVE1)
    assert dte.medium is not None and dte.medium.barcode == "HPT001L6" and dte.source == SLOT0
    assert changer.element(SLOT0).medium is None
    changer.move(DRIVE1, IE0)
    assert drives[1].loaded is None and changer.element(IE0).source == DRIVE1
    assert drives[1].history == ["load HPT001L6", "unload HPT001L6"]


@pytest.mark.parametrize(("src", "dst", "asc"), [
    (IE0, SLOT0 + 1, MEDIUM_SOURCE_EMPTY),
    (SLOT0, SLOT0 + 1, MEDIUM_DESTINATION_FULL),
    (SLOT0, 5000, INVALID_ELEMENT_ADDRESS),
    (5000, IE0, INVALID_ELEMENT_ADDRESS),
    (1, IE0, INVALID_ELEMENT_ADDRESS),  # the picker holds no medium
    (SLOT0, 1, INVALID_ELEMENT_ADDRESS),
])
def test_bad_moves(changer: Changer, src: int, dst: int, asc: object) -> None:
    before = [e.medium for e in changer.elements]
    with pytest.raises(SenseError) as err:
        changer.move(src, dst)
    assert _asc(err) == asc
    assert [e.medium for e in changer.elements] == before


def test_a_drive_holding_a_medium_of_its_own_is_full(drives: list[FakeDrive]) -> None:
    drives[0].load(Path("/elsewhere"))
    changer = new_changer(drives)
    with pytest.raises(SenseError) as err:
        changer.move(SLOT0, DRIVE0)
    assert _asc(err) == MEDIUM_DESTINATION_FULL


def test_prevented_drive_keeps_its_medium(changer: Changer, drives: list[FakeDrive]) -> None:
    changer.move(SLOT0, DRIVE0)
    drives[0].prevented = True
    with pytest.raises(SenseError) as err:
        changer.move(DRIVE0, IE0)
    assert _asc(err) == MEDIUM_REMOVAL_PREVENTED
    assert drives[0].loaded is not None and changer.element(DRIVE0).medium is not None
    assert changer.element(IE0).medium is None


def test_failed_load_puts_the_drives_back(changer: Changer, drives: list[FakeDrive]) -> None:
    changer.move(SLOT0, DRIVE0)
    changer.element(SLOT0 + 1).medium = Cartridge("BAD", Path("/media/bad"))
    with pytest.raises(SenseError):
        changer.exchange(SLOT0 + 1, DRIVE0, SLOT0)  # DRIVE0 unloads, then loading "bad" fails
    assert drives[0].loaded == Path("/media/HPT001L6")
    assert changer.element(SLOT0).medium is None and changer.element(DRIVE0).medium is not None


def test_exchange_three_way_and_swap(changer: Changer, drives: list[FakeDrive]) -> None:
    changer.move(SLOT0, DRIVE0)
    changer.exchange(SLOT0 + 1, DRIVE0, SLOT0)  # new tape into the drive, the old one home
    assert drives[0].loaded == Path("/media/HPT002L6")
    assert changer.element(SLOT0).medium.barcode == "HPT001L6"  # type: ignore[union-attr]
    assert changer.element(SLOT0 + 1).medium is None
    changer.move(SLOT0, DRIVE1)
    changer.exchange(DRIVE0, DRIVE1, DRIVE0)  # swap the two drives' media
    assert (drives[0].loaded, drives[1].loaded) == (Path("/media/HPT001L6"), Path("/media/HPT002L6"))


@pytest.mark.parametrize(("src", "first", "second", "asc"), [
    (IE0, SLOT0, IE0, MEDIUM_SOURCE_EMPTY),
    (SLOT0, IE0, SLOT0, MEDIUM_SOURCE_EMPTY),
    (SLOT0, SLOT0 + 1, SLOT0 + 2, MEDIUM_DESTINATION_FULL),
    (SLOT0, SLOT0, IE0, MEDIUM_DESTINATION_FULL),
    (SLOT0, SLOT0 + 1, 7777, INVALID_ELEMENT_ADDRESS),
])
def test_bad_exchanges(changer: Changer, src: int, first: int, second: int, asc: object) -> None:
    with pytest.raises(SenseError) as err:
        changer.exchange(src, first, second)
    assert _asc(err) == asc


def test_every_change_is_saved(drives: list[FakeDrive]) -> None:
    saved: list[list[str | None]] = []
    changer = Changer(layout(2, 0, 1), [DriveSlot(drives[0], 1)],
                      save=lambda c: saved.append([e.medium and e.medium.barcode for e in c.elements]))
    changer.place(changer.elements[1], Cartridge("A", Path("/a")))
    assert saved == []
    changer.move(1000, 1002)
    changer.move(1002, 1001)
    assert saved == [[None, None, None, "A"], [None, None, "A", None]]


def test_save_failure_is_logged_not_raised(drives: list[FakeDrive], caplog: pytest.LogCaptureFixture) -> None:
    def fail(changer: Changer) -> None:
        raise OSError(28, "No space left on device")

    changer = Changer(layout(2, 0, 0), [], save=fail)
    changer.place(changer.elements[1], Cartridge("A", Path("/a")))
    changer.move(1000, 1001)
    assert changer.element(1001).medium is not None
    assert "cannot save" in caplog.text


def test_relabel_reads_barcodes_again(changer: Changer) -> None:
    changer.label = lambda c: c.barcode.lower()
    changer.relabel(changer.elements[:3])
    assert [e.medium.barcode for e in changer.elements[1:4]] == ["hpt001l6", "hpt002l6", "HPT003L6"]  # type: ignore[union-attr]


def test_a_changer_may_wait_on_the_callers_thread(lu: LogicalUnit) -> None:
    """Its commands move media files (no store): a transport's event loop never runs them."""
    assert lu.store is None and not lu.profile.store_bound and lu.waits
