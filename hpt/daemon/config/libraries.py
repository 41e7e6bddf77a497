"""The configuration text of a demo library (``hptd --demo vtl``, ``hptd --demo jukebox``): a target whose
changer is LUN 0 (its slots filled in order, one import/export slot) and whose drives follow it."""

from __future__ import annotations

import json
from collections.abc import Sequence


def library_text(portal: str, target: str, alias: str, media: str, drive_type: str,
                 cartridges: Sequence[tuple[str, str | None]], drives: int = 2) -> str:
    """``cartridges``: (barcode, file name or None for the barcode) from slot 1 on; as many slots as
    cartridges; the drives are LUNs 1.. of ``drive_type``."""
    luns = list(range(1, drives + 1))
    slots = "".join(f'\n[[target.lun.cartridge]]\nslot = {i}\nbarcode = "{code}"\n'
                    + (f'file = "{name}"\n' if name else "") for i, (code, name) in enumerate(cartridges, 1))
    drive_luns = "".join(f'\n[[target.lun]]\nlun = {lun}\ntype = "{drive_type}"\n' for lun in luns)
    return (
        f"[[portal]]\naddress = {json.dumps(portal)}\n\n"
        f'[[target]]\nname = "{target}"\nalias = "{alias}"\n\n'
        f'[[target.lun]]\nlun = 0\ntype = "changer"\nslots = {len(cartridges)}\nimport_export = 1\n'
        f"media = {json.dumps(media)}\ndrives = {json.dumps(luns)}\n{slots}{drive_luns}"
    )
