"""A DVD drive LU's state (``lu.state``): the disc in it, the tray, who prevents removal, the pending
media event and the speeds asked for (MMC-6 removable medium model).

Every MMC command runs under ``lock`` (the table makes the ones that touch the disc exclusive in the
task set); a changer loading or unloading the drive takes the same lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.media.disc import Disc, open_disc
from hpt.media.header import MediaError
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.sense import (
    MEDIUM_NOT_PRESENT_TRAY_CLOSED,
    MEDIUM_NOT_PRESENT_TRAY_OPEN,
)
from hpt.scsi.spc.removable import MEDIUM_FORMAT_CORRUPTED

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit, LuParams

# media event codes of GET EVENT STATUS NOTIFICATION (MMC-6, media event descriptor)
NO_CHANGE, EJECT_REQUEST, NEW_MEDIA, MEDIA_REMOVAL = 0, 1, 2, 3
MAX_SPEED = 16 * 1385  # kB/s: 16x DVD


@dataclass
class DvdState:
    """Everything a DVD LU keeps beyond SPC's state."""

    readonly: bool = False
    disc: Disc | None = None
    tray_open: bool = False
    preventers: set[str] = field(default_factory=set)
    event: int = NO_CHANGE  # the media event not yet reported (polled)
    read_speed: int = MAX_SPEED
    write_speed: int = MAX_SPEED
    lock: threading.RLock = field(default_factory=threading.RLock)

    def medium(self) -> Disc:
        """The disc, or NOT READY, MEDIUM NOT PRESENT - TRAY OPEN / TRAY CLOSED."""
        disc = self.disc
        if self.tray_open:
            raise SenseError(MEDIUM_NOT_PRESENT_TRAY_OPEN)
        if disc is None:
            raise SenseError(MEDIUM_NOT_PRESENT_TRAY_CLOSED)
        return disc

    @property
    def medium_path(self) -> Path | None:
        """The disc file in the drive (its tray open or closed), or None."""
        return None if self.disc is None else self.disc.path

    def mount(self, path: Path) -> None:
        """Open ``path`` as the drive's disc, tray closed; a NEW MEDIA event is pending."""
        try:
            self.disc = open_disc(path, readonly=self.readonly)
        except (MediaError, OSError) as err:
            raise SenseError(MEDIUM_FORMAT_CORRUPTED) from err
        self.tray_open = False
        self.event = NEW_MEDIA

    def dismount(self) -> Path | None:
        """Close the disc (synchronising it) and empty the drive; returns its file."""
        disc, self.disc = self.disc, None
        self.tray_open = False
        if disc is None:
            return None
        self.event = MEDIA_REMOVAL
        disc.close()
        return disc.path


def new_state(params: LuParams) -> DvdState:
    """A DVD LU's state; a ``disc`` option puts that disc in the drive at start."""
    state = DvdState(readonly=params.readonly)
    path = params.extra.get("disc")
    if path:
        try:
            state.disc = open_disc(path, readonly=params.readonly)
        except (MediaError, OSError) as err:
            raise ValueError(f"disc: {path}: {err}") from err
    return state


def state_of(lu: LogicalUnit) -> DvdState:
    return lu.state  # type: ignore[no-any-return]


def check_ready(lu: LogicalUnit) -> None:
    """TEST UNIT READY: NOT READY, MEDIUM NOT PRESENT while there is no disc or the tray is open."""
    state_of(lu).medium()


def close_disc(lu: LogicalUnit) -> None:
    """The LU goes away: the disc is synchronised and closed (it stays this LU's medium on restart)."""
    st = state_of(lu)
    with st.lock:
        disc, st.disc = st.disc, None
        if disc is not None:
            disc.close()


def release_prevention(lu: LogicalUnit, nexus_key: str | None = None) -> None:
    """Drop the PREVENT MEDIUM REMOVAL held by one I_T nexus (its loss) or by all (a reset)."""
    st = state_of(lu)
    with st.lock:
        if nexus_key is None:
            st.preventers.clear()
        else:
            st.preventers.discard(nexus_key)
