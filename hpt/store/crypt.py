"""Encryption at rest: a store that keeps another store's data encrypted, so that SANITIZE CRYPTO ERASE
(SBC-4 4.11.5) can make it unreadable by replacing the key (a LUN's ``encryption_key_file``).

Each logical block is one AES-256-XTS data unit (IEEE 1619) whose tweak is its LBA (128 bits, little
endian, as dm-crypt's ``plain64``), with the key of :mod:`hpt.store.keyfile`. A block whose stored bytes
are all zero was never written (a thin store's hole, a range deallocated or zeroed through the store): it
reads as zeroes, so UNMAP, WRITE SAME with UNMAP and BLOCK ERASE keep reading back zeroes (LBPRZ) and
a new LU reads zeroes; a written block reads, after a crypto erase, as what the new key makes of its
bytes: noise (WACEREQ 01b: the read itself completes with GOOD).

The wrapper costs its LU the fast lane in C (``direct_source`` is None: the lane would move the bytes
as they are stored) and some 40 us of CPU per block read or written; LUs without the key are untouched.
Offsets and lengths must be whole logical blocks (the SCSI core's always are).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hpt.store.base import BackingStore, Done
from hpt.store.keyfile import load_key, new_key, save_key

if TYPE_CHECKING:
    from hpt.store.shared import SharedObject


def _below(name: str) -> Any:
    """An attribute read from the store below (``inner``)."""
    return property(lambda self: getattr(self.inner, name))


class EncryptedStore(BackingStore):
    """``inner``'s bytes, encrypted block by block with the key in ``key_file`` (created when missing)."""

    supports_crypto_erase = True

    def __init__(self, inner: BackingStore, key_file: str, block_size: int) -> None:
        if block_size % 16 or inner.size % block_size:
            raise ValueError(f"an encrypted store needs whole blocks of a multiple of 16 bytes: "
                             f"{inner.size} bytes in blocks of {block_size}")
        self.inner = inner
        self.key_file = key_file
        self.block_size = block_size
        self._zero = bytes(block_size)
        self._aes = algorithms.AES(load_key(key_file))

    # what the store below says (its size may change under it: a network volume resized)
    size = _below("size")
    readonly = _below("readonly")
    supports_discard = _below("supports_discard")
    inline = _below("inline")
    waits = _below("waits")
    state_path = _below("state_path")  # the image's own, beside it

    # -- the cipher ----------------------------------------------------------------------------
    def _first_lba(self, offset: int, length: int) -> int:
        bs = self.block_size
        if offset % bs or length % bs:
            raise OSError(errno.EINVAL, f"encrypted store: {length} bytes at {offset} are not whole "
                                        f"blocks of {bs}")
        return offset // bs

    def _cipher(self, lba: int) -> Cipher[modes.XTS]:
        return Cipher(self._aes, modes.XTS(lba.to_bytes(16, "little")))

    def _encrypt(self, offset: int, buf: memoryview) -> memoryview:
        """``buf`` encrypted into a new buffer (the caller's stays as it is: a command may still read it)."""
        lba = self._first_lba(offset, len(buf))
        bs = self.block_size
        out = bytearray(len(buf))
        for pos in range(0, len(buf), bs):
            out[pos:pos + bs] = self._cipher(lba).encryptor().update(buf[pos:pos + bs])
            lba += 1
        return memoryview(out)

    def _decrypt(self, offset: int, buf: memoryview) -> None:
        """Decrypt ``buf`` in place; blocks stored as zeroes (never written) stay zeroes."""
        lba = self._first_lba(offset, len(buf))
        bs = self.block_size
        zero = self._zero
        for pos in range(0, len(buf), bs):
            block = buf[pos:pos + bs]
            if block != zero:
                block[:] = self._cipher(lba).decryptor().update(block)
            lba += 1

    def refresh(self) -> None:
        """The key file's key: another process serving the LU (hptd's workers) erased it with a new one."""
        self._aes = algorithms.AES(load_key(self.key_file))

    def crypto_erase(self) -> None:
        """A new key, in the key file before it is used: what was written reads as noise from now on,
        and after a restart too (SBC-4 4.11.5)."""
        key = new_key()
        save_key(self.key_file, key)
        self._aes = algorithms.AES(key)

    # -- synchronous calls ---------------------------------------------------------------------
    def read_into(self, offset: int, buf: memoryview) -> None:
        self._first_lba(offset, len(buf))
        self.inner.read_into(offset, buf)
        self._decrypt(offset, buf)

    def write_from(self, offset: int, buf: memoryview) -> None:
        self.inner.write_from(offset, self._encrypt(offset, buf))

    def sync(self, offset: int = 0, length: int = 0) -> None:
        self.inner.sync(offset, length)

    def discard(self, offset: int, length: int) -> None:
        self.inner.discard(offset, length)

    def write_zeroes(self, offset: int, length: int) -> None:
        self.inner.write_zeroes(offset, length)  # stored zeroes read back as zeroes

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        return self.inner.mapped_extent(offset)

    def watch_size(self, changed: Callable[[], None]) -> None:
        self.inner.watch_size(changed)

    def shared_state(self, name: str) -> SharedObject | None:
        return self.inner.shared_state(name)  # reservations stay shared between gateways (rbd)

    def close(self) -> None:
        self.inner.close()

    # -- asynchronous submit -------------------------------------------------------------------
    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        """The store below reads; the blocks are decrypted on its completion."""
        try:
            self._first_lba(offset, len(buf))
        except OSError as err:
            done(err)
            return

        def read(err: OSError | None) -> None:
            if err is None:
                self._decrypt(offset, buf)
            done(err)

        self.inner.submit_read(offset, buf, read)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        try:
            data = self._encrypt(offset, buf)
        except OSError as err:
            done(err)
            return
        self.inner.submit_write(offset, data, done, fua=fua)

    def submit_flush(self, done: Done) -> None:
        self.inner.submit_flush(done)
