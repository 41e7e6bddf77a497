"""A changer LUN's library keys (SMC-3 4.2): ``drives``, the LUNs of its target that are its data
transfer elements, and ``[[target.lun.cartridge]]``, where each cartridge starts when the media
directory holds no library state yet. ``slots``, ``import_export`` and ``media`` are the changer
profile's own keys (``hpt.scsi.smc.profile``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hpt.daemon.config.schema import CartridgeConfig, LibraryConfig, LunConfig
from hpt.media.library import file_name_error
from hpt.scsi.core.constants import DeviceType

if TYPE_CHECKING:
    from hpt.daemon.config.tables import Table
    from hpt.scsi.lu import LuParams

LIBRARY_KEYS = ("drives", "cartridge")
CARTRIDGE_KEYS = ("slot", "barcode", "file")
#: Device types a changer can load: drives with removable media (MediumDrive).
DRIVE_TYPES = (DeviceType.TAPE, DeviceType.CDROM)
MAX_BARCODE = 32  # a volume tag's identifier (SMC-3 7.1)
_MAX_LUN = 16383


def barcode_error(barcode: str) -> str | None:
    """Why ``barcode`` cannot be a volume tag (1..32 printable ASCII characters, no spaces), or None."""
    if not 1 <= len(barcode) <= MAX_BARCODE or not all("!" <= c <= "~" for c in barcode):
        return f'must be 1..{MAX_BARCODE} printable ASCII characters without spaces, got "{barcode}"'
    return None


def read_library(table: Table, params: LuParams) -> LibraryConfig:
    """The library of a changer LUN whose LU parameters (``slots``, ``import_export``, ``media``)
    are already read."""
    slots, extra = params.extra["slots"], params.extra
    drives = table.integers("drives", 0, _MAX_LUN) or []
    for i, lun in enumerate(drives):
        if lun in drives[:i]:
            raise table.fail("drives", f"LUN {lun} is listed twice")
    cartridges: list[CartridgeConfig] = []
    for cart in table.array("cartridge", CARTRIDGE_KEYS):
        cart.required("slot")
        slot = cart.integer("slot", 1, 1, slots)
        barcode, name = cart.text("barcode"), cart.text("file")
        if not barcode and not name:
            raise cart.fail("barcode", "a cartridge needs a barcode or a file (or both)")
        if barcode and (problem := barcode_error(barcode)):
            raise cart.fail("barcode", problem)
        if problem := file_name_error(name or barcode):
            raise cart.fail("file" if name else "barcode", problem)
        for i, other in enumerate(cartridges):
            if other.slot == slot - 1:
                raise cart.fail("slot", f"slot {slot} already holds cartridge[{i}]")
            if other.file == (name or barcode):
                raise cart.fail("file" if name else "barcode", f'file "{other.file}" is also cartridge[{i}]')
        cartridges.append(CartridgeConfig(slot - 1, name or barcode, barcode))
    return LibraryConfig(slots, extra["import_export"], Path(extra["media"]), drives, cartridges)


def check_drives(tables: list[Table], luns: list[LunConfig]) -> None:
    """Every changer's drives are LUNs of its target with removable media, each in one library; no
    two libraries share a media directory."""
    by_number = {lc.lun: lc for lc in luns}
    owner: dict[int, int] = {}
    media: dict[Path, int] = {}
    for table, lc in zip(tables, luns, strict=True):
        if lc.library is None:
            continue
        for lun in lc.library.drives:
            drive = by_number.get(lun)
            if drive is None:
                raise table.fail("drives", f"LUN {lun} is not a LUN of this target")
            if drive.profile.device_type not in DRIVE_TYPES:
                raise table.fail("drives", f'LUN {lun} is a {drive.type}, not a drive with removable media')
            if lun in owner:
                raise table.fail("drives", f"LUN {lun} is already a drive of the changer at LUN {owner[lun]}")
            owner[lun] = lc.lun
        if lc.library.media in media:
            raise table.fail("media", f"the changer at LUN {media[lc.library.media]} uses this directory too")
        media[lc.library.media] = lc.lun
