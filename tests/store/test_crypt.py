"""The encrypted store (``hpt.store.crypt``) and its key file (``hpt.store.keyfile``): each block
AES-256-XTS with its LBA as the tweak, never-written blocks read as zeroes, a crypto erase makes the
written ones noise, the key file is 0600 and a restart reads the data back with it."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hpt.store.crypt import EncryptedStore
from hpt.store.file import FileStore
from hpt.store.keyfile import KEY_BYTES, key_file_problem, new_key, save_key
from hpt.store.ram import RamStore

BS = 512
SIZE = 64 * BS


def read(store: EncryptedStore, lba: int, blocks: int = 1) -> bytes:
    buf = memoryview(bytearray(blocks * BS))
    store.read_into(lba * BS, buf)
    return bytes(buf)


def write(store: EncryptedStore, lba: int, data: bytes) -> None:
    store.write_from(lba * BS, memoryview(bytearray(data)))


@pytest.fixture
def key(tmp_path: Path) -> str:
    return str(tmp_path / "lun.key")


def test_blocks_are_stored_as_xts_with_the_lba_as_tweak(key: str) -> None:
    inner = RamStore(SIZE)
    store = EncryptedStore(inner, key, BS)
    data = bytes(range(256)) * 2
    write(store, 5, data + b"b" * BS)
    assert read(store, 5, 3) == data + b"b" * BS + bytes(BS)  # LBA 7 was never written: zeroes
    stored = memoryview(bytearray(2 * BS))
    inner.read_into(5 * BS, stored)
    xts = Cipher(algorithms.AES(Path(key).read_bytes()), modes.XTS((5).to_bytes(16, "little")))
    assert xts.encryptor().update(data) == bytes(stored[:BS])
    assert bytes(stored[BS:]) != b"b" * BS


def test_the_shared_state_is_the_store_below_s(key: str) -> None:
    """An encrypted rbd LU keeps sharing its reservations between gateways: the wrapper hands out the
    shared object of the store it wraps."""
    shared = object()

    class Shared(RamStore):
        def shared_state(self, name: str) -> object:
            return shared if name == "pr" else None

    assert EncryptedStore(Shared(SIZE), key, BS).shared_state("pr") is shared
    assert EncryptedStore(RamStore(SIZE), key, BS).shared_state("pr") is None


def test_the_key_file_is_created_private_and_holds_one_key(key: str) -> None:
    EncryptedStore(RamStore(SIZE), key, BS)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    content = Path(key).read_bytes()
    assert len(content) == KEY_BYTES and content[:32] != content[32:]


def test_crypto_erase_turns_written_blocks_into_noise(key: str) -> None:
    store = EncryptedStore(RamStore(SIZE), key, BS)
    old = Path(key).read_bytes()
    write(store, 0, b"a" * 4 * BS)
    store.crypto_erase()
    assert Path(key).read_bytes() != old and stat.S_IMODE(os.stat(key).st_mode) == 0o600
    after = read(store, 0, 5)
    assert b"a" * 16 not in after[:4 * BS] and after[4 * BS:] == bytes(BS)  # never written: still zeroes
    write(store, 1, b"c" * BS)  # new writes read back with the new key
    assert read(store, 1) == b"c" * BS


def test_two_handles_of_one_medium_share_its_key(tmp_path: Path, key: str) -> None:
    """Two processes opening one LU (hptd's workers) with its key file missing: the first creates it and
    the other reads that key; after a CRYPTO ERASE through one, ``refresh`` gives the other the new key."""
    path = str(tmp_path / "disk.img")
    first = EncryptedStore(FileStore(path, SIZE), key, BS)
    made = Path(key).read_bytes()
    assert not save_key(key, new_key(), create=True)  # a second creator finds the file: it stays
    assert Path(key).read_bytes() == made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.img", "lun.key"]  # no temporary left
    second = EncryptedStore(FileStore(path), key, BS)
    write(first, 2, b"one key " * 64)
    assert read(second, 2) == b"one key " * 64
    first.crypto_erase()
    write(first, 3, b"new key " * 64)
    assert read(second, 3) != b"new key " * 64  # the old key, until told
    second.refresh()
    assert read(second, 3) == b"new key " * 64
    first.close()
    second.close()


def test_data_survives_a_restart_with_the_key_file(tmp_path: Path, key: str) -> None:
    path = str(tmp_path / "disk.img")
    store = EncryptedStore(FileStore(path, SIZE), key, BS)
    write(store, 3, b"persist!" * 64)
    store.close()
    assert b"persist!" not in Path(path).read_bytes()  # nothing in the clear on the medium
    again = EncryptedStore(FileStore(path), key, BS)
    assert read(again, 3) == b"persist!" * 64
    again.crypto_erase()
    again.close()
    erased = EncryptedStore(FileStore(path), key, BS)  # the new key was saved before it was used
    assert read(erased, 3) != b"persist!" * 64
    erased.close()


def test_the_asynchronous_path_of_a_store_with_its_own_threads(tmp_path: Path, key: str) -> None:
    store = EncryptedStore(FileStore(str(tmp_path / "d.img"), SIZE, io_engine="threads"), key, BS)
    assert not store.inline and store.direct_source() is None
    results: list[OSError | None] = []
    finished = threading.Event()

    def done(err: OSError | None) -> None:
        results.append(err)
        finished.set()

    store.submit_write(2 * BS, memoryview(bytearray(b"z" * 2 * BS)), done, fua=True)
    assert finished.wait(10) and results == [None]
    finished.clear()
    buf = memoryview(bytearray(3 * BS))
    store.submit_read(2 * BS, buf, done)
    assert finished.wait(10) and results == [None, None]
    assert bytes(buf) == b"z" * 2 * BS + bytes(BS)
    store.close()


def test_deallocated_and_zeroed_ranges_read_as_zeroes(tmp_path: Path, key: str) -> None:
    store = EncryptedStore(FileStore(str(tmp_path / "d.img"), SIZE), key, BS)
    write(store, 0, b"q" * 8 * BS)
    assert store.supports_discard and store.mapped_extent(0)[0]
    store.discard(0, 4 * BS)
    store.write_zeroes(4 * BS, 2 * BS)
    assert read(store, 0, 8) == bytes(6 * BS) + b"q" * 2 * BS
    store.close()


def test_partial_blocks_are_refused(key: str) -> None:
    store = EncryptedStore(RamStore(SIZE), key, BS)
    with pytest.raises(OSError) as err:
        store.read_into(100, memoryview(bytearray(BS)))
    assert err.value.errno == errno.EINVAL
    got: list[OSError | None] = []
    store.submit_write(0, memoryview(bytearray(100)), got.append)
    assert got[0] is not None and got[0].errno == errno.EINVAL


def test_a_file_that_is_not_a_key(tmp_path: Path, key: str) -> None:
    Path(key).write_bytes(b"short")
    with pytest.raises(OSError, match=r"not an encryption key: it must hold 64 random bytes .* it holds 5"):
        EncryptedStore(RamStore(SIZE), key, BS)
    Path(key).write_bytes(bytes(KEY_BYTES))  # two equal halves: XTS refuses them
    with pytest.raises(OSError, match="not an encryption key"):
        EncryptedStore(RamStore(SIZE), key, BS)


def test_key_file_problems(tmp_path: Path) -> None:
    assert key_file_problem(str(tmp_path / "new.key")) is None
    assert "is a directory" in str(key_file_problem(str(tmp_path)))
    assert "does not exist" in str(key_file_problem(str(tmp_path / "nope" / "k")))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in str(key_file_problem(str(fifo)))


def test_a_key_file_is_created_where_hard_links_are_not(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    def no_links(_src: str, _dst: str) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    first = new_key()
    assert save_key(key, first, create=True)
    assert not save_key(key, new_key(), create=True)
    assert Path(key).read_bytes() == first
    assert [p.name for p in Path(key).parent.iterdir()] == ["lun.key"]
