"""A changer LUN's library in the configuration (docs/config.md): its keys, errors that name the key and
its line, and the daemon building the changer over its drives, its placement kept across a restart."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hpt.daemon.config import ConfigError, parse_config
from hpt.daemon.config.build import VTL_BARCODES, vtl_text
from hpt.daemon.demo import vtl_media
from hpt.daemon.luns import build_lu, build_lus
from hpt.media.library import STATE_FILE
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.profiles import PROFILES
from hpt.scsi.smc.changer import Changer
from hpt.scsi.smc.elements import ElementType
from hpt.scsi.spc.mode import GENERIC_MEDIUM
from tests.scsi.smc.conftest import FakeDrive

# a drive profile whose LU state is a FakeDrive (the tape drive's MediumDrive stands in for it)
FAKE_TAPE = replace(PROFILES["disk"], name="tape", device_type=DeviceType.TAPE, medium=GENERIC_MEDIUM,
                    options=(), mode_pages=(), vpd_pages=(),
                    state=lambda params: FakeDrive(params.serial[:10]))
PROFILES_WITH_TAPE = {**PROFILES, "tape": FAKE_TAPE}

CHANGER = """[[target]]
name = "iqn.2026-11.org.hpt:lib"

[[target.lun]]
lun = 0
type = "changer"
slots = 4
media = "{media}"
drives = [1]
{extra}
[[target.lun.cartridge]]
slot = 2
barcode = "AAA001L6"

[[target.lun]]
lun = 1
type = "tape"
"""


def load(text: str, media: Path | str = "/tmp", extra: str = "") -> object:
    return parse_config(CHANGER.replace("{media}", str(media)).replace("{extra}", extra) if "{" in text
                        else text, "vtl.toml", profiles=PROFILES_WITH_TAPE)


def error(extra: str = "", text: str = CHANGER) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text.replace("{media}", "/tmp").replace("{extra}", extra), "vtl.toml",
                     profiles=PROFILES_WITH_TAPE)
    return str(err.value)


def test_a_changer_lun() -> None:
    config = load(CHANGER)
    lun = config.targets[0].luns[0]  # type: ignore[attr-defined]
    assert lun.type == "changer" and lun.store == "" and lun.params.product == "VIRTUAL-CHANGER"
    library = lun.library
    assert (library.slots, library.import_export, library.media, library.drives) == (4, 1, Path("/tmp"), [1])
    assert [(c.slot, c.file, c.barcode) for c in library.cartridges] == [(1, "AAA001L6", "AAA001L6")]


@pytest.mark.parametrize(("extra", "message"), [
    ('store = "file"', "vtl.toml:10: target[0].lun[0].store: a changer has no store"),
    ('path = "x.img"', "vtl.toml:10: target[0].lun[0].path: a changer has no store"),
    ("slots = 0", "vtl.toml:9: target[0].lun[0].slots: must be 1..64535, got 0"),
    ("import_export = -1", "vtl.toml:10: target[0].lun[0].import_export: must be 0..64535, got -1"),
    ("block_size = 4096", 'target[0].lun[0].block_size: only for type = "disk"'),
])
def test_changer_key_errors(extra: str, message: str) -> None:
    text = CHANGER.replace("slots = 4\n", "") if extra.startswith("slots") else CHANGER
    assert message in error(extra, text)


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ("drives = [1]", "drives = [3]", 9, "drives: LUN 3 is not a LUN of this target"),
    ("drives = [1]", "drives = [1, 1]", 9, "drives: LUN 1 is listed twice"),
    ("drives = [1]", 'drives = ["a"]', 9, "drives: must be integers 0..16383"),
    ('type = "tape"', 'type = "disk"\nstore = "ram"\nsize = "1M"', 9,
     "drives: LUN 1 is a disk, not a drive with removable media"),
    ('media = "{media}"\n', "", 4, "media: required"),
    ("slot = 2", "slot = 5", 12, "cartridge[0].slot: must be 1..4, got 5"),
    ("slot = 2\n", "", 11, "cartridge[0].slot: required"),
    ('barcode = "AAA001L6"', 'barcode = "A B"', 13, "cartridge[0].barcode: must be 1..32"),
    ('barcode = "AAA001L6"', 'file = "../x"', 13, "cartridge[0].file: must be a file name"),
    ('barcode = "AAA001L6"', 'label = "x"', 13, "cartridge[0].label: unknown key"),
    ('barcode = "AAA001L6"', "", 11, "cartridge[0].barcode: a cartridge needs a barcode or a file"),
])
def test_library_errors_name_key_and_line(old: str, new: str, line: int, message: str) -> None:
    assert f"vtl.toml:{line}: target[0].lun[0].{message}" in error(text=CHANGER.replace(old, new, 1))


def test_a_tape_drive_has_no_store() -> None:
    text = CHANGER + 'store = "file"\n'
    message = "vtl.toml:18: target[0].lun[1].store: a tape has no store: its media are cartridge files"
    assert message in error(text=text)
    assert load(CHANGER).targets[0].luns[1].store == ""  # type: ignore[attr-defined]


def test_two_cartridges_in_one_slot_or_file() -> None:
    twice = CHANGER.replace('barcode = "AAA001L6"\n', 'barcode = "AAA001L6"\n\n[[target.lun.cartridge]]\n'
                            'slot = 2\nbarcode = "BBB001L6"\n')
    message = "vtl.toml:16: target[0].lun[0].cartridge[1].slot: slot 2 already holds cartridge[0]"
    assert message in error(text=twice)
    same = twice.replace('slot = 2\nbarcode = "BBB', 'slot = 3\nfile = "AAA001L6"\nbarcode = "BBB')
    assert "cartridge[1].file: file \"AAA001L6\" is also cartridge[0]" in error(text=same)


def test_a_drive_in_two_changers() -> None:
    text = CHANGER + '\n[[target.lun]]\nlun = 2\ntype = "changer"\nslots = 1\nmedia = "/var"\ndrives = [1]\n'
    assert "target[0].lun[2].drives: LUN 1 is already a drive of the changer at LUN 0" in error(text=text)
    text = text.replace('"/var"\ndrives = [1]', '"/tmp"')
    assert "target[0].lun[2].media: the changer at LUN 0 uses this directory too" in error(text=text)


# -- the daemon builds it ------------------------------------------------------------------------

def _build(media: Path) -> tuple[LogicalUnit, FakeDrive]:
    config = parse_config(CHANGER.replace("{media}", str(media)).replace("{extra}", ""), "vtl.toml",
                          profiles=PROFILES_WITH_TAPE)
    changer_lu, drive_lu = build_lus(config.targets[0].luns)
    return changer_lu, drive_lu.state


def _where(changer: Changer) -> dict[int, str]:
    return {e.address: e.medium.barcode for e in changer.elements if e.medium is not None}


def test_placement_survives_a_restart(tmp_path: Path) -> None:
    from hpt.media import tape

    tape.create(tmp_path / "AAA001L6", "AAA001L6", 1 << 20)
    lu, drive = _build(tmp_path)
    changer: Changer = lu.state
    assert _where(changer) == {1001: "AAA001L6"}
    changer.move(1001, 1005)  # into the drive
    assert drive.loaded == tmp_path / "AAA001L6"
    saved = json.loads((tmp_path / STATE_FILE).read_text())
    assert saved["elements"] == [{"element": ["data_transfer", 0], "file": "AAA001L6",
                                  "source": ["storage", 1], "imported": False}]
    lu2, drive2 = _build(tmp_path)
    assert _where(lu2.state) == {1005: "AAA001L6"} and drive2.loaded == tmp_path / "AAA001L6"
    assert lu2.state.element(1005).source == 1001


def test_a_torn_state_file_starts_from_the_configuration(tmp_path: Path) -> None:
    from hpt.media import tape

    tape.create(tmp_path / "AAA001L6", "AAA001L6", 1 << 20)
    (tmp_path / STATE_FILE).write_text('{"version": 1, "elem')
    lu, _ = _build(tmp_path)
    assert _where(lu.state) == {1001: "AAA001L6"}
    assert json.loads((tmp_path / STATE_FILE).read_text())["elements"][0]["element"] == ["storage", 1]


def test_missing_cartridges_and_lost_elements(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from hpt.media import tape

    tape.create(tmp_path / "AAA001L6", "AAA001L6", 1 << 20)
    (tmp_path / "B").write_bytes(b"x")
    (tmp_path / STATE_FILE).write_text(json.dumps({"version": 1, "elements": [
        {"element": ["storage", 9], "file": "B"}, {"element": ["storage", 0], "file": "GONE"}]}))
    lu, _ = _build(tmp_path)
    assert _where(lu.state) == {1000: "B", 1001: "AAA001L6"}  # B homeless: first free slot
    assert "GONE: missing" in caplog.text and "storage 9 is no longer in the library" in caplog.text


def test_a_changer_needs_its_media_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        _build(tmp_path / "nowhere")


def test_build_lu_alone_refuses_a_changer() -> None:
    config = load(CHANGER)
    with pytest.raises(ValueError, match="built with its target's drives"):
        build_lu(config.targets[0].luns[0])  # type: ignore[attr-defined]


def test_vtl_demo_media_and_config(tmp_path: Path) -> None:
    media = vtl_media(str(tmp_path / "vtl"))
    assert sorted(p.name for p in media.iterdir()) == list(VTL_BARCODES)
    assert all((media / b).stat().st_blocks * 512 < 1 << 20 for b in VTL_BARCODES)  # sparse, cheap
    config = parse_config(vtl_text("127.0.0.1:3260", str(media)), profiles=PROFILES_WITH_TAPE)
    target = config.targets[0]
    assert target.name == "iqn.2026-11.org.hpt:vtl"
    assert [(lc.lun, lc.type) for lc in target.luns] == [(0, "changer"), (1, "tape"), (2, "tape")]
    changer_lu = build_lus(target.luns)[0]
    slots = changer_lu.state.of_type(ElementType.STORAGE)
    assert [e.medium.barcode for e in slots] == list(VTL_BARCODES)
    assert vtl_media(str(media)) == media  # reused
