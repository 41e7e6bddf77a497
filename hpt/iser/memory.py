"""Registered memory for one RDMA device: the ring's slots (data) and fixed-size message buffers.

The ring is registered once (tgt's "pool per device", but made of the slots the SCSI core fills), so
read data goes store -> slot -> RDMA Write with no copy. Message buffers hold what SEND and RECV carry:
the iSER header, the BHS and a data segment (RFC 7145 7.3).
"""

from __future__ import annotations

import mmap
from typing import Any

from hpt.iser.verbs import address_of
from hpt.native.ring import Ring


class RegisteredRing:
    """One memory region over every slot of ``ring`` (local write: the target starts every RDMA)."""

    def __init__(self, pd: Any, ring: Ring, mr_class: Any, access: int) -> None:
        self.ring = ring
        self.slot_addr = [address_of(ring.view(i)) for i in range(ring.nslots)]
        base = self.slot_addr[0]
        if self.slot_addr[-1] - base != (ring.nslots - 1) * ring.slot_size:
            raise ValueError("ring slots are not contiguous")
        self.mr = mr_class(pd, ring.nslots * ring.slot_size, access, address=base)
        self.lkey: int = self.mr.lkey

    def close(self) -> None:
        self.mr.close()


class MessageBuffers:
    """``count`` buffers of ``size`` bytes in one registered mapping, with a free list."""

    def __init__(self, pd: Any, count: int, size: int, mr_class: Any, access: int) -> None:
        self.size = size
        self.count = count
        self._map = mmap.mmap(-1, count * size)
        self._view = memoryview(self._map)
        self.base = address_of(self._view)
        self.mr = mr_class(pd, count * size, access, address=self.base)
        self.lkey: int = self.mr.lkey
        self._free = list(range(count - 1, -1, -1))

    def view(self, idx: int) -> memoryview:
        return self._view[idx * self.size : (idx + 1) * self.size]

    def addr(self, idx: int) -> int:
        return self.base + idx * self.size

    def take(self) -> int:
        """A free buffer index, or -1."""
        return self._free.pop() if self._free else -1

    def give(self, idx: int) -> None:
        self._free.append(idx)

    @property
    def available(self) -> int:
        return len(self._free)

    def close(self) -> None:
        self.mr.close()
        self._view.release()
        self._map.close()
