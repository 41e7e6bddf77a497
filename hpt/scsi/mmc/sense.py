"""Sense conditions of the multimedia device (MMC-6 Annex F, SPC-5 Annex F.2)."""

from __future__ import annotations

from hpt.media import disc
from hpt.scsi.core.constants import LBA_OUT_OF_RANGE, WRITE_PROTECTED, Asc, SenseKey

_I, _N = SenseKey.ILLEGAL_REQUEST, SenseKey.NOT_READY
MEDIUM_NOT_PRESENT_TRAY_CLOSED = Asc(_N, 0x3A, 0x01)
MEDIUM_NOT_PRESENT_TRAY_OPEN = Asc(_N, 0x3A, 0x02)
MEDIA_LOAD_OR_EJECT_FAILED = Asc(_N, 0x53, 0x00)
INVALID_ADDRESS_FOR_WRITE = Asc(_I, 0x21, 0x02)
COMMAND_SEQUENCE_ERROR = Asc(_I, 0x2C, 0x00)
INCOMPATIBLE_MEDIUM = Asc(_I, 0x30, 0x00)  # INCOMPATIBLE MEDIUM INSTALLED
CANNOT_READ_INCOMPATIBLE_FORMAT = Asc(_I, 0x30, 0x02)
CANNOT_WRITE_INCOMPATIBLE_FORMAT = Asc(_I, 0x30, 0x05)
CANNOT_FORMAT_INCOMPATIBLE_MEDIUM = Asc(_I, 0x30, 0x06)
NO_MORE_TRACK_RESERVATIONS = Asc(_I, 0x72, 0x05)


def rule_sense(kind: str) -> Asc:
    """The sense for a disc's recording rule (``hpt.media.disc.DiscRuleError.kind``)."""
    return _RULES.get(kind, INVALID_ADDRESS_FOR_WRITE)


_RULES = {
    disc.NOT_WRITABLE: WRITE_PROTECTED,
    disc.BAD_ADDRESS: INVALID_ADDRESS_FOR_WRITE,
    disc.NO_SPACE: LBA_OUT_OF_RANGE,
    disc.SEQUENCE: COMMAND_SEQUENCE_ERROR,
    disc.TOO_MANY: NO_MORE_TRACK_RESERVATIONS,
    disc.OUT_OF_RANGE: LBA_OUT_OF_RANGE,
}
