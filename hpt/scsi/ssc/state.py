"""A tape drive LU's state (``lu.state``): the cartridge in it, the position, the block length, who
prevents medium removal, the TapeAlert flags and the counters of the log pages (SSC-4).

Tape commands run one at a time (the table makes each exclusive in the task set); a changer loading or
unloading the drive takes the same ``lock``, so it never cuts into a command.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.media.header import MediaError
from hpt.media.tape import Cartridge
from hpt.scsi.core.constants import MEDIUM_NOT_PRESENT, WRITE_PROTECTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.ssc.sense import CLEANING_CARTRIDGE, MEDIUM_FORMAT_CORRUPTED, WORM_OVERWRITE

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit, LuParams

MAX_BLOCK = 1 << 23  # READ BLOCK LIMITS: the largest block (8 MiB)
MIN_BLOCK = 1
TA_WRITE_PROTECT = 0x09  # TapeAlert flag: write to a write-protected cartridge (SSC-4 Annex A)
TA_CLEANING_MEDIA = 0x11  # TapeAlert flag: cleaning cartridge loaded for a data access


@dataclass
class TapeState:
    """Everything a tape LU keeps beyond SPC's state. ``pos`` is the logical object number the next
    READ or WRITE starts at (0 = beginning of partition, ``cartridge.objects`` = end of data)."""

    block_length: int = 0  # 0: variable-block mode (MODE SELECT block descriptor)
    readonly: bool = False
    cartridge: Cartridge | None = None
    ejected: bool = False  # LOAD UNLOAD unloaded it; it is still in the drive for a changer to take
    pos: int = 0
    preventers: set[str] = field(default_factory=set)
    alerts: set[int] = field(default_factory=set)
    counters: Counter[str] = field(default_factory=Counter)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def medium(self) -> Cartridge:
        """The loaded cartridge, or NOT READY, MEDIUM NOT PRESENT."""
        cart = self.cartridge
        if cart is None or self.ejected:
            raise SenseError(MEDIUM_NOT_PRESENT)
        return cart

    def data_medium(self) -> Cartridge:
        """The loaded cartridge for a READ, WRITE, SPACE ...: a cleaning cartridge is refused."""
        cart = self.medium()
        if cart.info.medium_type == "clean":
            self.alerts.add(TA_CLEANING_MEDIA)
            raise SenseError(CLEANING_CARTRIDGE)
        return cart

    def writable_medium(self) -> Cartridge:
        """The loaded cartridge for a command that writes: DATA PROTECT when it is write protected
        (its tab, a read-only file or a read-only LU) or, on WORM, when data after ``pos`` would go."""
        cart = self.data_medium()
        if self.readonly or cart.info.write_protect or not cart.writable:
            self.alerts.add(TA_WRITE_PROTECT)
            raise SenseError(WRITE_PROTECTED)
        if cart.info.worm and self.pos < cart.objects:
            raise SenseError(WORM_OVERWRITE)
        return cart

    def write_protected(self) -> bool:
        cart = self.cartridge
        return self.readonly or (cart is not None and (cart.info.write_protect or not cart.writable))

    @property
    def medium_path(self) -> Path | None:
        """The cartridge file in the drive (loaded or unloaded), or None."""
        return None if self.cartridge is None else self.cartridge.path

    def mount(self, path: Path) -> None:
        """Open ``path`` (recovering it) and put it at beginning of partition."""
        try:
            self.cartridge = Cartridge(path)
        except (MediaError, OSError) as err:
            raise SenseError(MEDIUM_FORMAT_CORRUPTED) from err
        self.ejected = False
        self.pos = 0

    def dismount(self) -> Path | None:
        """Close the cartridge (writing its index) and empty the drive; returns its file."""
        cart, self.cartridge = self.cartridge, None
        self.ejected = False
        self.pos = 0
        if cart is None:
            return None
        cart.close()
        return cart.path


def new_state(params: LuParams) -> TapeState:
    """A tape LU's state; a ``cartridge`` option loads that cartridge at start (SSC-4)."""
    state = TapeState(block_length=params.block_size, readonly=params.readonly)
    path = params.extra.get("cartridge")
    if path:
        try:
            state.cartridge = Cartridge(path)
        except (MediaError, OSError) as err:
            raise ValueError(f"cartridge: {path}: {err}") from err
    return state


def check_ready(lu: LogicalUnit) -> None:
    """TEST UNIT READY: NOT READY, MEDIUM NOT PRESENT while no cartridge is loaded."""
    lu.state.medium()


def close_cartridge(lu: LogicalUnit) -> None:
    """The LU goes away: an orderly close of the cartridge (its index written, docs/media.md)."""
    with lu.state.lock:
        lu.state.dismount()


def release_prevention(lu: LogicalUnit, nexus_key: str | None = None) -> None:
    """Drop the PREVENT MEDIUM REMOVAL held by one I_T nexus (its loss) or by all (a reset)."""
    with lu.state.lock:
        if nexus_key is None:
            lu.state.preventers.clear()
        else:
            lu.state.preventers.discard(nexus_key)

