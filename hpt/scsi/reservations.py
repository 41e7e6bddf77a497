"""Reservations: SPC-2 RESERVE/RELEASE and SPC-5 persistent reservations (SPC-5 5.13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.command import Nexus
from hpt.scsi.opcodes import OpcodeEntry

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


class Reservations:
    """Reservation state of one LU."""

    def __init__(self, lu: LogicalUnit) -> None:
        self.lu = lu
        self.spc2_holder: str | None = None  # initiator port holding an SPC-2 RESERVE

    def conflict(self, nexus: Nexus, entry: OpcodeEntry, cdb: bytes | memoryview) -> bool:
        """True when ``nexus`` may not run this command now (SPC-5 5.13.1 table 64)."""
        return self.spc2_holder is not None and self.spc2_holder != nexus.initiator_port
