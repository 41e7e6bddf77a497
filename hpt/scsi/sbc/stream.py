"""READ and WRITE (6/10/12/16) streamed: the same checks and results as ``rw.submit_read`` and
``rw.submit_write``, with the data moving through the transport's :class:`DataStream` one piece at a
time (``hpt.scsi.core.stream``) instead of through one buffer of the whole transfer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import CdbForm
from hpt.scsi.core.command import ABORTED, BUSY, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import Status
from hpt.scsi.core.stream import OutOfMemory, StreamStopped, read_pieces, write_pieces
from hpt.scsi.sbc.common import check_writable, checked_blocks, out_result
from hpt.scsi.sbc.rw import _durable

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

Complete = Callable[[ScsiResult | BaseException], None]


def streamed_read(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, complete: Complete,
                  stopped: Callable[[], bool]) -> None:
    """SBC-4 READ: the blocks (as many as the initiator takes) leave piece by piece."""
    lba, n = checked_blocks(form, lu, cmd.cdb)
    bs = lu.params.block_size
    result = ScsiResult(Status.GOOD, b"", n * bs)
    length = min(n * bs, cmd.expected_in)
    if not length or cmd.stream is None or lu.store is None:
        complete(result)
        return
    read_pieces(lu.store, lba * bs, length, cmd.stream, lambda err: complete(_outcome(result, err)), stopped)


def streamed_write(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, complete: Complete,
                   stopped: Callable[[], bool]) -> None:
    """SBC-4 WRITE: each piece goes to the store as it arrives (with FUA, or a disabled write cache,
    each is durable before the next is asked for); the status follows the last."""
    lba, n = checked_blocks(form, lu, cmd.cdb)
    check_writable(lu)
    bs = lu.params.block_size
    result = out_result(cmd, n * bs)
    length = min(n * bs, cmd.expected_out)
    if not length or cmd.stream is None or lu.store is None:
        complete(result)
        return
    write_pieces(lu.store, lba * bs, length, cmd.stream, lambda err: complete(_outcome(result, err)), stopped,
                 _durable(form, lu, cmd.cdb))


def _outcome(result: ScsiResult, err: BaseException | None) -> ScsiResult | BaseException:
    """The command's result: ``result``, BUSY when its memory could not be had, nothing when the
    transport stopped it, or the error."""
    if err is None:
        return result
    if isinstance(err, StreamStopped):
        return ABORTED
    return BUSY if isinstance(err, OutOfMemory) else err

