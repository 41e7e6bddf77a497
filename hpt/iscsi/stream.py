"""Large READs and WRITEs on a byte-stream connection, in pieces (issue 13; the SCSI side is
``hpt.scsi.core.stream``).

A command whose transfer is above ``STREAM_MIN`` and whose opcode can stream (a disk's READ or WRITE)
gets an :class:`IscsiStream` instead of a buffer of its whole transfer:

* READ: each piece the store fills leaves as Data-In PDUs (RFC 7143 11.7; DataSN and Buffer Offset run
  on across pieces, F ends each piece's last sequence) and the next piece is read only once those
  bytes are on the wire; the status follows in a SCSI Response (11.4). An initiator that does not
  drain its socket holds one piece.
* WRITE: the command runs as soon as it arrives; R2Ts (11.8) solicit one piece at a time, each piece
  goes to the store once its Data-Out is in, and the status follows the last (FUA per piece).

The piece's buffer is a window of a private anonymous mapping as long as the transfer (so Data-Out and
Data-In keep their absolute buffer offsets): only pages of the piece in hand are resident, and each
piece's pages go back to the kernel (MADV_DONTNEED) once it is sent or written. While it runs, each
stream counts one piece against ``[limits] session_memory`` (its session) and ``total_memory`` (every
buffer outside the ring); a command that does not fit waits for memory, then ends in BUSY
(``hpt.scsi.core.budget``).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.iscsi import pdu as P
from hpt.scsi.core.sense import SenseError
from hpt.scsi.core.stream import PIECE, StreamStopped, Then

if TYPE_CHECKING:
    from hpt.iscsi.connection import Connection
    from hpt.iscsi.task import Task

_PAGE = mmap.PAGESIZE


class StreamGone(StreamStopped):
    """The command's connection went (or the task was dropped) before its data could move."""


class _Sent:
    """A piece's place in the connection's release list: its bytes are on the wire once it is freed."""

    __slots__ = ("stream", "end", "then")

    def __init__(self, stream: IscsiStream, end: int, then: Then) -> None:
        self.stream = stream
        self.end = end
        self.then = then


def open_stream(conn: Connection, task: Task) -> bool:
    """Give a large command a stream (True); False when it must take a whole buffer (not a READ or
    WRITE, iSER, bidirectional)."""
    s = conn.session
    if conn.messages or task.bidi or task.error is not None or s is None or s.scsi_target is None:
        return False
    if not s.scsi_target.streamable(task.lun, task.cdb):
        return False
    piece = -(-max(PIECE, s.params.first_burst_length) // PIECE) * PIECE
    try:
        stream = IscsiStream(conn, task, piece)
    except OSError:  # no address space for its mapping (ENOMEM, vm.max_map_count): BUSY
        task.busy = True
        return True
    task.stream = stream
    if task.write:
        task.buf = stream.buf  # Data-Out lands at its buffer offset, as for any write
    conn.streams.add(stream)
    return True


class IscsiStream:
    """The :class:`hpt.scsi.core.stream.DataStream` of one iSCSI task (see the module docstring)."""

    def __init__(self, conn: Connection, task: Task, piece: int) -> None:
        self.conn = conn
        self.task = task
        self.piece = piece
        self.session = self.owner = conn.session
        limits = conn.context.limits
        self.owner_limit = limits.session_memory
        self.total_limit = limits.total_memory
        self._map = mmap.mmap(-1, task.edtl, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.buf = memoryview(self._map)
        self.datasn = 0
        self.window = 0  # WRITE: bytes up to here are solicited (the piece the store waits for)
        self.waiting: Then | None = None  # WRITE: the SCSI side's ``then`` for the piece in hand
        self.dropped = 0  # bytes below this went back to the kernel
        self.storing = False  # WRITE: the store is writing the piece in hand from the mapping
        self.gone = False
        self._lock = threading.Lock()

    # -- DataStream ---------------------------------------------------------------------------
    def view(self, offset: int, n: int) -> memoryview:
        return self.buf[offset:offset + n]

    def send(self, offset: int, n: int, then: Then) -> None:
        self._post(then, lambda: self._data_in(offset, n, then))

    def fill(self, offset: int, n: int, then: Then) -> None:
        self._post(then, lambda: self._solicit(offset, n, then))

    # -- the connection's thread ----------------------------------------------------------------
    def _post(self, then: Then, work: Callable[[], None]) -> None:
        """Run ``work`` on the connection's thread: queued with its completions, the driver told."""
        with self._lock:
            gone = self.gone
            if not gone:
                self.conn.defer(work)
        if gone:
            self._run(then, StreamGone("connection gone"))

    def _data_in(self, offset: int, n: int, then: Then) -> None:
        """Data-In PDUs for bytes ``offset`` to ``offset + n``, with no status (RFC 7143 11.7)."""
        conn, task, s = self.conn, self.task, self.session
        if self.gone or task.aborted or s is None:
            self._run(then, StreamGone("connection gone"))
            return
        seg, burst = conn.max_xmit_dsl, s.params.max_burst_length
        lun, itt, buf = task.lun_raw, task.itt, self.buf
        end = offset + n
        off = offset
        while off < end:
            k = min(seg, end - off, burst - off % burst)
            off2 = off + k
            flags = 0x80 if off2 == end or off2 % burst == 0 else 0
            conn._emit(P.data_in(itt, flags, 0, lun, 0, s.exp_cmdsn, s.max_cmdsn, self.datasn, off, 0, k),
                       buf[off:off2])
            self.datasn += 1
            off = off2
        conn._release.append(_Sent(self, end, then))  # type: ignore[arg-type]

    def _solicit(self, offset: int, n: int, then: Then) -> None:
        """The SCSI side waits for bytes up to ``offset + n``: R2T them once what came before is in."""
        if self.gone or self.task.aborted:
            self._run(then, StreamGone("task gone"))
            return
        self.storing = False
        self._drop(offset)  # every byte below it is on the store
        self.window = offset + n
        self.waiting = then
        self.progress()

    def progress(self) -> None:
        """A burst of write data ended (``Connection._write_progress``): solicit the rest of the piece,
        or hand the piece to the SCSI side (or the data phase error that broke it)."""
        task, conn = self.task, self.conn
        if self.waiting is None or not task.unsol_done or task.r2ts:
            return
        if task.error is not None:
            self._forget()
            self._wake(SenseError(task.error))
        elif task.received >= self.window:
            if self.window >= task.edtl:
                self._forget()
            self.storing = True
            self._wake(None)
        elif task.r2t_next < self.window:
            conn._send_r2ts(task, self.window)

    def _forget(self) -> None:
        conn, task = self.conn, self.task
        if conn.tasks.get(task.itt) is task:
            del conn.tasks[task.itt]

    def _wake(self, err: BaseException | None) -> None:
        then, self.waiting = self.waiting, None
        if then is not None:
            self._run(then, err)

    @staticmethod
    def _run(then: Then, err: BaseException | None) -> None:
        """Tell the SCSI side (it goes on on a thread of its own: ``hpt.scsi.core.stream``)."""
        then(err)

    def _drop(self, upto: int) -> None:
        """Give the pages below ``upto`` back to the kernel (they were sent or written)."""
        start = self.dropped - self.dropped % _PAGE
        if upto > start and not self.gone:
            self._map.madvise(mmap.MADV_DONTNEED, start, upto - start)
            self.dropped = upto

    # -- the connection's release hooks ------------------------------------------------------------
    def free(self, held: object) -> None:
        """``Connection._free`` of the task (release all) or of a sent piece (go on with the next)."""
        if isinstance(held, _Sent):
            self._drop(held.end)
            self._run(held.then, StreamGone("connection gone") if self.gone else None)
            return
        self.close()

    def close(self) -> None:
        """The task ended (or was dropped): the mapping and its budget go back; a SCSI side still
        waiting for write data is told the data will not come."""
        with self._lock:
            if self.gone:
                return
            self.gone = True
        self.conn.streams.discard(self)
        if not self.conn.lost:
            self._forget()  # a WRITE that ended before all its data was solicited (an error, a shorter CDB)
        self._wake(StreamGone("task gone"))
        self.task.buf = None
        if not self.storing:  # else the pages go with the mapping, once the store is done with them
            self._map.madvise(mmap.MADV_DONTNEED, 0, len(self._map))
        self.buf.release()
        try:
            self._map.close()
        except BufferError:  # views still queued on a connection that is gone: unmapped when they go
            pass

    def cancel(self) -> None:
        """The connection is gone (``Connection.connection_lost``): stop, whatever the SCSI side waits for."""
        self.close()

