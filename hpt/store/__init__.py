"""Backing stores: a file or block device, memory, or nothing, and any installed plug-in's; the
registry (``hpt.store.registry``) finds each kind by name through the ``hpt.stores`` entry points."""

from __future__ import annotations

from hpt.store.base import BackingStore
from hpt.store.file import FileStore
from hpt.store.null import NullStore
from hpt.store.ram import RamStore
from hpt.store.registry import StoreKind, StoreKindError, open_store, store_kind, store_kinds

__all__ = [
    "BackingStore",
    "FileStore",
    "NullStore",
    "RamStore",
    "StoreKind",
    "StoreKindError",
    "open_store",
    "store_kind",
    "store_kinds",
]
