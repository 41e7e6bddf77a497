"""Parameter data a command receives in its data-out buffer (SPC-5 4.2.5.5 PARAMETER LIST LENGTH)."""

from __future__ import annotations

from hpt.scsi.core.command import ScsiCommand
from hpt.scsi.core.constants import PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.sense import SenseError


def parameter_list(cmd: ScsiCommand, length: int) -> memoryview:
    """The first ``length`` bytes of data-out; PARAMETER LIST LENGTH ERROR if fewer arrived."""
    buf = cmd.data_out
    if length == 0:
        return memoryview(b"")
    if buf is None or len(buf) < length:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    return buf[:length]
