"""A changer LU from its configuration: the library's drives (its target's drive LUs), its elements,
and where its cartridges are, restored from the media directory's state file (``hpt.media.library``)
or, the first time, from the configured placement. Every later move is saved there."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hpt.media.header import MediaError
from hpt.media.library import Placed, Placement, Slot, barcode_of, load_state, save_state
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.drive import drive_of as dvd_drive_of
from hpt.scsi.mmc.state import DvdState
from hpt.scsi.smc.changer import Changer
from hpt.scsi.smc.elements import Cartridge, DriveSlot, Element, ElementType, layout
from hpt.scsi.smc.profile import make_changer
from hpt.scsi.ssc.drive import drive_of
from hpt.scsi.ssc.state import TapeState

if TYPE_CHECKING:
    from hpt.daemon.config.schema import LibraryConfig, LunConfig
    from hpt.scsi.core.drive import MediumDrive
    from hpt.scsi.lu import LogicalUnit

log = logging.getLogger("hpt.daemon.library")
_DRIVE_API = ("loaded", "load", "unload", "identifier")


def medium_drive(lu: LogicalUnit) -> MediumDrive:
    """The MediumDrive of a drive LU: a tape LU's ``TapeDrive`` (``hpt.scsi.ssc.drive``), a DVD LU's
    ``DvdDrive`` (``hpt.scsi.mmc.drive``), else a ``state`` that is one; ValueError otherwise."""
    if lu.profile.device_type == DeviceType.TAPE and isinstance(lu.state, TapeState):
        return drive_of(lu)
    if lu.profile.device_type == DeviceType.CDROM and isinstance(lu.state, DvdState):
        return dvd_drive_of(lu)
    state = lu.state
    if all(hasattr(state, name) for name in _DRIVE_API):
        drive: MediumDrive = state
        return drive
    raise ValueError(f"lun {lu.lun} ({lu.profile.name}) is not a drive with removable media")


def build_changer(config: LunConfig, lus: Mapping[int, LogicalUnit]) -> LogicalUnit:
    """The changer LU of ``config`` over the drive LUs among ``lus`` (by LUN), its cartridges in place."""
    library = config.library
    assert library is not None
    if not library.media.is_dir():
        raise ValueError(f"lun {config.lun}: media directory {library.media} does not exist")
    drives = []
    for lun in library.drives:
        if lun not in lus:
            raise ValueError(f"lun {config.lun}: drive LUN {lun} is not built")
        drives.append(DriveSlot(medium_drive(lus[lun]), lun))
    media = library.media
    changer = Changer(layout(library.slots, library.import_export, len(drives)), drives,
                      label=lambda c: _label(c, c.barcode), save=lambda c: save_state(media, placement_of(c)))
    restore(changer, library)
    return make_changer(config.lun, config.params, changer)


def _kind(element: Element) -> str:
    return element.type.name.lower()


def _label(cartridge: Cartridge, default: str) -> str:
    """The cartridge file's barcode, or ``default`` when it cannot be read."""
    try:
        return barcode_of(cartridge.path)
    except (OSError, MediaError) as err:
        log.error("%s: cannot read its barcode: %s", cartridge.path, err)
        return default


def placement_of(changer: Changer) -> Placement:
    """Where each cartridge is, as the state file keeps it."""
    slots = {e.address: (_kind(e), e.index) for e in changer.elements}
    return {(_kind(e), e.index): Placed(e.medium.path.name, slots.get(e.source) if e.source else None,
                                        e.imported)
            for e in changer.elements if e.medium is not None}


def _initial(library: LibraryConfig) -> Placement:
    return {("storage", c.slot): Placed(c.file) for c in library.cartridges}


def restore(changer: Changer, library: LibraryConfig) -> None:
    """Put every cartridge where the state file (else the configuration) says, then save.

    A configured cartridge the state does not know yet goes to its configured slot if that is free.
    An element the library no longer has, a drive that cannot load its cartridge, or a missing file
    is logged; such a cartridge goes to the first free storage slot, or stays out of the library.
    """
    placement = load_state(library.media)
    if placement is None:
        placement = _initial(library)
    else:
        known = {p.file for p in placement.values()}
        for slot, placed in _initial(library).items():
            if placed.file not in known and slot not in placement:
                placement[slot] = placed
    elements = {(_kind(e), e.index): e for e in changer.elements}
    homeless: list[Cartridge] = []
    for slot, placed in sorted(placement.items()):
        path = library.media / placed.file
        cartridge = Cartridge(_label(Cartridge("", path), placed.file), path)
        if not path.is_file():
            log.error("%s: missing from the media directory; left out of the library", path)
            continue
        if not _put(changer, elements.get(slot), slot, cartridge, placed, elements):
            homeless.append(cartridge)
    for cartridge in homeless:
        free = next((e for e in changer.of_type(ElementType.STORAGE) if e.medium is None), None)
        if free is None:
            log.error("%s: no free storage slot; left out of the library", cartridge.path)
        else:
            changer.place(free, cartridge)
    changer.changed()


def _put(changer: Changer, element: Element | None, slot: Slot, cartridge: Cartridge, placed: Placed,
         elements: Mapping[Slot, Element]) -> bool:
    if element is None:
        log.error("%s: its element %s %d is no longer in the library", cartridge.path, *slot)
        return False
    source = elements.get(placed.source) if placed.source else None
    try:
        changer.place(element, cartridge, source.address if source else None, placed.imported)
    except (SenseError, MediaError, OSError) as err:
        log.error("%s: cannot go back into element %d: %s", cartridge.path, element.address, err)
        return False
    return True

