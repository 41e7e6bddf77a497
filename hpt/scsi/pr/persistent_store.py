"""Persist Through Power Loss: the APTPL state file of a LU's persistent reservations (SPC-5 5.13.5).

While the last REGISTER, REGISTER AND IGNORE EXISTING KEY or REGISTER AND MOVE had APTPL set,
every change is written (atomically) to ``<backing file>.pr`` as JSON and read back when the LU
is built again; APTPL zero removes the file.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from hpt.scsi.pr.persistent import PersistentReservation, PrType, Registration

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.pr.reservations import Reservations

log = logging.getLogger("hpt.scsi")
SUFFIX = ".pr"


def default_state_path(lu: LogicalUnit) -> str | None:
    """Where the store keeps its LU's state beside the medium (``BackingStore.state_path``: an image
    file's ``<path>.pr``), else None."""
    return None if lu.store is None else lu.store.state_path(SUFFIX)


def encode_state(pr: Reservations) -> dict[str, Any]:
    """Registrations, reservation, generation and APTPL as JSON-able data."""
    regs = pr.registrations
    res = pr.reservation
    reservation = None
    if res is not None:
        holder = None if res.holder is None else regs.index(res.holder)
        reservation = {"type": int(res.type), "scope": res.scope, "holder": holder}
    return {
        "generation": pr.generation,
        "registrations": [
            {"key": r.key, "name": r.name, "isid": r.isid, "rtpi": r.rtpi, "all_tg_pt": r.all_tg_pt,
             "protocol": r.protocol}
            for r in regs
        ],
        "reservation": reservation,
        "aptpl": pr.aptpl,
    }


def save_state(pr: Reservations) -> None:
    """Write the state if APTPL is active, remove a stale file otherwise."""
    path = pr.state_path
    if path is None:
        return
    if not pr.aptpl:
        if os.path.exists(path):
            os.unlink(path)
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(encode_state(pr), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(pr: Reservations) -> None:
    """Restore registrations and the reservation saved with APTPL; a damaged file is logged, not used."""
    path = pr.state_path
    if path is None or not os.path.exists(path):
        return
    try:
        with open(path, encoding="utf-8") as f:
            apply_state(pr, json.load(f))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        log.error("ignoring persistent reservation state %s: %s", path, err)
        return
    pr.aptpl = True


def apply_state(pr: Reservations, doc: dict[str, Any]) -> None:
    """Replace ``pr``'s state with ``encode_state``'s data (ValueError, KeyError, IndexError or
    TypeError when it is damaged: then nothing changed)."""
    regs = [
        Registration(int(r["key"]), str(r["name"]), r["isid"], int(r["rtpi"]), bool(r["all_tg_pt"]),
                     int(r["protocol"]))
        for r in doc["registrations"]
    ]
    res = doc["reservation"]
    reservation = None
    if res is not None:
        holder = None if res["holder"] is None else regs[int(res["holder"])]
        reservation = PersistentReservation(PrType(int(res["type"])), holder, int(res["scope"]))
    pr.registrations = regs
    pr.reservation = reservation
    pr.generation = int(doc["generation"]) & 0xFFFFFFFF
    pr.aptpl = bool(doc.get("aptpl", False))
