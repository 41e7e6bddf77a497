"""What a store whose medium several gateways serve offers them to share (``BackingStore.shared_state``):
one small object per purpose (a LU's persistent reservations) with a version for compare-and-swap and
notifications between the gateways. ``hpt.native.rados.RadosObject`` is the rbd store's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class SharedObject(Protocol):
    """A small object every gateway reads and replaces; version 0: it does not exist yet."""

    name: str

    def read(self) -> tuple[bytes, int]:
        """(contents, version)."""

    def write(self, data: bytes, version: int) -> int | None:
        """Replace the contents if still at ``version``: the new version, or None if another gateway
        changed it first."""

    def watch(self, notified: Callable[[bytes], None]) -> None:
        """Call ``notified(payload)`` (on another thread) for every :meth:`notify` of any gateway."""

    def notify(self, payload: bytes, timeout: float = 5.0) -> bool:
        """Reach every watcher and wait until each handled it (False: some did not within ``timeout``)."""

    def close(self) -> None:
        """Stop watching and let go of the object."""
