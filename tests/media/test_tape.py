"""The cartridge format: header, records, index, crash recovery, WORM and capacity (docs/media.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpt.media import index as index_codec
from hpt.media.header import HEADER_SIZE, SLOT, MediaError
from hpt.media.records import HEADER_LEN
from hpt.media.tape import Cartridge, create, inspect

MIB = 1 << 20


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "HPT001L6.tape"
    create(p, "HPT001L6", 4 * MIB)
    return p


def write_files(cart: Cartridge, files: list[list[bytes]]) -> None:
    for blocks in files:
        for b in blocks:
            cart.append(b)
        cart.append(filemark=True)


def test_create_writes_a_header_and_refuses_to_overwrite(path: Path) -> None:
    info = inspect(path)
    assert (info.barcode, info.capacity, info.worm, info.load_count) == ("HPT001L6", 4 * MIB, False, 0)
    assert info.clean and len(info.created) == 8 and 0 < info.early_warning < info.capacity
    assert path.stat().st_size == HEADER_SIZE
    with pytest.raises(FileExistsError):
        create(path, "HPT001L6", 4 * MIB)


@pytest.mark.parametrize(("barcode", "capacity", "what"), [
    ("", MIB, "barcode"), ("HAS SPACE", MIB, "barcode"), ("X" * 33, MIB, "barcode"), ("OK", 1000, "capacity"),
])
def test_create_rejects_bad_input(tmp_path: Path, barcode: str, capacity: int, what: str) -> None:
    with pytest.raises(MediaError, match=what):
        create(tmp_path / "c", barcode, capacity)
    assert not (tmp_path / "c").exists()


def test_not_a_cartridge(tmp_path: Path) -> None:
    p = tmp_path / "junk"
    p.write_bytes(b"x" * 8192)
    with pytest.raises(MediaError, match="not a cartridge"):
        Cartridge(p)


def test_records_and_filemarks_read_back_after_close(path: Path) -> None:
    cart = Cartridge(path)
    write_files(cart, [[b"a" * 100, b"b" * 200], [b"c" * 10]])
    assert (cart.objects, cart.filemarks) == (5, 2)
    cart.close()
    info = inspect(path)
    assert info.clean and info.index_offset == info.eod_offset and info.load_count == 1
    cart = Cartridge(path)
    assert (cart.objects, cart.filemarks, cart.filemark_objects()) == (5, 2, [2, 4])
    rec = cart.record(1)
    buf = bytearray(300)
    assert not rec.filemark and cart.read_into(rec, memoryview(buf)) == 200 and buf[:200] == b"b" * 200
    assert cart.record(2).filemark and cart.files_before(3) == 1 and cart.files_before(2) == 0
    assert cart.info.load_count == 2
    cart.close()


def test_read_into_a_smaller_buffer_reads_only_what_fits(path: Path) -> None:
    cart = Cartridge(path)
    cart.append(bytes(range(256)) * 4)
    buf = bytearray(10)
    assert cart.read_into(cart.record(0), memoryview(buf)) == 10 and buf == bytes(range(10))
    cart.close()


def test_locate_far_records_through_the_index(path: Path) -> None:
    cart = Cartridge(path)
    n = index_codec.STRIDE * 5 + 7
    for i in range(n):
        cart.append(i.to_bytes(4, "big"))
    cart.close()
    cart = Cartridge(path)
    buf = bytearray(4)
    for obj in (n - 1, 0, index_codec.STRIDE * 3 + 5, 1, n - 2):
        cart.read_into(cart.record(obj), memoryview(buf))
        assert int.from_bytes(buf, "big") == obj
    with pytest.raises(IndexError):
        cart.record(n)
    cart.close()


def test_truncate_makes_a_new_end_of_data(path: Path) -> None:
    cart = Cartridge(path)
    write_files(cart, [[b"1", b"2"], [b"3"]])
    cart.truncate(1)
    assert (cart.objects, cart.filemarks) == (1, 0)
    cart.append(b"new")
    cart.close()
    cart = Cartridge(path)
    buf = bytearray(3)
    assert cart.objects == 2 and cart.read_into(cart.record(1), memoryview(buf)) == 3 and buf == b"new"
    cart.close()


def test_a_torn_tail_is_cut_back_to_the_last_whole_record(path: Path) -> None:
    cart = Cartridge(path)
    write_files(cart, [[b"x" * 1000, b"y" * 1000]])
    cart.sync()  # the filemark was acknowledged
    cart.append(b"z" * 5000)
    cart.append(b"w" * 5000)
    size = os.fstat(cart._fd).st_size  # noqa: SLF001 - the test plays kill -9: no close
    os.truncate(path, size - 1234)  # the last record is torn
    cart = Cartridge(path)
    assert cart.cut == 5000 + HEADER_LEN - 1234
    assert (cart.objects, cart.filemarks) == (4, 1)
    assert path.stat().st_size == HEADER_SIZE + 4 * HEADER_LEN + 7000
    cart.close()


def test_a_torn_record_header_is_cut(path: Path) -> None:
    cart = Cartridge(path)
    cart.append(b"keep")
    cart.append(filemark=True)
    cart.sync()
    end = os.fstat(cart._fd).st_size  # noqa: SLF001
    with open(path, "r+b") as f:  # half a header of a record that never finished
        f.seek(end)
        f.write(b"HR\x01" + bytes(7))
    cart = Cartridge(path)
    assert (cart.objects, cart.cut) == (2, 10)
    cart.close()


def test_garbage_data_after_the_sync_point_is_cut(path: Path) -> None:
    cart = Cartridge(path)
    cart.append(b"a" * 100)
    cart.append(filemark=True)
    cart.sync()
    rec = cart.append(b"b" * 4096)
    with open(path, "r+b") as f:  # the header reached the file, the data did not (zeroes instead)
        f.seek(rec.data_offset)
        f.write(bytes(4096))
    cart = Cartridge(path)
    assert cart.objects == 2 and cart.filemarks == 1
    cart.close()


def test_a_torn_header_slot_keeps_the_older_copy(path: Path) -> None:
    Cartridge(path).close()  # the slots now hold the loaded (dirty) and the closed state
    with open(path, "r+b") as f:  # tear the newest slot, the closed state
        f.seek(_newest_slot(path) * SLOT + 20)
        f.write(b"\xff\xff\xff")
    info = inspect(path)
    assert info.load_count == 1 and not info.clean  # the older copy
    cart = Cartridge(path)  # not closed in order as far as the header says: recovered by a walk
    assert cart.objects == 0 and cart.cut > 0  # the index the close wrote is not a record: cut
    cart.close()


def _newest_slot(path: Path) -> int:
    raw = path.read_bytes()
    seqs = [int.from_bytes(raw[i * SLOT + 12:i * SLOT + 16], "big") for i in (0, 1)]
    return 0 if seqs[0] > seqs[1] else 1


def test_worm_refuses_to_remove_records(tmp_path: Path) -> None:
    p = tmp_path / "w"
    create(p, "WORM01L6", 2 * MIB, worm=True)
    cart = Cartridge(p)
    cart.append(b"once")
    cart.truncate(1)  # at end of data: nothing to remove
    with pytest.raises(MediaError, match="WORM"):
        cart.truncate(0)
    cart.close()


def test_capacity_and_early_warning(tmp_path: Path) -> None:
    p = tmp_path / "small"
    create(p, "SMALL1", MIB, early_warning=64 << 10)
    cart = Cartridge(p)
    assert cart.fits(MIB - HEADER_LEN) and not cart.fits(MIB - HEADER_LEN + 1)
    cart.append(bytes(MIB - (64 << 10) - HEADER_LEN))
    assert not cart.beyond_early_warning() and cart.beyond_early_warning(1)
    assert cart.remaining == 64 << 10
    cart.close()


def test_a_read_only_file_is_opened_read_only(path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root opens read-only files for writing")
    path.chmod(0o444)
    cart = Cartridge(path)
    assert not cart.writable
    with pytest.raises(MediaError):
        cart.append(b"x")
    cart.close()
