"""The library's state file (hpt.media.library): atomic replacement, decoding, a damaged file kept aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.media import tape
from hpt.media.library import (
    STATE_FILE,
    Placed,
    StateError,
    barcode_of,
    decode,
    encode,
    file_name_error,
    load_state,
    save_state,
)

PLACEMENT = {("storage", 0): Placed("HPT001L6"), ("data_transfer", 1): Placed("HPT002L6", ("storage", 1)),
             ("import_export", 0): Placed("NEW", None, True)}


def test_round_trip(tmp_path: Path) -> None:
    save_state(tmp_path, PLACEMENT)
    assert load_state(tmp_path) == PLACEMENT
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]  # no temporary file left
    save_state(tmp_path, {})
    assert load_state(tmp_path) == {}


def test_no_state_file(tmp_path: Path) -> None:
    assert load_state(tmp_path) is None


@pytest.mark.parametrize("text", [
    encode(PLACEMENT)[:40],  # torn
    "",
    "[]",
    '{"version": 2, "elements": []}',
    '{"version": 1, "elements": [{"element": ["storage", -1], "file": "A"}]}',
    '{"version": 1, "elements": [{"element": ["storage", 0], "file": "../etc/passwd"}]}',
    '{"version": 1, "elements": [{"element": ["storage", 0], "file": "A"}, '
    '{"element": ["storage", 1], "file": "A"}]}',
    '{"version": 1, "elements": [{"element": ["storage", 0], "file": "A", "source": "x"}]}',
])
def test_a_damaged_state_is_kept_aside(tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(StateError):
        decode(text)
    (tmp_path / STATE_FILE).write_text(text)
    assert load_state(tmp_path) is None
    assert (tmp_path / (STATE_FILE + ".bad")).read_text() == text
    assert not (tmp_path / STATE_FILE).exists()
    assert "not a library state" in caplog.text


def test_binary_garbage_is_kept_aside(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"\xff\xfe\x00garbage")
    assert load_state(tmp_path) is None and (tmp_path / (STATE_FILE + ".bad")).exists()


def test_barcode_from_the_cartridge_header(tmp_path: Path) -> None:
    tape.create(tmp_path / "c1", "ABC123L6", 1 << 20)
    assert barcode_of(tmp_path / "c1") == "ABC123L6"
    (tmp_path / "plain.iso").write_bytes(b"not a tape")
    assert barcode_of(tmp_path / "plain.iso") == "plain"
    with pytest.raises(OSError):
        barcode_of(tmp_path / "missing")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", STATE_FILE, STATE_FILE + ".tmp"])
def test_file_names_stay_in_the_directory(name: str) -> None:
    assert file_name_error(name)
