"""hptimg: new, show and list tape cartridges, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.media.cli import run
from hpt.media.tape import inspect


def test_new_show_and_list(tmp_path: Path) -> None:
    f = tmp_path / "HPT001L6"
    status, out = run(["--op", "new", "--device-type", "tape", "--barcode", "HPT001L6", "--size", "256",
                       "--file", str(f)])
    assert status == 0 and out[0] == f"created tape {f}"
    info = inspect(f)
    assert (info.barcode, info.capacity) == ("HPT001L6", 256 << 20)
    assert not info.worm and not info.write_protect
    assert run(["--op", "new", "--barcode", "WORM01L6", "--size", "8", "--worm", "--write-protect",
                "--file", str(tmp_path / "w")])[0] == 0
    assert inspect(tmp_path / "w").worm and inspect(tmp_path / "w").write_protect
    assert run(["--op", "new", "--barcode", "CLN001L1", "--size", "8", "--type", "clean",
                "--file", str(tmp_path / "c")])[0] == 0
    assert inspect(tmp_path / "c").medium_type == "clean"
    status, out = run(["--op", "show", "--file", str(f)])
    assert status == 0 and "barcode: HPT001L6" in out and "capacity: 268435456 bytes (256 MiB)" in out
    (tmp_path / "notes.txt").write_text("not a cartridge")
    status, out = run(["--op", "list", "--path", str(tmp_path)])
    assert status == 0 and len(out) == 4  # heading and three cartridges; the text file is left out
    assert any(line.startswith("w ") and "worm,write_protect" in line for line in out)
    assert any(line.startswith("c ") and "clean" in line for line in out)


@pytest.mark.parametrize(("argv", "message"), [
    (["--op", "new", "--size", "8", "--file", "{d}/x"], "--barcode is required"),
    (["--op", "new", "--barcode", "B1", "--file", "{d}/x"], "--size"),
    (["--op", "new", "--barcode", "B1", "--size", "8"], "--file is required"),
    (["--op", "new", "--barcode", "B 1", "--size", "8", "--file", "{d}/x"], "barcode: must be"),
    (["--op", "new", "--barcode", "B1", "--size", "8", "--type", "dvd", "--file", "{d}/x"],
     "data, clean or worm"),
    (["--op", "new", "--barcode", "B1", "--size", "8", "--file", "{d}/exists"], "already exists"),
    (["--op", "show", "--file", "{d}/exists"], "not a medium file"),
    (["--op", "show", "--file", "{d}/missing"], "No such file"),
    (["--op", "list", "--path", "{d}/missing"], "not a directory"),
])
def test_errors_are_one_clear_line(tmp_path: Path, argv: list[str], message: str) -> None:
    (tmp_path / "exists").write_text("x")
    status, out = run([a.format(d=tmp_path) for a in argv])
    assert status == 1 and len(out) == 1 and out[0].startswith("hptimg: ") and message in out[0]
    assert not (tmp_path / "x").exists()


def test_unknown_op_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as exc:
        run(["--op", "delete"])
    assert exc.value.code == 2


def test_dvd_new_show_and_list(tmp_path: Path) -> None:
    from hpt.media import disc
    from tests.scsi.mmc.conftest import make_iso

    f = tmp_path / "BLK001"
    status, out = run(["--op", "new", "--device-type", "dvd", "--size", "64", "--barcode", "BLANK01",
                       "--file", str(f)])
    assert status == 0 and out[0] == f"created dvd {f}" and "state: blank" in out
    assert disc.inspect(f)["capacity"] == 64 * 512 and disc.inspect(f)["label"] == "BLANK01"
    assert run(["--op", "new", "--device-type", "dvd", "--file", str(tmp_path / "full")])[0] == 0
    assert disc.inspect(tmp_path / "full")["capacity"] == disc.DVD_BLOCKS  # a 4.7 GB DVD+R, sparse
    make_iso(tmp_path / "DVD001.iso")
    status, out = run(["--op", "show", "--file", str(tmp_path / "DVD001.iso")])
    assert status == 0 and "medium_type: dvd-rom" in out and "barcode: DVD001" in out
    status, out = run(["--op", "list", "--path", str(tmp_path)])
    assert status == 0 and len(out) == 4
    assert any(line.startswith("BLK001 ") and "BLANK01" in line and " 64 " in line for line in out)


@pytest.mark.parametrize(("argv", "message"), [
    (["--type", "dvd-rw"], "must be dvd+r"),
    (["--size", "0"], "must be positive"),
    (["--worm"], "tape options"),
])
def test_dvd_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    status, out = run(["--op", "new", "--device-type", "dvd", "--file", str(tmp_path / "d"), *argv])
    assert status == 1 and len(out) == 1 and message in out[0] and not (tmp_path / "d").exists()
