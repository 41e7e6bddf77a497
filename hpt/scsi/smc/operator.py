"""An operator's hand at the library: putting a medium into an element or taking one out without the
picker (SMC-3 4.2.4 import/export elements). Through an import/export slot this is refused while an
I_T nexus prevents medium removal (MEDIUM REMOVAL PREVENTED) and tells every I_T nexus IMPORT OR
EXPORT ELEMENT ACCESSED; anywhere else it is the library's door opened and closed: NOT READY TO READY
CHANGE, MEDIUM MAY HAVE CHANGED (SPC-5 5.14)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.constants import MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.smc.elements import (
    IMPORT_EXPORT_ACCESSED,
    INVALID_ELEMENT_ADDRESS,
    Cartridge,
    Element,
    ElementType,
)

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.smc.changer import Changer


def _reachable(lu: LogicalUnit, address: int) -> Element:
    changer: Changer = lu.state
    element = changer.element(address)
    if element.type == ElementType.TRANSPORT:
        raise SenseError(INVALID_ELEMENT_ADDRESS)
    if element.type == ElementType.IMPORT_EXPORT and changer.preventers:
        raise SenseError(MEDIUM_REMOVAL_PREVENTED)
    return element


def _accessed(lu: LogicalUnit, element: Element) -> None:
    asc = IMPORT_EXPORT_ACCESSED if element.type == ElementType.IMPORT_EXPORT else MEDIUM_CHANGED
    lu.ua.establish(asc)
    changer: Changer = lu.state
    changer.changed()


def insert(lu: LogicalUnit, address: int, cartridge: Cartridge) -> None:
    """An operator puts ``cartridge`` into the empty element at ``address`` (SenseError if refused)."""
    with lu.lock:
        element = _reachable(lu, address)
        changer: Changer = lu.state
        changer.place(element, cartridge, imported=element.type == ElementType.IMPORT_EXPORT)
        _accessed(lu, element)


def remove(lu: LogicalUnit, address: int) -> Cartridge:
    """An operator takes the medium out of the element at ``address`` (SenseError if refused)."""
    with lu.lock:
        element = _reachable(lu, address)
        changer: Changer = lu.state
        cartridge = changer.take(element)
        _accessed(lu, element)
        return cartridge
