"""The one place a configured LUN becomes a logical unit: its device profile, its store opened through
the store registry, and the LU over both; a changer is built over its target's drive LUs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from hpt.daemon.library import build_changer
from hpt.scsi.lu import LogicalUnit
from hpt.store.registry import open_store

if TYPE_CHECKING:
    from hpt.daemon.config import LunConfig
    from hpt.store.base import SharedMemory
    from hpt.store.shared import SharedObject

Shared = Callable[[str], "SharedObject | None"]
Sharing = Callable[[int, str], "SharedObject | None"]
Memory = Callable[[int], "SharedMemory"]
Memories = Callable[[int, int], "SharedMemory"]


def build_lu(config: LunConfig, shared: Shared | None = None, memory: Memory | None = None) -> LogicalUnit:
    """A LU of ``config.profile`` (the device type the loader found in its profile mapping) over a newly
    opened store of kind ``config.store`` (none when it is ""); the store is closed again if the LU cannot
    be built. ``shared(name)``: the objects hptd's worker processes share for it (``LogicalUnit``);
    ``memory(n)``: the memory they share for a store that keeps its medium in memory (``ram``)."""
    if config.library is not None:
        raise ValueError(f"lun {config.lun}: a changer is built with its target's drives (build_lus)")
    if not config.store:
        return LogicalUnit(config.profile, config.params, None, lun=config.lun, shared=shared)
    store = open_store(config.store, config.store_values, readonly=config.params.readonly, memory=memory)
    # a store that can only be read (an rbd snapshot) makes the LU write-protected: MODE SENSE's WP too
    params = replace(config.params, readonly=True) if store.readonly else config.params
    key_file = params.extra.get("encryption_key_file")
    try:
        if key_file:  # the data kept encrypted: SANITIZE CRYPTO ERASE (SBC-4 4.11.5)
            store = _encrypted(store, key_file, params.block_size)
        return LogicalUnit(config.profile, params, store, lun=config.lun, shared=shared)
    except BaseException:
        store.close()
        raise


def _encrypted(store: Any, key_file: str, block_size: int) -> Any:
    """``store`` kept encrypted with the key in ``key_file`` (``hpt.store.crypt``). Imported here: only an
    LU with the key needs the ``cryptography`` package, so hptd runs where it is missing (a guest with
    Debian's Python packages only) until such an LU is configured."""
    try:
        from hpt.store.crypt import EncryptedStore
    except ImportError as err:
        raise ValueError(f"encryption_key_file needs the Python package cryptography ({err})") from err
    return EncryptedStore(store, key_file, block_size)


def build_lus(configs: list[LunConfig], sharing: Sharing | None = None,
              memories: Memories | None = None) -> list[LogicalUnit]:
    """A target's LUs, in the order of ``configs``: the others first, then each changer over its drive
    LUs (``hpt.daemon.library``). If one cannot be built, those built are closed again. ``sharing(lun,
    name)``, ``memories(lun, n)``: the objects and the memory the worker processes share for LUN ``lun``
    (None: this process serves alone)."""
    built: dict[int, LogicalUnit] = {}
    try:
        for config in configs:
            if config.library is None:
                shared = None if sharing is None else partial(sharing, config.lun)
                memory = None if memories is None else partial(memories, config.lun)
                built[config.lun] = _named(config, build_lu, config, shared, memory)
        for config in configs:
            if config.library is not None:
                built[config.lun] = _named(config, build_changer, config, built)
    except BaseException:
        for lu in built.values():
            lu.close(0)
        raise
    return [built[config.lun] for config in configs]


def _named(config: LunConfig, build: Callable[..., LogicalUnit], *args: Any) -> LogicalUnit:
    """``build(*args)``; a store that cannot be opened or allocated becomes a ValueError naming the LUN
    and its line in the configuration (``hptd: cannot start: hptd.toml:40: target[0].lun[1]: ...``)."""
    try:
        return build(*args)
    except MemoryError:
        raise ValueError(f"{_where(config)}: not enough memory for its store") from None
    except OSError as err:
        what = f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
        raise ValueError(f"{_where(config)}: cannot open its store: {what}") from None


def _where(config: LunConfig) -> str:
    return config.source or f"lun {config.lun}"
