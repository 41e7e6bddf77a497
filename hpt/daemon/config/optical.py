"""The optical demos' configuration texts: ``hptd --demo dvd`` (a DVD-ROM and a DVD+R drive) and
``hptd --demo jukebox`` (a DVD jukebox: a changer whose drives are DVD drives, ``docs/config.md``)."""

from __future__ import annotations

import json

from hpt.daemon.config.libraries import library_text

DVD_TARGET = "iqn.2026-11.org.hpt:dvd"
JUKEBOX_TARGET = "iqn.2026-11.org.hpt:jukebox"
#: The jukebox's discs, slot 1 first: four DVD-ROMs (ISO images) and four blank DVD+Rs.
JUKEBOX_ROMS = tuple(f"DVD{i:03d}" for i in range(1, 5))
JUKEBOX_BLANKS = tuple(f"BLK{i:03d}" for i in range(1, 5))


def disc_file(barcode: str) -> str:
    """A jukebox disc's file name: an ISO image keeps its suffix, a DVD+R medium file has none."""
    return f"{barcode}.iso" if barcode in JUKEBOX_ROMS else barcode


def _portal(portal: str) -> str:
    return f"[[portal]]\naddress = {json.dumps(portal)}\n\n"


def dvd_text(portal: str, iso: str, blank: str) -> str:
    """Target ``iqn.2026-11.org.hpt:dvd``: LUN 1 a DVD-ROM holding ``iso``, LUN 2 a DVD+R drive
    holding the blank disc ``blank``."""
    return (
        f'{_portal(portal)}[[target]]\nname = "{DVD_TARGET}"\nalias = "dvd"\n\n'
        f'[[target.lun]]\nlun = 1\ntype = "dvd"\ndisc = {json.dumps(iso)}\n\n'
        f'[[target.lun]]\nlun = 2\ntype = "dvd"\ndisc = {json.dumps(blank)}\n'
    )


def jukebox_text(portal: str, media: str) -> str:
    """Target ``iqn.2026-11.org.hpt:jukebox``: the changer at LUN 0 (8 slots holding the discs of
    ``JUKEBOX_ROMS`` and ``JUKEBOX_BLANKS``, 1 import/export slot, media in ``media``) and its two DVD
    drives at LUNs 1 and 2."""
    discs = [(code, disc_file(code)) for code in (*JUKEBOX_ROMS, *JUKEBOX_BLANKS)]
    return library_text(portal, JUKEBOX_TARGET, "jukebox", media, "dvd", discs)
