"""One fresh LU of each device type for the CDB harness, built as the device types' own tests build them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from hpt.media import disc
from hpt.media.tape import create as create_cartridge
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.sbc.profile import make_disk
from hpt.scsi.smc.profile import CHANGER, make_changer
from hpt.store.registry import open_store
from tests.scsi.mmc.conftest import dvd_lu, make_iso
from tests.scsi.osd.conftest import make_lu as osd_lu
from tests.scsi.smc.conftest import FakeDrive, new_changer
from tests.scsi.ssc.conftest import tape_lu

Builder = Callable[[Path], LogicalUnit]


def disk(tmp: Path) -> LogicalUnit:
    return make_disk(0, LuParams(thin=True), open_store("ram", {"size": 1 << 20}))


def disk_4k_file(tmp: Path) -> LogicalUnit:
    store = open_store("file", {"path": str(tmp / "disk.img"), "size": 2 << 20})
    return make_disk(0, LuParams(block_size=4096, thin=True, write_cache=False), store)


def tape(tmp: Path) -> LogicalUnit:
    path = tmp / "HPT001L6"
    create_cartridge(path, "HPT001L6", 1 << 20, early_warning=64 << 10)
    return tape_lu(path)


def changer(tmp: Path) -> LogicalUnit:
    return make_changer(0, LuParams(product=CHANGER.product), new_changer([FakeDrive("D0"), FakeDrive("D1")]))


def dvd_rom(tmp: Path) -> LogicalUnit:
    iso = tmp / "DVD001.iso"
    cached = Path(__file__).resolve().parent / ".cache" / "DVD001.iso"
    if not cached.exists():  # made once, in place at once (parallel runs never see half of it)
        cached.parent.mkdir(exist_ok=True)
        part = make_iso(cached.with_name(f"{cached.name}.{os.getpid()}"))
        part.replace(cached)
    shutil.copyfile(cached, iso)
    return dvd_lu(iso)


def dvd_blank(tmp: Path) -> LogicalUnit:
    path = tmp / "BLANK01"
    disc.create(path, disc.MIN_BLOCKS)
    return dvd_lu(path)


def dvd_empty(tmp: Path) -> LogicalUnit:
    return dvd_lu(None)


def osd(tmp: Path) -> LogicalUnit:
    return osd_lu(tmp / "objects")


DEVICES: dict[str, Builder] = {
    "disk": disk, "disk-4k-file": disk_4k_file, "tape": tape, "changer": changer,
    "dvd-rom": dvd_rom, "dvd-blank": dvd_blank, "dvd-empty": dvd_empty, "osd": osd,
}


def close(lu: LogicalUnit) -> None:
    """Let go of the LU's files (its store, a tape's cartridge, a disc, the OSD's database)."""
    lu.release()
