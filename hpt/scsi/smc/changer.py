"""The library's state and what moves media in it (SMC-3 4.2, 4.3; 6.5 EXCHANGE MEDIUM, 6.6 MOVE MEDIUM).

A :class:`Changer` is a changer LU's ``lu.state``: its elements by address, the I_T nexuses that
prevent operator access to the import/export slots (SMC-3 6.13), and where a change of placement is
saved. Every move checks its addresses and the fullness of its elements first, then unloads and
loads the drives involved; a drive that refuses (e.g. MEDIUM REMOVAL PREVENTED from its own PREVENT)
leaves every element as it was. The caller holds the changer LU's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hpt.scsi.core.sense import SenseError
from hpt.scsi.smc.elements import (
    INVALID_ELEMENT_ADDRESS,
    MEDIUM_DESTINATION_FULL,
    MEDIUM_SOURCE_EMPTY,
    Cartridge,
    DriveSlot,
    Element,
    ElementType,
    Layout,
    build_elements,
)

if TYPE_CHECKING:
    from hpt.scsi.core.drive import MediumDrive

log = logging.getLogger("hpt.scsi.smc")

#: One element's new content in a move: (element, cartridge or None, source address or None).
Change = tuple[Element, Cartridge | None, int | None]


def _drive_of(element: Element) -> MediumDrive | None:
    return None if element.drive is None else element.drive.drive


class Changer:
    """The elements of one library and the operations on them.

    ``label(path)`` reads a cartridge's barcode (INITIALIZE ELEMENT STATUS reads them again);
    ``save(changer)`` is called after every change of placement (the library's state file).
    """

    def __init__(self, shape: Layout, drives: list[DriveSlot], *,
                 label: Callable[[Cartridge], str] = lambda c: c.barcode,
                 save: Callable[[Changer], None] | None = None) -> None:
        self.layout = shape
        self.elements = build_elements(shape, drives)
        self._by_address = {e.address: e for e in self.elements}
        self.label = label
        self.save = save
        self.preventers: set[str] = set()  # I_T nexuses preventing import/export access (SMC-3 6.13)

    # -- looking elements up ---------------------------------------------------------------------
    def element(self, address: int, field: int | None = None) -> Element:
        """The element at ``address``, or ILLEGAL REQUEST, INVALID ELEMENT ADDRESS."""
        element = self._by_address.get(address)
        if element is None:
            raise SenseError(INVALID_ELEMENT_ADDRESS, field=field)
        return element

    def of_type(self, kind: ElementType) -> list[Element]:
        return [e for e in self.elements if kind in (ElementType.ALL, e.type)]

    def check_transport(self, address: int, field: int = 2) -> None:
        """A MEDIUM TRANSPORT ADDRESS: zero (the default picker) or the picker's own address."""
        if address and self.element(address, field).type != ElementType.TRANSPORT:
            raise SenseError(INVALID_ELEMENT_ADDRESS, field=field)

    def _holder(self, address: int, field: int) -> Element:
        """An element a move may use as source or destination: the picker stores no medium
        (mode page 1Fh STOR MT is zero)."""
        element = self.element(address, field)
        if element.type == ElementType.TRANSPORT:
            raise SenseError(INVALID_ELEMENT_ADDRESS, field=field)
        return element

    # -- moving media ----------------------------------------------------------------------------
    def move(self, source: int, destination: int) -> None:
        """MOVE MEDIUM: the medium at ``source`` goes to the empty ``destination`` (SMC-3 6.6)."""
        src, dst = self._holder(source, 4), self._holder(destination, 6)
        if src.medium is None:
            raise SenseError(MEDIUM_SOURCE_EMPTY, field=4)
        if src is dst:
            return
        if self._occupied(dst):
            raise SenseError(MEDIUM_DESTINATION_FULL, field=6)
        self._apply([(src, None, None), (dst, src.medium, src.address)])

    def exchange(self, source: int, first: int, second: int) -> None:
        """EXCHANGE MEDIUM: the source's medium goes to ``first``, whose medium goes to ``second``
        (which is empty, or the source itself: a swap) (SMC-3 6.5)."""
        src, one, two = self._holder(source, 4), self._holder(first, 6), self._holder(second, 8)
        if src.medium is None:
            raise SenseError(MEDIUM_SOURCE_EMPTY, field=4)
        if one.medium is None:
            raise SenseError(MEDIUM_SOURCE_EMPTY, field=6)
        if src is one:
            raise SenseError(MEDIUM_DESTINATION_FULL, field=6)
        if two is not src and self._occupied(two):
            raise SenseError(MEDIUM_DESTINATION_FULL, field=8)
        changes: list[Change] = [(one, src.medium, src.address), (two, one.medium, one.address)]
        if two is not src:
            changes.insert(0, (src, None, None))
        self._apply(changes)

    def _occupied(self, element: Element) -> bool:
        """Full, or a drive holding a medium the library did not put there."""
        drive = _drive_of(element)
        return element.medium is not None or (drive is not None and drive.loaded is not None)

    def _apply(self, changes: list[Change]) -> None:
        """Unload every drive whose medium leaves, load every drive that gets one, then record the
        new placement; if a drive refuses, the drives go back to what they held."""
        unloaded: list[Element] = []
        loaded: list[Element] = []
        try:
            for element, _, _ in changes:
                drive = _drive_of(element)
                if drive is not None and element.medium is not None and drive.loaded is not None:
                    drive.unload()
                    unloaded.append(element)
            for element, cartridge, _ in changes:
                drive = _drive_of(element)
                if drive is not None and cartridge is not None:
                    drive.load(cartridge.path)
                    loaded.append(element)
        except BaseException:
            self._undo(loaded, unloaded)
            raise
        for element, cartridge, source in changes:
            element.medium, element.source, element.imported = cartridge, source, False
        self.changed()

    @staticmethod
    def _undo(loaded: Iterable[Element], unloaded: Iterable[Element]) -> None:
        for element in loaded:
            _quietly(element, lambda d, e: d.unload())
        for element in unloaded:
            _quietly(element, lambda d, e: d.load(e.medium.path))  # type: ignore[union-attr]

    # -- placing media without the picker ----------------------------------------------------------
    def place(self, element: Element, cartridge: Cartridge, source: int | None = None,
              imported: bool = False) -> None:
        """Put ``cartridge`` into the empty ``element`` (restored state, an operator's hand); a drive
        loads it. Not saved: the caller saves once it has placed everything."""
        if self._occupied(element):
            raise SenseError(MEDIUM_DESTINATION_FULL)
        drive = _drive_of(element)
        if drive is not None:
            drive.load(cartridge.path)
        element.medium, element.source, element.imported = cartridge, source, imported

    def take(self, element: Element) -> Cartridge:
        """Take the medium out of ``element`` by hand (an operator at the import/export slot)."""
        if element.medium is None:
            raise SenseError(MEDIUM_SOURCE_EMPTY)
        drive = _drive_of(element)
        if drive is not None and drive.loaded is not None:
            drive.unload()
        cartridge = element.medium
        element.medium, element.source, element.imported = None, None, False
        return cartridge

    def relabel(self, elements: Iterable[Element]) -> None:
        """Read the barcodes of the media in ``elements`` again (INITIALIZE ELEMENT STATUS)."""
        for element in elements:
            if element.medium is not None:
                barcode = self.label(element.medium)
                if barcode != element.medium.barcode:
                    element.medium = Cartridge(barcode, element.medium.path)

    def changed(self) -> None:
        """Save the placement; a failed save is logged (the media have moved all the same)."""
        if self.save is None:
            return
        try:
            self.save(self)
        except OSError as err:
            log.error("cannot save the library's state: %s", err)


def _quietly(element: Element, action: Callable[[MediumDrive, Element], object]) -> None:
    """Put a drive back while undoing a move; a drive that fails again is logged."""
    drive = _drive_of(element)
    if drive is None:
        return
    try:
        action(drive, element)
    except Exception as err:  # noqa: BLE001 - undoing: the original failure is what the command reports
        log.error("element %d: cannot restore its drive: %s", element.address, err)
