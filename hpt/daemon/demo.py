"""The demos' media: ``hptd --demo vtl`` keeps its cartridges in a directory it fills the first time;
``hptd --demo dvd`` makes an ISO (pycdlib) and a blank DVD+R, ``hptd --demo jukebox`` a directory of
ISO images and blank DVD+Rs."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
from pathlib import Path

from hpt.daemon.config.build import VTL_BARCODES
from hpt.daemon.config.optical import JUKEBOX_BLANKS, JUKEBOX_ROMS, disc_file
from hpt.media import disc, tape
from hpt.media.library import STATE_FILE

CARTRIDGE_BYTES = 256 << 20  # each demo cartridge's capacity (the file grows only as it is written)
BLANK_BLOCKS = (256 << 20) // disc.BLOCK  # each demo DVD+R's capacity: 256 MiB (sparse)


def _directory(path: str | None, prefix: str) -> Path:
    """``path`` (created if need be, kept), or a temporary directory removed when hptd exits."""
    if path is None:
        media = Path(tempfile.mkdtemp(prefix=prefix))
        atexit.register(shutil.rmtree, media, ignore_errors=True)
        return media
    media = Path(path).resolve()
    media.mkdir(parents=True, exist_ok=True)
    return media


def vtl_media(path: str | None) -> Path:
    """The VTL demo's media directory: ``path`` (created if need be, kept; a library already there
    is used as it is), or a temporary directory removed when hptd exits. Missing cartridges are
    created unless the directory already holds a library state."""
    media = _directory(path, "hpt-vtl-")
    if not (media / STATE_FILE).exists():
        for barcode in VTL_BARCODES:
            if not (media / barcode).exists():
                tape.create(media / barcode, barcode, CARTRIDGE_BYTES)
    return media


def make_iso(path: Path, label: str) -> None:
    """A small ISO 9660 image (with Joliet names) holding a README, made with pycdlib (imported here:
    the other demos and hptd itself run without it, e.g. under a distribution's python3 in the lab guest)."""
    import pycdlib

    text = f"hpt demo disc {label}: a DVD-ROM served by hptd (docs/config.md)\n".encode()
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, vol_ident=label)
    iso.add_fp(io.BytesIO(text), len(text), "/README.TXT;1", joliet_path="/README.txt")
    iso.write(str(path))
    iso.close()


def dvd_media(iso: str | None) -> tuple[Path, Path]:
    """The DVD demo's discs: ``iso`` (or a small ISO made now) and a new blank DVD+R, in a temporary
    directory removed when hptd exits."""
    media = _directory(None, "hpt-dvd-")
    image = Path(iso).resolve() if iso else media / "DEMO.iso"
    if not iso:
        make_iso(image, "HPTDEMO")
    elif not image.is_file():
        raise ValueError(f"{iso}: no such ISO image")
    blank = media / "BLANK"
    disc.create(blank, BLANK_BLOCKS, "BLANK")
    return image, blank


def jukebox_media(path: str | None) -> Path:
    """The jukebox demo's media directory, as :func:`vtl_media`: missing discs (ISO images DVD001..,
    blank DVD+Rs BLK001..) are made unless the directory already holds a library state."""
    media = _directory(path, "hpt-jukebox-")
    if not (media / STATE_FILE).exists():
        for barcode in JUKEBOX_ROMS:
            if not (media / disc_file(barcode)).exists():
                make_iso(media / disc_file(barcode), barcode)
        for barcode in JUKEBOX_BLANKS:
            if not (media / barcode).exists():
                disc.create(media / barcode, BLANK_BLOCKS, barcode)
    return media


def osd_store(path: str | None) -> Path:
    """The OSD demo's object store directory: ``path`` (created if need be, kept: a store already there
    is served as it is), or a temporary directory removed when hptd exits."""
    if path is None:
        store = Path(tempfile.mkdtemp(prefix="hpt-osd-"))
        atexit.register(shutil.rmtree, store, ignore_errors=True)
        return store
    store = Path(path).resolve()
    store.mkdir(parents=True, exist_ok=True)
    return store
