"""``[daemon] workers``: what several worker processes can serve (docs/workers.md).

Each worker builds every LU from the configuration and serves the sessions handed to it; what the
workers share goes through the main process (reservations, unit attentions of a reset, ALUA states,
the session table). A medium they share must therefore be one every process can open: a file (the page
cache, or O_DIRECT, keeps it one), an rbd image, memory (``ram``: one memfd from the main process,
``hpt/daemon/workers/memory.py``) or nothing (``null``). A device whose state lives in the process (a
tape, changer, DVD or object store; a removable disk's PREVENT state) cannot be split between workers,
and only iSCSI/TCP connections can be handed to one. An encrypted LU's key is its key file's: a CRYPTO
ERASE through one worker writes the new key there before the others, told it ended, read it again."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hpt.daemon.config.tables import ConfigError
from hpt.store.registry import store_kind

if TYPE_CHECKING:
    from hpt.daemon.config.schema import Config

MAX_WORKERS = 256


def single(config: Config) -> tuple[str, str] | None:
    """The first thing in ``config`` that only one process can serve, and why (None: workers can)."""
    for portal in config.portals:
        if portal.transport != "tcp":
            return portal.source or portal.address, f"an {portal.transport} portal"
    if config.fcoe_ports:
        return "fcoe_port", "FCoE ports"
    for target in config.targets:
        for lun in target.luns:
            where = lun.source or f"lun {lun.lun}"
            if lun.type != "disk":
                return where, f"a {lun.type} keeps its state in one process"
            if not store_kind(lun.store).served_by_workers:
                return where, (f'store = "{lun.store}" does not say every process opens the same medium '
                               "(StoreKind.shared_medium)")
            if lun.params.removable:
                return where, "a removable disk's PREVENT MEDIUM REMOVAL is one process's"
    return None


def check_workers(config: Config, where: str) -> None:
    """Refuse what ``workers = N`` (N > 1, at ``where``) cannot serve, naming it and its line."""
    found = single(config)
    if found is not None:
        what, why = found
        raise ConfigError(f"{what}: {why}; with {where} = {config.daemon.workers} only disks on a store "
                          "every process opens (file, rbd, ram, null) over iSCSI/TCP are served (set "
                          "workers = 1)")


def auto_workers(config: Config) -> tuple[int, str]:
    """``workers = "auto"``: one worker per core this process may run on, or one process when the
    configuration has what only one process serves; the count and, for one process, why."""
    found = single(config)
    if found is not None:
        return 1, f"{found[0]}: {found[1]}"
    return min(len(os.sched_getaffinity(0)), MAX_WORKERS), ""
