"""An OSD LUN in the configuration: its keys (path, capacity), no store kind, relative paths from the
file's directory; and hptd --demo osd's text."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.daemon.config import ConfigError, parse_config
from hpt.daemon.config.osd import OSD_TARGET, osd_text
from hpt.daemon.luns import build_lu
from hpt.scsi.core.constants import DeviceType

BASE = '[[portal]]\naddress = "127.0.0.1:3260"\n\n[[target]]\nname = "iqn.2026-11.org.hpt.test:osd"\n\n'


def test_osd_lun_keys(tmp_path: Path) -> None:
    config = parse_config(BASE + '[[target.lun]]\nlun = 0\ntype = "osd"\npath = "objects"\ncapacity = 4096\n',
                          base_dir=tmp_path)
    lun = config.targets[0].luns[0]
    assert lun.profile.device_type == DeviceType.OSD and lun.store == ""
    assert lun.params.extra == {"path": str(tmp_path / "objects"), "capacity": 4096}
    lu = build_lu(lun)
    try:
        assert (tmp_path / "objects" / "objects.sqlite").exists()
    finally:
        lu.state.store.close()


@pytest.mark.parametrize("extra, message", [
    ("", "path"),  # required
    ('path = "o"\nstore = "ram"\n', "store: an osd has no store: its objects are files under its path"),
    ('path = "o"\nsize = "1G"\n', "size: an osd has no store"),
    ('path = "o"\ncapacity = -1\n', "capacity"),
])
def test_osd_lun_errors(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(BASE + f'[[target.lun]]\nlun = 0\ntype = "osd"\n{extra}', base_dir=tmp_path)


def test_demo_text(tmp_path: Path) -> None:
    config = parse_config(osd_text("127.0.0.1:3260", str(tmp_path)), "<demo osd>")
    (target,) = config.targets
    assert target.name == OSD_TARGET and [lun.lun for lun in target.luns] == [1]
    assert target.luns[0].params.extra["path"] == str(tmp_path)
