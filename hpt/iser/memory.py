"""Registered memory for one RDMA device: the ring's slots (data), larger per-command buffers, and
fixed-size message buffers.

The ring is registered once (tgt's "pool per device", but made of the slots the SCSI core fills), so
read data goes store -> slot -> RDMA Write with no copy. Message buffers hold what SEND and RECV carry:
the iSER header, the BHS and a data segment (RFC 7145 7.3).
"""

from __future__ import annotations

import logging
import mmap
from array import array
from collections.abc import Callable
from typing import Protocol

from hpt.iser.verbs import address_of
from hpt.native.ring import Ring

log = logging.getLogger("hpt.iser")


class Region(Protocol):
    """Registered memory (``hpt.native.verbs.MemoryRegion``)."""

    lkey: int

    def close(self) -> None: ...


Register = Callable[[int, int], Region]  # (address, length) -> its registration on the device


class RegisteredRing:
    """One memory region over every slot of ``ring`` (local write: the target starts every RDMA)."""

    def __init__(self, register: Register, ring: Ring) -> None:
        self.ring = ring
        self.slot_addr = [address_of(ring.view(i)) for i in range(ring.nslots)]
        base = self.slot_addr[0]
        if self.slot_addr[-1] - base != (ring.nslots - 1) * ring.slot_size:
            raise ValueError("ring slots are not contiguous")
        self.mr = register(base, ring.nslots * ring.slot_size)
        self.lkey = self.mr.lkey

    def close(self) -> None:
        self.mr.close()


class MessageBuffers:
    """``count`` buffers of ``size`` bytes in one registered mapping, with a free stack: ``stack[:top[0]]``
    (arrays the iSER fast lane in C takes from and gives back to in place: ``hpt.native.verbs.Lane``)."""

    def __init__(self, register: Register, count: int, size: int) -> None:
        self.size = size
        self.count = count
        self._map = mmap.mmap(-1, count * size)
        self._view = memoryview(self._map)
        self.base = address_of(self._view)
        self.mr = register(self.base, count * size)
        self.lkey = self.mr.lkey
        self.stack = array("I", range(count - 1, -1, -1))
        self.top = array("I", [count])

    def view(self, idx: int) -> memoryview:
        return self._view[idx * self.size : (idx + 1) * self.size]

    def addr(self, idx: int) -> int:
        return self.base + idx * self.size

    @property
    def location(self) -> tuple[int, int, int]:
        """(address of buffer 0, size of each, lkey)."""
        return self.base, self.size, self.lkey

    def take(self) -> int:
        """A free buffer index, or -1."""
        top = self.top[0]
        if not top:
            return -1
        self.top[0] = top - 1
        return self.stack[top - 1]

    def give(self, idx: int) -> None:
        top = self.top[0]
        self.stack[top] = idx
        self.top[0] = top + 1

    @property
    def available(self) -> int:
        return self.top[0]

    def close(self) -> None:
        self.mr.close()
        self._view.release()
        self._map.close()


LARGE_LIMIT = 256 << 20  # largest single command buffer (a 64 Ki-block WRITE of 4 KiB blocks)
LARGE_BUDGET = 512 << 20  # registered bytes all large buffers of one device may pin at once
LARGE_MIN = 2 << 20  # smallest size class (the ring's slots hold up to 1 MiB)


class RegisteredBuffers:
    """Buffers for commands larger than a ring slot, registered per device and kept for reuse.

    Sizes are rounded up to a power of two so the kernel initiator's usual large I/O finds an already
    registered buffer; freed buffers stay registered until the byte budget needs room. ``alloc`` returns
    -1 while the budget is in use by live commands (the task waits, as for a ring slot) and -2 when the
    registration fails. Implements the core's ``LargeBuffers``.
    """

    limit = LARGE_LIMIT

    def __init__(self, register: Register, budget: int = LARGE_BUDGET) -> None:
        self.register, self.budget = register, budget
        self.pinned = 0
        # handle -> (mapping, view, MR, address of its first byte)
        self._bufs: dict[int, tuple[mmap.mmap, memoryview, Region, int]] = {}
        self._idle: dict[int, list[int]] = {}  # size class -> handles of free buffers
        self._next = 0

    @staticmethod
    def size_class(size: int) -> int:
        return max(LARGE_MIN, 1 << (size - 1).bit_length())

    def alloc(self, size: int) -> int:
        cls = self.size_class(size)
        idle = self._idle.get(cls)
        if idle:
            return idle.pop()
        while self.pinned + cls > self.budget and self._evict_one():
            pass
        if self.pinned + cls > self.budget:
            return -1
        mapping = mmap.mmap(-1, cls)
        view = memoryview(mapping)
        address = address_of(view)
        try:
            mr = self.register(address, cls)
        except OSError as err:  # hpt.native.verbs.VerbsError (e.g. ENOMEM)
            log.warning("cannot register a %d-byte buffer: %s", cls, err)
            view.release()
            mapping.close()
            return -2
        self._next = handle = self._next + 1
        self._bufs[handle] = (mapping, view, mr, address)
        self.pinned += cls
        log.info("registered a %d-byte buffer for large commands (%d bytes registered)", cls, self.pinned)
        return handle

    def view(self, handle: int) -> memoryview:
        return self._bufs[handle][1]

    def addr(self, handle: int) -> int:
        return self._bufs[handle][3]

    def lkey(self, handle: int) -> int:
        return int(self._bufs[handle][2].lkey)

    def free(self, handle: int) -> None:
        self._idle.setdefault(len(self._bufs[handle][0]), []).append(handle)

    def _evict_one(self) -> bool:
        for handles in self._idle.values():
            if handles:
                self._release(handles.pop())
                return True
        return False

    def _release(self, handle: int) -> None:
        mapping, view, mr, _address = self._bufs.pop(handle)
        self.pinned -= len(mapping)
        mr.close()
        view.release()
        mapping.close()

    def close(self) -> None:
        for handle in list(self._bufs):
            self._release(handle)
        self._idle.clear()
