"""The backing-store interface the SCSI core reads and writes through."""

from __future__ import annotations

from abc import ABC, abstractmethod


class BackingStore(ABC):
    """Byte-addressed storage under a LU. Buffers are memoryviews (ring slots): no copies.

    Offsets and lengths are in bytes and always inside ``size`` (the SCSI core checks ranges).
    """

    size: int
    readonly: bool = False
    supports_discard: bool = False

    @abstractmethod
    def read_into(self, offset: int, buf: memoryview) -> None:
        """Fill ``buf`` from ``offset`` (preadv); holes and unwritten space read as zeroes."""

    @abstractmethod
    def write_from(self, offset: int, buf: memoryview) -> None:
        """Write all of ``buf`` at ``offset`` (pwritev)."""

    @abstractmethod
    def sync(self, offset: int = 0, length: int = 0) -> None:
        """Make written data durable (fdatasync / sync_file_range); length 0 means to the end."""

    def discard(self, offset: int, length: int) -> None:
        """Deallocate a range so it reads back as zeroes (punch hole); only if ``supports_discard``."""
        raise OSError("discard not supported by this store")

    def write_zeroes(self, offset: int, length: int) -> None:
        """Write zeroes over a range (default: a zero buffer written in pieces)."""
        zero = memoryview(bytes(min(length, 1 << 20)))
        end = offset + length
        while offset < end:
            n = min(len(zero), end - offset)
            self.write_from(offset, zero[:n])
            offset += n

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        """(mapped, length in bytes of the run of that state starting at ``offset``) for GET LBA STATUS."""
        return True, self.size - offset

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and mappings."""
