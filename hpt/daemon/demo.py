"""The demos' media: ``hptd --demo vtl`` keeps its cartridges in a directory it fills the first time."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from hpt.daemon.config.build import VTL_BARCODES
from hpt.media import tape
from hpt.media.library import STATE_FILE

CARTRIDGE_BYTES = 256 << 20  # each demo cartridge's capacity (the file grows only as it is written)


def vtl_media(path: str | None) -> Path:
    """The VTL demo's media directory: ``path`` (created if need be, kept; a library already there
    is used as it is), or a temporary directory removed when hptd exits. Missing cartridges are
    created unless the directory already holds a library state."""
    if path is None:
        media = Path(tempfile.mkdtemp(prefix="hpt-vtl-"))
        atexit.register(shutil.rmtree, media, ignore_errors=True)
    else:
        media = Path(path).resolve()
        media.mkdir(parents=True, exist_ok=True)
    if not (media / STATE_FILE).exists():
        for barcode in VTL_BARCODES:
            if not (media / barcode).exists():
                tape.create(media / barcode, barcode, CARTRIDGE_BYTES)
    return media
