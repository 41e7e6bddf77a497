"""The zero-copy buffer ring: data buffers for the whole data path are slots of one mapping.

Sockets ``recv_into`` slots, stores ``preadv``/``pwritev`` them, replies leave with ``sendmsg`` of
header + slot view. Which process holds each slot is kept in the mapping itself (``ringbuf.c``), so
a ring made in a memfd (:meth:`Ring.shared`) is mapped by every worker process and shared: one pool,
and a dead worker's slots given back (:meth:`Ring.reclaim`).
"""

from __future__ import annotations

import mmap
import os

from hpt.native._ringbuf import ffi, lib


class RingExhausted(Exception):
    """No free slot: the caller waits for completions (patient allocation) or answers BUSY."""


class Ring:
    """``nslots`` slots of ``slot_size`` bytes (a multiple of 512) in one shared mapping."""

    def __init__(self, slot_size: int = 256 * 1024, nslots: int = 256, path: str | None = None, *,
                 fd: int | None = None, home: int = 0) -> None:
        """A ring in this process's memory, or in the file at ``path`` or open as ``fd`` (a memfd of
        :meth:`shared`, handed to a worker): one made there before is mapped with its own geometry, an
        empty file is made a ring. ``fd`` stays the caller's. ``home``: the slot this process's searches
        for a free slot start at (a worker's share of a shared ring; process-wide, as its tag is)."""
        lib.ring_set_owner(os.getpid(), home)  # the tag of the slots this process takes
        self.fd: int | None = None  # the memfd of a ring made by :meth:`shared`, to hand on
        total = lib.ring_bytes(slot_size, nslots)
        if path is None and fd is None:
            self._map = mmap.mmap(-1, total, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
            fresh = True
        else:
            own = fd is None
            if fd is None:
                assert path is not None
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            name = path or f"descriptor {fd}"
            try:
                size = os.fstat(fd).st_size
                fresh = size == 0
                if fresh:
                    os.ftruncate(fd, total)
                elif size < 4096:
                    raise ValueError(f"{name}: not an hpt ring")
                self._map = mmap.mmap(fd, total if fresh else size, flags=mmap.MAP_SHARED)
            finally:
                if own:
                    os.close(fd)
            path = name
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

    @classmethod
    def shared(cls, slot_size: int, nslots: int, name: str = "hpt ring") -> Ring:
        """A ring in a new memfd (:attr:`fd`), for processes that map it with ``Ring(fd=...)`` and take
        their slots from the one pool."""
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        try:
            ring = cls(slot_size, nslots, fd=fd)
        except BaseException:
            os.close(fd)
            raise
        ring.fd = fd
        return ring

    def free(self, idx: int) -> None:
        rc = lib.ring_free(self._base, idx)
        if rc == -1:
            raise ValueError(f"slot {idx} out of range")
        if rc != 0:
            raise ValueError(f"slot {idx} is not in use by this process")

    def reclaim(self, pid: int) -> int:
        """Give back every slot process ``pid`` holds, once it is dead (a worker killed mid-I/O): how many."""
        return lib.ring_reclaim(self._base, pid)

    def free_many(self, slots: list[int]) -> None:
        """Give back several slots with one call into C (a burst's Data-In, once sent)."""
        lib.ring_free_many(self._base, ffi.new("uint32_t[]", slots), len(slots))

    @property
    def base(self) -> object:
        """The mapping as a cffi pointer, for C that allocates slots itself (``hpt/native/quick.c``)."""
        return self._base

    def lane_entry(self) -> tuple[int, int, int, int, int, int]:
        """For C in another module that runs the fast lane over this ring (iSER's, ``verbs.c``): the
        addresses of the mapping and of slot 0, the slot size, and of ``quick_burst``, ``ring_free`` and
        ``ring_alloc``."""
        def address(ptr: object) -> int:
            return int(ffi.cast("uintptr_t", ptr))
        return (address(self._base), address(self._base) + lib.ring_data_offset(self._base), self.slot_size,
                address(ffi.addressof(lib, "quick_burst")), address(ffi.addressof(lib, "ring_free")),
                address(ffi.addressof(lib, "ring_alloc")))

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
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
