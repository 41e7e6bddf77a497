"""The zero-copy buffer ring: data buffers for the whole data path are slots of one mapping.

Sockets ``recv_into`` slots, stores ``preadv``/``pwritev`` them, replies leave with ``sendmsg`` of
header + slot view. The free list lives in the mapping itself (``ringbuf.c``), so a ring created
with a ``path`` under /dev/shm can be mapped by several worker processes and shared.
"""

from __future__ import annotations

import mmap
import os

from hpt.native._ringbuf import ffi, lib


class RingExhausted(Exception):
    """No free slot: the caller waits for completions (patient allocation) or answers BUSY."""


class Ring:
    """``nslots`` slots of ``slot_size`` bytes (a multiple of 512) in one shared mapping."""

    def __init__(self, slot_size: int = 256 * 1024, nslots: int = 256, path: str | None = None) -> None:
        total = lib.ring_bytes(slot_size, nslots)
        if path is None:
            self._map = mmap.mmap(-1, total, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
            fresh = True
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                fresh = size == 0
                if fresh:
                    os.ftruncate(fd, total)
                elif size < 4096:
                    raise ValueError(f"{path}: not an hpt ring")
                self._map = mmap.mmap(fd, total if fresh else size, flags=mmap.MAP_SHARED)
            finally:
                os.close(fd)
        self._base = ffi.from_buffer(self._map)
        if fresh:
            if lib.ring_init(self._base, slot_size, nslots) != 0:
                raise ValueError(f"bad ring geometry: slot_size={slot_size} nslots={nslots}")
        elif (
            lib.ring_check(self._base) != 0
            or lib.ring_bytes(lib.ring_slot_size(self._base), lib.ring_nslots(self._base)) > len(self._map)
        ):
            self._base = None
            self._map.close()
            raise ValueError(f"{path}: not an hpt ring")
        self.slot_size = lib.ring_slot_size(self._base)
        self.nslots = lib.ring_nslots(self._base)
        off = lib.ring_data_offset(self._base)
        whole = memoryview(self._map)
        self._views = [
            whole[off + i * self.slot_size : off + (i + 1) * self.slot_size] for i in range(self.nslots)
        ]

    def alloc(self) -> int:
        """A free slot index; raises RingExhausted when none is free."""
        idx = lib.ring_alloc(self._base)
        if idx < 0:
            raise RingExhausted(f"all {self.nslots} ring slots in use")
        return idx

    def try_alloc(self) -> int:
        """A free slot index, or -1."""
        return lib.ring_alloc(self._base)

    def free(self, idx: int) -> None:
        if lib.ring_free(self._base, idx) != 0:
            raise ValueError(f"slot {idx} out of range")

    def free_many(self, slots: list[int]) -> None:
        """Give back several slots with one call into C (a burst's Data-In, once sent)."""
        lib.ring_free_many(self._base, ffi.new("uint32_t[]", slots), len(slots))

    @property
    def base(self) -> object:
        """The mapping as a cffi pointer, for C that allocates slots itself (``hpt/native/quick.c``)."""
        return self._base

    def view(self, idx: int) -> memoryview:
        """The whole slot as a writable memoryview (slice it to the transfer length)."""
        return self._views[idx]

    @property
    def in_use(self) -> int:
        return lib.ring_in_use(self._base)

    def close(self) -> None:
        for v in self._views:
            v.release()
        self._views = []
        self._base = None
        self._map.close()
