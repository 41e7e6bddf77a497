"""The disc media: an ISO read as a DVD-ROM, a DVD+R medium file burned in tracks and sessions, its
header surviving a reopen and a torn header copy, and every recording rule refused with its kind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hpt.media import disc
from hpt.media.disc import BLOCK, DATA_OFFSET, SLOT, DiscRuleError, RecordableDisc, open_disc
from hpt.media.header import MediaError
from tests.scsi.mmc.conftest import HELLO, make_iso


def blocks(n: int, fill: int = 0x5A) -> bytes:
    return bytes([fill]) * (n * BLOCK)


def refused(kind: str, operation: Callable[..., object], *args: object, **kwargs: object) -> None:
    """``operation`` breaks the recording rule ``kind``."""
    with pytest.raises(DiscRuleError) as err:
        operation(*args, **kwargs)
    assert err.value.kind == kind


def _burnable(path: Path) -> RecordableDisc:
    d = open_disc(path)
    assert isinstance(d, RecordableDisc)
    return d


def test_iso_is_a_complete_rom(tmp_path: Path) -> None:
    iso = make_iso(tmp_path / "a.iso")
    d = open_disc(iso)
    assert (d.kind, d.state, d.writable, d.recordable) == ("dvd-rom", "complete", False, False)
    assert d.readable == os.path.getsize(iso) // BLOCK and d.label == "a"
    buf = memoryview(bytearray(BLOCK))
    d.read_into(16, buf)
    assert bytes(buf[1:6]) == b"CD001"  # the primary volume descriptor
    refused(disc.OUT_OF_RANGE, d.read_into, d.readable, buf)
    d.close()


def test_tiny_file_is_no_disc(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"short")
    with pytest.raises(MediaError, match="not a disc image"):
        open_disc(tmp_path / "x")


def test_blank_disc_header(tmp_path: Path) -> None:
    doc = disc.create(tmp_path / "B", 1024, label="BLANK01")
    assert doc["capacity"] == 1024 and disc.inspect(tmp_path / "B")["label"] == "BLANK01"
    assert disc.is_disc((tmp_path / "B").read_bytes()[:8])
    d = _burnable(tmp_path / "B")
    assert (d.kind, d.state, d.sessions, d.readable) == ("dvd+r", "blank", 0, 0)
    [invisible] = d.tracks()
    assert (invisible.number, invisible.session, invisible.start, invisible.nwa) == (1, 1, 0, 0)
    with pytest.raises(FileExistsError):
        disc.create(tmp_path / "B", 1024)
    with pytest.raises(MediaError, match="at least"):
        disc.create(tmp_path / "C", 10)


def test_burn_two_sessions_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 1024)
    d = _burnable(path)
    d.write(0, blocks(3, 1))
    d.write(3, blocks(2, 2))
    assert d.state == "appendable" and d.readable == 5
    d.close_track(1)
    d.close_session(finalize=False)
    assert (d.sessions, d.state) == (1, "appendable")
    second = d.tracks()[-1]
    assert (second.number, second.session, second.start, second.nwa) == (2, 2, 5, 5)
    d.write(5, blocks(1, 3))
    d.close()  # synchronised, not closed: the second session stays open

    again = _burnable(path)
    assert again.readable == 6 and again.sessions == 1
    buf = memoryview(bytearray(6 * BLOCK))
    again.read_into(0, buf)
    assert bytes(buf) == blocks(3, 1) + blocks(2, 2) + blocks(1, 3)
    again.close_session(finalize=True)
    assert again.state == "complete" and not again.writable
    refused(disc.NOT_WRITABLE, again.write, 6, blocks(1))
    again.close()
    assert _burnable(path).state == "complete"


def test_unsynchronised_writes_are_not_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 1024)
    d = _burnable(path)
    d.write(0, blocks(2))
    d.sync()
    d.write(2, blocks(2))  # the crash comes before the next synchronisation
    assert _burnable(path).readable == 2
    d.close()


def test_torn_header_copy_keeps_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 1024)
    d = _burnable(path)
    d.write(0, blocks(4))
    d.sync()  # the document goes to slot 1
    d.close()
    with open(path, "r+b") as f:
        f.seek(SLOT + 30)
        f.write(b"\xff\xff")  # slot 1 torn
    assert _burnable(path).readable == 0  # slot 0: the blank disc
    with open(path, "r+b") as f:
        f.write(bytes(16))  # slot 0 gone too
    with pytest.raises(MediaError, match="no valid header"):
        open_disc(path)


def test_data_lives_after_the_header(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 1024)
    d = _burnable(path)
    d.write(0, HELLO[:BLOCK])
    d.close()
    with open(path, "rb") as f:
        f.seek(DATA_OFFSET)
        assert f.read(BLOCK) == HELLO[:BLOCK]


def test_reserved_track(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 1024)
    d = _burnable(path)
    reserved = d.reserve(20)
    assert (reserved.reserved, reserved.nwa) == (32, 0)  # rounded up to 2 ECC blocks
    invisible = d.tracks()[-1]
    assert (invisible.number, invisible.start) == (2, 32)
    refused(disc.SEQUENCE, d.reserve, 16)
    refused(disc.BAD_ADDRESS, d.write, 0, blocks(33))
    d.write(0, blocks(10))
    refused(disc.BAD_ADDRESS, d.write, 5, blocks(1))  # not the next writable address
    d.close_track(1)
    assert d.tracks()[0].nwa is None and d.readable == 32  # closed: the padding reads as zeros
    buf = memoryview(bytearray(BLOCK))
    d.read_into(31, buf)
    assert bytes(buf) == bytes(BLOCK)
    refused(disc.SEQUENCE, d.close_track, 1)
    d.close()


def test_capacity_and_sequence_rules(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 256)
    d = _burnable(path)
    refused(disc.SEQUENCE, d.close_session, finalize=False)
    refused(disc.NO_SPACE, d.reserve, 300)
    refused(disc.NO_SPACE, d.write, 0, blocks(257))
    d.write(0, blocks(256))
    d.close_session(finalize=False)
    assert d.state == "complete"  # full: nothing more can be appended
    d.close()


def test_read_only_file_opens_unwritable(tmp_path: Path) -> None:
    path = tmp_path / "B"
    disc.create(path, 1024)
    d = open_disc(path, readonly=True)
    assert d.recordable and not d.writable
    d.close()


def test_label_is_a_volume_tag(tmp_path: Path) -> None:
    from hpt.media.library import barcode_of

    disc.create(tmp_path / "BLK001", 1024, label="BURN42")
    assert barcode_of(tmp_path / "BLK001") == "BURN42"
    make_iso(tmp_path / "DVD001.iso")
    assert barcode_of(tmp_path / "DVD001.iso") == "DVD001"
    with pytest.raises(MediaError, match="volume tag"):
        disc.create(tmp_path / "x", 1024, label="has space")
    with pytest.raises(MediaError, match="volume tag"):
        disc.create(tmp_path / ("n" * 40), 1024)  # the default label, the file name, is too long


@pytest.mark.parametrize("tracks", [
    [[1, 5, 0, 3, True]],  # does not start at 0
    [[1, 0, 16, 20, True]],  # more written than reserved
    [[1, 0, 0, 2000, True]],  # past the capacity
    [[3, 0, 0, 2, True]],  # a session that does not exist
    [[1, 0, 0, 4, True], [1, 2, 0, 4, False]],  # overlapping
])
def test_a_track_table_that_cannot_be(tmp_path: Path, tracks: list[list[object]]) -> None:
    from hpt.media.slots import pack

    path = tmp_path / "B"
    doc = disc.create(path, 1024)
    doc.update(tracks=tracks, sessions=1)
    with open(path, "r+b") as f:
        f.write(pack(disc.MAGIC, disc.VERSION, 5, doc, SLOT))
    with pytest.raises(MediaError, match="damaged disc header"):
        open_disc(path)
