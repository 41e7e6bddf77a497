"""DVD LUNs in the configuration (docs/config.md ``type = "dvd"``): the disc key, no store, errors that
name the key and its line; the jukebox (examples/jukebox.toml, hptd --demo jukebox) built over DVD drives."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.daemon.config import ConfigError, load_config, parse_config
from hpt.daemon.config.optical import dvd_text, jukebox_text
from hpt.daemon.demo import dvd_media, jukebox_media
from hpt.daemon.luns import build_lu, build_lus
from hpt.media.disc import RecordableDisc
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.mmc.drive import DvdDrive
from hpt.scsi.smc.elements import ElementType

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "jukebox.toml"
DRIVE = '[[target]]\nname = "iqn.2026-11.org.hpt:d"\n\n[[target.lun]]\nlun = 1\ntype = "dvd"\n'


def test_dvd_demo_config() -> None:
    iso, blank = dvd_media(None)
    config = parse_config(dvd_text("127.0.0.1:3260", str(iso), str(blank)))
    rom, burner = (build_lu(lun) for lun in config.targets[0].luns)
    assert rom.profile.device_type == DeviceType.CDROM and rom.store is None and rom.params.removable
    assert not rom.state.disc.recordable and rom.state.disc.readable > 16
    assert isinstance(burner.state.disc, RecordableDisc) and burner.state.disc.capacity * 2048 >= 64 << 20
    for lu in (rom, burner):
        lu.state.disc.close()


def test_missing_demo_iso(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such ISO"):
        dvd_media(str(tmp_path / "none.iso"))


@pytest.mark.parametrize(("extra", "key", "message"), [
    ('store = "ram" # <-', "store", "a dvd has no store: its media are disc files"),
    ('block_size = 2048 # <-', "block_size", 'only for type = "disk"'),
    ('disc = 3 # <-', "disc", "must be"),
])
def test_dvd_key_errors(extra: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(DRIVE + extra + "\n", "t.toml")
    assert str(err.value).startswith(f"t.toml:7: target[0].lun[0].{key}: ") and message in str(err.value)


def test_a_disc_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "empty.iso").write_bytes(b"")
    (lun,) = parse_config(DRIVE + 'disc = "empty.iso"\n', base_dir=tmp_path).targets[0].luns
    with pytest.raises(ValueError, match="disc: .*not a disc image"):
        build_lu(lun)


def test_example_jukebox_loads() -> None:
    (target,) = load_config(EXAMPLE).targets
    changer, *drives = target.luns
    assert changer.library is not None and changer.library.drives == [1, 2]
    assert [c.file for c in changer.library.cartridges] == ["DVD001.iso", "DVD002.iso", "BLK001", "BLK002"]
    assert [d.type for d in drives] == ["dvd", "dvd"]


def test_jukebox_over_dvd_drives(tmp_path: Path) -> None:
    media = jukebox_media(str(tmp_path / "media"))
    config = parse_config(jukebox_text("127.0.0.1:3260", str(media)))
    changer, first, second = build_lus(config.targets[0].luns)
    box = changer.state
    drives = box.of_type(ElementType.DATA_TRANSFER)
    assert len(drives) == 2 and all(isinstance(d.drive.drive, DvdDrive) for d in drives)
    slots = box.of_type(ElementType.STORAGE)
    assert [s.medium.barcode for s in slots] == [*(f"DVD00{i}" for i in range(1, 5)),
                                                 *(f"BLK00{i}" for i in range(1, 5))]
    drive = drives[0].drive.drive
    drive.load(slots[0].medium.path)
    assert first.state.disc is not None and not first.state.disc.recordable
    assert drive.unload() == media / "DVD001.iso"
    assert second.state.disc is None
