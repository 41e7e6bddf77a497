"""A store that holds nothing: reads return zeroes, writes are dropped (for benchmarks, like tgt's null)."""

from __future__ import annotations

from hpt.options import Option
from hpt.store.base import BackingStore, DirectSource
from hpt.store.registry import StoreKind

_ZEROS = memoryview(bytes(1 << 20))
_DIRECT = DirectSource(zero=True)


class NullStore(BackingStore):
    """``size`` bytes that always read as zero; every range is reported deallocated."""

    supports_discard = True
    waits = False

    def __init__(self, size: int, readonly: bool = False) -> None:
        if size <= 0:
            raise ValueError(f"null store size must be positive, not {size}")
        self.size = size
        self.readonly = readonly

    def read_into(self, offset: int, buf: memoryview) -> None:
        n = len(buf)
        step = len(_ZEROS)
        if n <= step:
            buf[:] = _ZEROS[:n]
            return
        for start in range(0, n, step):
            end = min(start + step, n)
            buf[start:end] = _ZEROS[:end - start]

    def write_from(self, offset: int, buf: memoryview) -> None:
        """Dropped."""

    def sync(self, offset: int = 0, length: int = 0) -> None:
        """Nothing is kept, so nothing to flush."""

    def discard(self, offset: int, length: int) -> None:
        """Already deallocated."""

    def write_zeroes(self, offset: int, length: int) -> None:
        """Already zero."""

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        return False, self.size - offset

    def direct_source(self) -> DirectSource:
        """The fast lane in C reads zeroes and drops writes itself."""
        return _DIRECT


KIND = StoreKind(
    name="null",
    options=(Option("size", "size", doc="bytes the LU reports"),),
    open=lambda values: NullStore(values["size"], values["readonly"]),
    doc="nothing: writes are dropped, reads return zeroes (benchmarks)",
    shared_medium=True,  # nothing is kept: every worker answers alike
)
