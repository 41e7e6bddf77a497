"""An OSD LU's state (``lu.state``): its object store, opened on the directory the ``path`` key names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpt.media.objects import ObjectStore

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit, LuParams


@dataclass
class OsdState:
    store: ObjectStore


def new_state(params: LuParams) -> OsdState:
    """Open (creating it the first time, formatted) the object store under ``path``."""
    return OsdState(ObjectStore(params.extra["path"], params.extra.get("capacity", 0)))


def close_store(lu: LogicalUnit) -> None:
    """The LU goes away: make everything durable (FLUSH OSD) and close the store."""
    store = lu.state.store
    store.flush()
    store.close()
