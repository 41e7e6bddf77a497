"""Sense conditions of the sequential-access device (SSC-4, SPC-5 Annex F.2).

Tape commands end with the FILEMARK, EOM and ILI bits and a residue in INFORMATION (``stream`` and
``info`` of :class:`~hpt.scsi.core.sense.SenseError`).
"""

from __future__ import annotations

from hpt.scsi.core.constants import Asc, SenseKey

FILEMARK_BIT, EOM_BIT, ILI_BIT = 0x80, 0x40, 0x20

NO_SENSE = Asc(SenseKey.NO_SENSE, 0x00, 0x00)  # with ILI: an incorrect-length block
FILEMARK_DETECTED = Asc(SenseKey.NO_SENSE, 0x00, 0x01)
EARLY_WARNING = Asc(SenseKey.NO_SENSE, 0x00, 0x02)  # END-OF-PARTITION/MEDIUM DETECTED, with EOM
BEGINNING_OF_MEDIUM = Asc(SenseKey.NO_SENSE, 0x00, 0x04)  # BEGINNING-OF-PARTITION/MEDIUM DETECTED
END_OF_DATA = Asc(SenseKey.BLANK_CHECK, 0x00, 0x05)  # END-OF-DATA DETECTED
END_OF_MEDIUM = Asc(SenseKey.VOLUME_OVERFLOW, 0x00, 0x02)  # the write did not fit
WORM_OVERWRITE = Asc(SenseKey.DATA_PROTECT, 0x30, 0x0C)  # WORM MEDIUM - OVERWRITE ATTEMPTED
CLEANING_CARTRIDGE = Asc(SenseKey.MEDIUM_ERROR, 0x30, 0x03)  # CLEANING CARTRIDGE INSTALLED
MEDIUM_FORMAT_CORRUPTED = Asc(SenseKey.MEDIUM_ERROR, 0x31, 0x00)
UNRECOVERED_READ_ERROR = Asc(SenseKey.MEDIUM_ERROR, 0x11, 0x00)
POSITIONING_ERROR = Asc(SenseKey.MEDIUM_ERROR, 0x3B, 0x00)  # SEQUENTIAL POSITIONING ERROR
MEDIUM_LOAD_OR_EJECT_FAILED = Asc(SenseKey.NOT_READY, 0x53, 0x00)
