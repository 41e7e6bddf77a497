"""FileStore: round trips, sparse creation, holes, discard, mapped extents, read-only, O_DIRECT."""

from __future__ import annotations

import errno
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.store.file import DIRECT_ALIGN, FileStore

MiB = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FileStore]:
    s = FileStore(str(tmp_path / "disk.img"), 4 * MiB)
    yield s
    s.close()


def aligned(n: int) -> tuple[mmap.mmap, memoryview]:
    m = mmap.mmap(-1, n)
    return m, memoryview(m)


def read(store: FileStore, offset: int, n: int) -> bytes:
    buf = bytearray(n)
    store.read_into(offset, memoryview(buf))
    return bytes(buf)


def test_creates_a_sparse_file_of_the_given_size(tmp_path: Path) -> None:
    path = tmp_path / "new.img"
    s = FileStore(str(path), 64 * MiB)
    try:
        assert s.size == 64 * MiB and path.stat().st_size == 64 * MiB
        assert path.stat().st_blocks == 0
        assert s.mapped_extent(0) == (False, 64 * MiB)
    finally:
        s.close()


def test_round_trip_at_any_offset(store: FileStore) -> None:
    data = os.urandom(10000)
    store.write_from(12345, memoryview(data))
    assert read(store, 12345, 10000) == data
    assert read(store, 0, 100) == bytes(100)


def test_existing_file_keeps_its_size_and_data(tmp_path: Path) -> None:
    path = tmp_path / "old.img"
    path.write_bytes(b"x" * 8192)
    s = FileStore(str(path))
    try:
        assert s.size == 8192 and read(s, 8000, 192) == b"x" * 192
    finally:
        s.close()


def test_existing_file_grows_sparsely_or_exposes_a_prefix(tmp_path: Path) -> None:
    path = tmp_path / "old.img"
    path.write_bytes(b"x" * 8192)
    grown = FileStore(str(path), 1 * MiB)
    grown.close()
    assert path.stat().st_size == MiB
    prefix = FileStore(str(path), 4096)
    try:
        assert prefix.size == 4096 and path.stat().st_size == MiB
    finally:
        prefix.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a size"),
        ({"size": 4096, "readonly": True}, "read-only"),
    ],
)
def test_missing_file_errors(tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        FileStore(str(tmp_path / "missing.img"), **kwargs)


def test_bad_sizes_and_kinds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        FileStore(str(tmp_path / "zero.img"), 0)
    (tmp_path / "small.img").write_bytes(bytes(4096))
    with pytest.raises(ValueError, match="cannot grow"):
        FileStore(str(tmp_path / "small.img"), 8192, readonly=True)
    with pytest.raises(ValueError, match="Is a directory"):
        FileStore(str(tmp_path), 4096)
    with pytest.raises(ValueError, match="not a regular file"):
        FileStore("/dev/null", readonly=True)
    with pytest.raises(ValueError, match="No such file"):
        FileStore(str(tmp_path / "no" / "dir.img"), 4096)


def test_read_only_store(tmp_path: Path) -> None:
    path = tmp_path / "ro.img"
    path.write_bytes(b"r" * 4096)
    s = FileStore(str(path), readonly=True)
    try:
        assert s.readonly and not s.supports_discard
        assert read(s, 0, 4096) == b"r" * 4096
        with pytest.raises(OSError):
            s.write_from(0, memoryview(b"w" * 512))
    finally:
        s.close()


def test_reads_past_the_end_of_a_short_file_return_zeroes(tmp_path: Path) -> None:
    path = tmp_path / "short.img"
    s = FileStore(str(path), MiB)
    try:
        s.write_from(0, memoryview(b"a" * 1000))
        os.truncate(path, 500)  # shrunk behind the store's back
        assert read(s, 0, 1000) == b"a" * 500 + bytes(500)
    finally:
        s.close()


def test_discard_punches_a_hole(store: FileStore) -> None:
    store.write_from(0, memoryview(b"d" * (3 * 65536)))
    store.discard(65536, 65536)
    assert read(store, 0, 3 * 65536) == b"d" * 65536 + bytes(65536) + b"d" * 65536
    assert store.mapped_extent(0) == (True, 65536)
    assert store.mapped_extent(65536) == (False, 65536)
    assert store.mapped_extent(2 * 65536) == (True, 65536)
    assert store.mapped_extent(3 * 65536) == (False, 4 * MiB - 3 * 65536)


def test_discard_of_a_partial_block_zeroes_it(store: FileStore) -> None:
    store.write_from(0, memoryview(b"p" * 4096))
    store.discard(100, 200)
    assert read(store, 0, 4096) == b"p" * 100 + bytes(200) + b"p" * 3796
    assert store.mapped_extent(0) == (True, 4096)


def test_write_zeroes_keeps_the_range_allocated(store: FileStore) -> None:
    store.write_from(0, memoryview(b"z" * 8192))
    store.write_zeroes(0, 8192)
    assert read(store, 0, 8192) == bytes(8192)
    assert store.mapped_extent(0)[0]


def test_mapped_extent_stops_at_the_store_size(tmp_path: Path) -> None:
    path = tmp_path / "big.img"
    path.write_bytes(b"b" * 65536)
    s = FileStore(str(path), 4096)
    try:
        assert s.mapped_extent(0) == (True, 4096)
    finally:
        s.close()


def test_sync_and_prefetch(store: FileStore) -> None:
    store.write_from(0, memoryview(b"s" * 4096))
    store.sync()
    store.sync(0, 4096)
    store.prefetch(0, 4096)
    assert read(store, 0, 4096) == b"s" * 4096


def test_close_is_idempotent(tmp_path: Path) -> None:
    s = FileStore(str(tmp_path / "c.img"), 4096)
    s.close()
    s.close()


# -- O_DIRECT ---------------------------------------------------------------------------------
@pytest.fixture
def direct(tmp_path: Path) -> Iterator[FileStore]:
    try:
        s = FileStore(str(tmp_path / "direct.img"), 4 * MiB, direct=True)
    except ValueError as err:
        print(f"skipping O_DIRECT tests: {err}")
        pytest.skip(str(err))
    yield s
    s.close()


def test_direct_aligned_round_trip(direct: FileStore) -> None:
    m, view = aligned(2 * DIRECT_ALIGN)
    view[:] = os.urandom(len(view))
    expect = bytes(view)
    direct.write_from(DIRECT_ALIGN, view)
    view[:] = bytes(len(view))
    direct.read_into(DIRECT_ALIGN, view)
    assert bytes(view) == expect
    view.release()
    m.close()


def test_direct_misaligned_buffers_offsets_and_lengths_bounce(direct: FileStore) -> None:
    base = os.urandom(3 * DIRECT_ALIGN)
    direct.write_from(0, memoryview(base))  # read-only buffer: bounced
    patch = os.urandom(1000)
    direct.write_from(4000, memoryview(bytearray(patch)))  # straddles a unit boundary: read-modify-write
    expect = base[:4000] + patch + base[5000:]
    assert read(direct, 0, 3 * DIRECT_ALIGN) == expect
    assert read(direct, 3999, 1002) == expect[3999:5001]
    m, view = aligned(DIRECT_ALIGN + 512)
    direct.read_into(512, view[512:512 + DIRECT_ALIGN])  # aligned length, misaligned buffer
    assert bytes(view[512:512 + DIRECT_ALIGN]) == expect[512:512 + DIRECT_ALIGN]
    view.release()
    m.close()


def test_direct_needs_an_aligned_size(tmp_path: Path) -> None:
    try:
        with pytest.raises(ValueError, match="multiple of"):
            FileStore(str(tmp_path / "odd.img"), DIRECT_ALIGN + 512, direct=True)
    except OSError as err:  # pragma: no cover - depends on the file system
        if err.errno != errno.EINVAL:
            raise


def test_without_fallocate_support_zeroes_are_written(store: FileStore, monkeypatch) -> None:
    def unsupported(fd: int, mode: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "not supported")

    monkeypatch.setattr("hpt.store.file.fallocate", unsupported)
    store.write_from(0, memoryview(b"u" * 8192))
    store.discard(0, 4096)
    store.write_zeroes(4096, 100)
    assert read(store, 0, 8192) == bytes(4196) + b"u" * 3996
    assert not store.supports_discard


def test_fallocate_errors_other_than_unsupported_propagate(store: FileStore, monkeypatch) -> None:
    def full(fd: int, mode: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "no space")

    monkeypatch.setattr("hpt.store.file.fallocate", full)
    with pytest.raises(OSError, match="no space"):
        store.write_zeroes(0, 4096)


def test_whether_serving_it_waits_for_a_device(tmp_path: Path, direct: FileStore) -> None:
    """``waits`` (the portal's event loop serves only stores that never wait on its thread): a file in
    memory read inline does not, nor one on a disk whose I/O goes to an engine's threads; one read
    inline on a disk (``sync``) does, and so does O_DIRECT (the fast lane waits for its Linux AIO)."""
    assert direct.waits
    shm = Path("/dev/shm") / f"hpt-waits-{os.getpid()}.img"
    cases = [(shm, "auto", False), (tmp_path / "sync.img", "sync", True),
             (tmp_path / "threads.img", "threads", False)]
    try:
        for path, engine, waits in cases:
            s = FileStore(str(path), MiB, io_engine=engine)
            try:
                assert (s.io_engine, s.waits) == ("inline" if engine != "threads" else "threads", waits)
            finally:
                s.close()
    finally:
        shm.unlink(missing_ok=True)


def test_state_is_kept_beside_the_image(tmp_path: Path) -> None:
    """A LU on an image file keeps its APTPL reservations in ``<image>.pr`` (SPC-5 5.13.5), also when
    the image is encrypted; a store with no file beside which to keep it says None."""
    from hpt.store.crypt import EncryptedStore
    from hpt.store.ram import RamStore

    image = tmp_path / "disk.img"
    s = FileStore(str(image), MiB)
    try:
        assert s.state_path(".pr") == f"{image}.pr"
        assert EncryptedStore(s, str(tmp_path / "lu.key"), 512).state_path(".pr") == f"{image}.pr"
    finally:
        s.close()
    assert RamStore(MiB).state_path(".pr") is None
