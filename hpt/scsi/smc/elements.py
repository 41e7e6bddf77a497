"""The changer's elements (SMC-3 4.2): medium transport, storage, import/export and data transfer.

Each element has a type, an address and (when full) a :class:`Cartridge`. A data transfer element
holds a :class:`~hpt.scsi.core.drive.MediumDrive`, the drive LU the library loads; the changer never
looks inside a drive or a cartridge, so tape and optical media are alike to it. Addresses are laid out
in one ascending run per type, in the order mode page 1Dh lists them (SMC-3 7.3.3): the picker, the
storage slots, the import/export slots, the drives (:func:`layout`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import Asc, SenseKey

if TYPE_CHECKING:
    from hpt.scsi.core.drive import MediumDrive

_I, _U = SenseKey.ILLEGAL_REQUEST, SenseKey.UNIT_ATTENTION
# SMC-3 Annex (additional sense codes of the medium changer)
INVALID_ELEMENT_ADDRESS = Asc(_I, 0x21, 0x01)
MEDIUM_DESTINATION_FULL = Asc(_I, 0x3B, 0x0D)
MEDIUM_SOURCE_EMPTY = Asc(_I, 0x3B, 0x0E)
IMPORT_EXPORT_ACCESSED = Asc(_U, 0x28, 0x01)

TRANSPORT_ADDRESS = 1  # the picker
STORAGE_BASE = 1000  # the first storage slot (tgt's VTL example numbers its slots from 1000)
MAX_ELEMENTS = 0xFFFF - STORAGE_BASE  # element addresses are 16 bits (SMC-3 6.10)


class ElementType(IntEnum):
    """ELEMENT TYPE CODE (SMC-3 6.10 table 22); 0 in a CDB means all types."""

    ALL = 0
    TRANSPORT = 1
    STORAGE = 2
    IMPORT_EXPORT = 3
    DATA_TRANSFER = 4


#: The order elements are numbered and reported in (READ ELEMENT STATUS with element type 0).
ORDER = (ElementType.TRANSPORT, ElementType.STORAGE, ElementType.IMPORT_EXPORT, ElementType.DATA_TRANSFER)


@dataclass(frozen=True, slots=True)
class Cartridge:
    """A medium: its file in the media directory and its barcode (the primary volume tag)."""

    barcode: str
    path: Path


@dataclass(frozen=True, slots=True)
class DriveSlot:
    """A data transfer element's drive and the LUN it answers at in the changer's target."""

    drive: MediumDrive
    lun: int


@dataclass(slots=True, eq=False)
class Element:
    """One element: ``medium`` when full; ``source`` the address it was last moved from (SVALID);
    ``imported`` when an operator put the medium into an import/export slot (IMPEXP)."""

    type: ElementType
    address: int
    index: int  # its place among the elements of its type
    drive: DriveSlot | None = None
    medium: Cartridge | None = None
    source: int | None = None
    imported: bool = False

    @property
    def full(self) -> bool:
        return self.medium is not None


@dataclass(frozen=True, slots=True)
class Layout:
    """How many elements of each type, and the first address of each run (mode page 1Dh)."""

    slots: int
    import_export: int
    drives: int

    def count(self, kind: ElementType) -> int:
        return {ElementType.TRANSPORT: 1, ElementType.STORAGE: self.slots,
                ElementType.IMPORT_EXPORT: self.import_export, ElementType.DATA_TRANSFER: self.drives}[kind]

    def first(self, kind: ElementType) -> int:
        """The address of the first element of ``kind``: each run starts where the previous ended."""
        if kind == ElementType.TRANSPORT:
            return TRANSPORT_ADDRESS
        address = STORAGE_BASE
        for before in ORDER[1:ORDER.index(kind)]:
            address += self.count(before)
        return address


def layout(slots: int, import_export: int, drives: int) -> Layout:
    """A checked layout: at least one storage slot, and every address within 16 bits."""
    if slots < 1 or import_export < 0 or drives < 0:
        raise ValueError("a library needs at least one storage slot and no negative counts")
    if slots + import_export + drives > MAX_ELEMENTS:
        raise ValueError(f"a library has at most {MAX_ELEMENTS} slots and drives")
    return Layout(slots, import_export, drives)


def build_elements(shape: Layout, drives: list[DriveSlot]) -> list[Element]:
    """Every element of ``shape`` in reporting order; ``drives`` fill the data transfer elements."""
    if len(drives) != shape.drives:
        raise ValueError(f"the layout has {shape.drives} drives, {len(drives)} given")
    elements: list[Element] = []
    for kind in ORDER:
        first = shape.first(kind)
        for i in range(shape.count(kind)):
            drive = drives[i] if kind == ElementType.DATA_TRANSFER else None
            elements.append(Element(kind, first + i, i, drive))
    return elements
