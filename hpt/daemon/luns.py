"""The one place a configured LUN becomes a logical unit: its device profile, its store opened through
the store registry, and the LU over both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.lu import LogicalUnit
from hpt.store.registry import open_store

if TYPE_CHECKING:
    from hpt.daemon.config import LunConfig


def build_lu(config: LunConfig) -> LogicalUnit:
    """A LU of ``config.profile`` (the device type the loader found in its profile mapping) over a newly
    opened store of kind ``config.store``; the store is closed again if the LU cannot be built."""
    store = open_store(config.store, config.store_values, readonly=config.params.readonly)
    try:
        return LogicalUnit(config.profile, config.params, store, lun=config.lun)
    except BaseException:
        store.close()
        raise
