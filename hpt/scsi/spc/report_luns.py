"""REPORT LUNS (SPC-5 6.33): the target's LUN inventory for a SELECT REPORT value."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, REPORTED_LUNS_DATA_CHANGED
from hpt.scsi.core.lun import encode_lun
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

# SELECT REPORT (SPC-5 6.33 table 197). hpt has no well-known, administrative or subsidiary LUs.
_ALL = frozenset({0x00, 0x02, 0x11})  # LUs without well-known ones / all / administrative + others
_NONE = frozenset({0x01, 0x10})  # well-known only / administrative only
ADMINISTRATIVE_SUBSIDIARIES = 0x12  # only valid when addressed to an administrative LU


def lun_inventory(cmd: ScsiCommand, luns: Iterable[int]) -> ScsiResult:
    """The REPORT LUNS parameter data for ``luns`` under the CDB's SELECT REPORT."""
    cdb = cmd.cdb
    select = cdb[2]
    (alloc,) = struct.unpack_from(">I", cdb, 6)
    if alloc < 16:
        raise SenseError(INVALID_FIELD_IN_CDB, field=6)
    if select in _ALL:
        listed = sorted(luns)
    elif select in _NONE:
        listed = []
    else:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    body = b"".join(encode_lun(n) for n in listed)
    return cmd.reply(struct.pack(">I4x", len(body)) + body, alloc)


def clear_luns_changed(lus: Iterable[LogicalUnit], initiator_port: str) -> None:
    """Drop REPORTED LUNS DATA HAS CHANGED for this initiator port, keeping other conditions in order."""
    for lu in lus:
        kept = []
        while (asc := lu.ua.pop(initiator_port)) is not None:
            if asc != REPORTED_LUNS_DATA_CHANGED:
                kept.append(asc)
        for asc in kept:
            lu.ua.establish(asc, only=initiator_port)


def report_luns(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """REPORT LUNS addressed to a configured LU."""
    target = lu.target
    if target is None:
        result = lun_inventory(cmd, [lu.lun])
        clear_luns_changed([lu], cmd.nexus.initiator_port)
        return result
    return target.report_luns(cmd)
