"""READ(10/12), READ CD, WRITE(10/12), WRITE AND VERIFY(10) and SYNCHRONIZE CACHE (MMC-6) on 2048-byte blocks.

Reads stop at the recorded area (LOGICAL BLOCK ADDRESS OUT OF RANGE). A DVD+R takes writes only at a
track's next writable address (INVALID ADDRESS FOR WRITE elsewhere); a DVD-ROM, a finished disc or a
read-only drive is write protected. READ CD serves a DVD's user data (2048 bytes a sector, no headers,
EDC/ECC, C2 or sub-channel, which only CD media have).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.media.disc import BLOCK, NO_SPACE, NOT_WRITABLE, OUT_OF_RANGE, DiscRuleError, RecordableDisc
from hpt.scsi.core.cdb import FUA, Cdb, lba_len10, lba_len12
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, Status
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.sense import CANNOT_READ_INCOMPATIBLE_FORMAT, rule_sense
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

USER_DATA = 0x10  # READ CD byte 9: user data only
_ANY_OR_MODE1 = (0, 2)  # READ CD EXPECTED SECTOR TYPE: any, or Mode 1 (2048 bytes of user data)


def _read(lu: LogicalUnit, cmd: ScsiCommand, lba: int, blocks: int) -> ScsiResult:
    """Fill data-in with ``blocks`` from ``lba`` (as many whole blocks as the buffer holds)."""
    disc = state_of(lu).medium()
    if lba + blocks > disc.readable:
        raise SenseError(rule_sense(OUT_OF_RANGE), info=lba)
    wanted = blocks * BLOCK
    room = (len(cmd.data_in) if cmd.data_in is not None else 0) // BLOCK * BLOCK
    if wanted and room:
        assert cmd.data_in is not None
        disc.read_into(lba, cmd.data_in[:min(wanted, room)])
    return ScsiResult(Status.GOOD, in_len=wanted) if wanted else GOOD


def _decoded(cdb: Cdb) -> tuple[int, int]:
    return lba_len10(cdb) if cdb[0] in (0x28, 0x2A, 0x2E) else lba_len12(cdb)


def read(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ(10)/(12)."""
    lba, blocks = _decoded(cmd.cdb)
    return _read(lu, cmd, lba, blocks)


def read_cd(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ CD: user data of mode-1-like sectors; anything only a CD carries is an incompatible format."""
    cdb = cmd.cdb
    sector_type = cdb[1] >> 2 & 0x07
    lba, blocks = int.from_bytes(cdb[2:6], "big"), int.from_bytes(cdb[6:9], "big")
    state_of(lu).medium()
    if sector_type not in _ANY_OR_MODE1:
        raise SenseError(CANNOT_READ_INCOMPATIBLE_FORMAT)
    if cdb[9] not in (0, USER_DATA) or cdb[10] & 0x07:
        raise SenseError(CANNOT_READ_INCOMPATIBLE_FORMAT)
    return _read(lu, cmd, lba, blocks if cdb[9] else 0)


def write(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """WRITE(10)/(12) and WRITE AND VERIFY(10) (BYTCHK 0: the data is checked as written): the blocks
    that arrived go to the disc at LBA; FUA makes them durable first."""
    cdb = cmd.cdb
    lba, blocks = _decoded(cdb)
    if cdb[0] == 0x2E and cdb[1] & 0x02:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)  # BYTCHK: no compare on a DVD+R
    st = state_of(lu)
    disc = st.medium()
    if not isinstance(disc, RecordableDisc) or not disc.writable or st.readonly:
        raise SenseError(rule_sense(NOT_WRITABLE))
    if not blocks:
        return GOOD
    if lba + blocks > disc.capacity:
        raise SenseError(rule_sense(NO_SPACE), info=lba)
    data = cmd.data_out if cmd.data_out is not None else memoryview(b"")
    wanted = blocks * BLOCK
    arrived = min(len(data), wanted) // BLOCK * BLOCK
    try:
        disc.write(lba, data[:arrived])
        if cdb[1] & FUA:
            disc.sync()
    except DiscRuleError as err:
        raise SenseError(rule_sense(err.kind), info=lba) from err
    return GOOD if cmd.expected_out == wanted else ScsiResult(Status.GOOD, out_len=wanted)


def synchronize_cache(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SYNCHRONIZE CACHE: written blocks and the disc's track table are made durable."""
    state_of(lu).medium().sync()
    return GOOD
