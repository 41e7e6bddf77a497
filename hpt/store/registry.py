"""Store kinds: the backing stores a LUN's ``store`` key can name, found through entry points.

Every store kind, hpt's own (``file``, ``ram``, ``null``) as much as a plug-in's, is a
:class:`StoreKind` published under the entry-point group ``hpt.stores`` (``docs/stores.md``): its
name, its option schema (:mod:`hpt.options`) and a factory that opens a store from the resolved
values. Installing a distribution that declares one is all it takes to use it. The entry points are
read once, on first use; a plug-in that fails to load, or names something that is not a StoreKind,
is reported by name and distribution and leaves every other kind usable.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any

from hpt.options import Option, resolve
from hpt.store.base import BackingStore, SharedMemory

GROUP = "hpt.stores"
BUILTIN_DISTRIBUTION = "hpt"

log = logging.getLogger("hpt.store")


@dataclass(frozen=True, slots=True)
class StoreKind:
    """A kind of backing store: ``open(values)`` gets every option's resolved value plus the LU's
    ``readonly`` flag and returns an open :class:`BackingStore` (or raises ValueError/OSError).

    ``memory(values)``, for a kind that keeps its medium in process memory: how many bytes of it, so
    that processes serving the same LU map the same memory (hptd's workers, docs/workers.md); then
    ``open`` also gets ``memory``, a :class:`SharedMemory` of that many bytes, or None for memory of
    the process's own.

    ``shared_medium``: every process that opens a LU of this kind with the same options opens the same
    medium (a file, a network volume), so hptd's worker processes may serve it; a kind with ``memory``
    may be served by them too."""

    name: str
    options: tuple[Option, ...]
    open: Callable[[dict[str, Any]], BackingStore]
    doc: str = ""
    memory: Callable[[Mapping[str, Any]], int] | None = None
    shared_medium: bool = False

    @property
    def served_by_workers(self) -> bool:
        """Whether hptd's worker processes may each open a LU of this kind (docs/workers.md)."""
        return self.shared_medium or self.memory is not None


class StoreKindError(ValueError):
    """A store kind that is not installed, or whose plug-in cannot be used."""


@dataclass(frozen=True, slots=True)
class _Registry:
    kinds: Mapping[str, StoreKind]
    problems: Mapping[str, str]  # name -> why its entry point is not usable


def _distribution(ep: EntryPoint) -> str:
    dist = ep.dist
    return "an unknown distribution" if dist is None else f"distribution {dist.name} {dist.version}"


def _describe(ep: EntryPoint) -> str:
    return f'entry point "{ep.name} = {ep.value}" ({GROUP}) of {_distribution(ep)}'


def _builtin_first(ep: EntryPoint) -> tuple[bool, str, str]:
    dist = "" if ep.dist is None else ep.dist.name
    return dist != BUILTIN_DISTRIBUTION, dist, ep.name


def _load(ep: EntryPoint) -> StoreKind | str:
    """The entry point's StoreKind, or why it cannot be used."""
    try:
        kind = ep.load()
    except Exception as err:  # a plug-in's import may fail in any way; it must not take hpt down
        return f"{_describe(ep)} failed to load: {type(err).__name__}: {err}"
    if not isinstance(kind, StoreKind):
        return f"{_describe(ep)} is a {type(kind).__name__}, not a hpt.store.registry.StoreKind"
    if kind.name != ep.name:
        return f'{_describe(ep)} names its store kind "{kind.name}", not "{ep.name}"'
    return kind


@functools.cache
def _registry() -> _Registry:
    kinds: dict[str, StoreKind] = {}
    owners: dict[str, EntryPoint] = {}
    problems: dict[str, str] = {}
    for ep in sorted(entry_points(group=GROUP), key=_builtin_first):
        if ep.name in owners:
            problem = f"{_describe(ep)} is ignored: {_describe(owners[ep.name])} registered it first"
            log.warning("store kind %s: %s", ep.name, problem)
            continue
        owners[ep.name] = ep
        loaded = _load(ep)
        if isinstance(loaded, str):
            log.warning("store kind %s: %s", ep.name, loaded)
            problems[ep.name] = loaded
        else:
            kinds[ep.name] = loaded
    return _Registry(MappingProxyType(kinds), MappingProxyType(problems))


def store_kinds() -> Mapping[str, StoreKind]:
    """The usable store kinds by name (read from the entry points once)."""
    return _registry().kinds


def store_kind_problems() -> Mapping[str, str]:
    """The store kinds whose entry point could not be used, with the reason."""
    return _registry().problems


def clear_cache() -> None:
    """Forget the entry points read so far: the next call reads them again (after an install)."""
    _registry.cache_clear()


def store_kind(name: str) -> StoreKind:
    """The store kind called ``name``; StoreKindError says why there is none."""
    registry = _registry()
    kind = registry.kinds.get(name)
    if kind is not None:
        return kind
    if name in registry.problems:
        raise StoreKindError(f'store kind "{name}" cannot be used: {registry.problems[name]}')
    if not registry.kinds:  # even hpt's own kinds come from its installed metadata
        raise StoreKindError(f'unknown store kind "{name}": no store kinds are installed (pip install hpt)')
    raise StoreKindError(f'unknown store kind "{name}" (installed: {", ".join(registry.kinds)})')


def open_store(name: str, values: Mapping[str, Any], *, readonly: bool = False,
               memory: Callable[[int], SharedMemory] | None = None) -> BackingStore:
    """Open a store of kind ``name`` from its option values (checked and completed by
    :func:`hpt.options.resolve`; OptionError names a bad key) for a LU that is ``readonly`` or not.
    ``memory(n)``: shared memory of ``n`` bytes, for a kind that keeps its medium in memory (None: the
    store's own)."""
    kind = store_kind(name)
    resolved = resolve(kind.options, values, f'store = "{name}"')
    resolved["readonly"] = readonly
    shared = None
    if kind.memory is not None:
        shared = resolved["memory"] = None if memory is None else memory(kind.memory(resolved))
    try:
        return kind.open(resolved)
    except BaseException:
        if shared is not None:  # the store never took it
            shared.close()
        raise
