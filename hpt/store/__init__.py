"""Backing stores: a file or block device, memory, or nothing; ``open_store`` picks one by name."""

from __future__ import annotations

from hpt.store.base import BackingStore
from hpt.store.file import FileStore
from hpt.store.null import NullStore
from hpt.store.ram import RamStore

STORE_KINDS = ("file", "ram", "null")

__all__ = ["STORE_KINDS", "BackingStore", "FileStore", "NullStore", "RamStore", "open_store"]


def open_store(kind: str, path: str | None, size: int | None, readonly: bool, direct: bool) -> BackingStore:
    """Open a store. ``file`` needs a path (and a size to create a missing file); ``ram`` and
    ``null`` need a size and take neither a path nor O_DIRECT. Bad combinations raise ValueError."""
    if kind == "file":
        if not path:
            raise ValueError("a file store needs a path")
        return FileStore(path, size, readonly, direct)
    if kind not in STORE_KINDS:
        raise ValueError(f"unknown store kind {kind!r}: expected one of {', '.join(STORE_KINDS)}")
    if path:
        raise ValueError(f"a {kind} store takes no path (got {path!r})")
    if direct:
        raise ValueError(f"a {kind} store has no file to open with O_DIRECT")
    if size is None:
        raise ValueError(f"a {kind} store needs a size")
    return RamStore(size, readonly) if kind == "ram" else NullStore(size, readonly)
