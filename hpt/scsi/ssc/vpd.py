"""The tape drive's VPD page beyond SPC's: B0h Sequential-Access Device Capabilities (SSC-4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.spc.vpd import VpdPage

if TYPE_CHECKING:
    from hpt.scsi.core.command import Nexus
    from hpt.scsi.lu import LogicalUnit

WORM = 0x01  # the drive supports WORM cartridges


def _capabilities(lu: LogicalUnit, nexus: Nexus) -> bytes:
    return bytes((WORM, 0))


TAPE_VPD_PAGES = (VpdPage(0xB0, _capabilities),)
