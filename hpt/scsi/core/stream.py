"""Large transfers in pieces: a READ's data leaves as the store fills it, a WRITE's data goes to the
store as it arrives, so a command never holds its whole transfer in memory.

A transport that wants a command streamed sets ``ScsiCommand.stream`` (and no data buffer) to a
:class:`DataStream`; it asks :func:`streamable` first, because only opcodes whose handler has a
streamed variant (``OpcodeEntry.streamed``, which a device type's table sets: SBC's READ and WRITE)
can take one.
The piece loops here run one piece at a time over the store's asynchronous submit calls:

* :func:`read_pieces`: read piece *k* into ``view``, ``send`` it, and read piece *k+1* only once the
  transport says the buffer is free again (its bytes are on the wire);
* :func:`write_pieces`: ``fill`` piece *k* (the transport solicits it, RFC 7143 R2T), write it, then
  ask for piece *k+1*; FUA goes with every piece, so each is durable before the next is asked for.

Before its first piece a loop counts the piece against the memory budgets (:mod:`hpt.scsi.core.budget`;
:class:`OutOfMemory` when it cannot within the wait: BUSY) and gives it back when it ends. An error from
the transport's ``then`` (:class:`StreamStopped`: its connection is gone; a ``SenseError``: the write
data broke sequence), ``stopped()`` (the task was aborted) or a store error end the loop; ``done`` gets
the error or None, exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from hpt.scsi.core.blocking import run_blocking
from hpt.scsi.core.budget import BUDGET

if TYPE_CHECKING:
    from hpt.scsi.core.command import ScsiCommand
    from hpt.scsi.core.opcodes import OpcodeEntry
    from hpt.scsi.core.taskset import Task
    from hpt.store.base import BackingStore

#: Transfers above this take the streamed path when the transport and the opcode offer it.
STREAM_MIN = 1 << 20
#: The usual piece: one store I/O and what a stream holds in memory at once.
PIECE = 1 << 20

Then = Callable[[BaseException | None], None]
Ended = Callable[[BaseException | None], None]


class StreamStopped(Exception):
    """The transport stops the command's data (its connection is gone, its task was dropped): the
    command ends unreported (``ABORTED``)."""


class OutOfMemory(Exception):
    """The command's piece could not be had within the memory budgets in time (the command is BUSY)."""


class DataStream(Protocol):
    """A transport's side of a streamed command: ``piece`` bytes move at a time through ``view``; the
    piece is counted against ``owner_limit`` for ``owner`` (the I_T nexus) and ``total_limit`` for all
    (:mod:`hpt.scsi.core.budget`) while the command runs."""

    piece: int
    owner: Hashable
    owner_limit: int
    total_limit: int

    def view(self, offset: int, n: int) -> memoryview:
        """The buffer for bytes ``offset`` to ``offset + n`` of the transfer."""
        ...

    def send(self, offset: int, n: int, then: Then) -> None:
        """Data-in: ``view(offset, n)`` is filled; ``then(None)`` once it may be reused, ``then(error)``
        when the command is to stop (its connection is gone)."""
        ...

    def fill(self, offset: int, n: int, then: Then) -> None:
        """Data-out: bring the initiator's bytes ``offset`` to ``offset + n`` into ``view(offset, n)``;
        ``then(None)`` once they are there, ``then(error)`` when they will not come."""
        ...


class _Loop:
    """One command's piece loop (shared by reads and writes)."""

    __slots__ = ("store", "base", "length", "stream", "done", "stopped", "fua", "reading", "at", "busy",
                 "again", "ended", "held")

    def __init__(self, store: BackingStore, base: int, length: int, stream: DataStream, done: Ended,
                 stopped: Callable[[], bool], reading: bool, fua: bool = False) -> None:
        self.store = store
        self.base = base  # the byte offset on the store of the transfer's first byte
        self.length = length
        self.stream = stream
        self.done = done
        self.stopped = stopped
        self.reading = reading
        self.fua = fua
        self.at = 0  # the transfer offset of the next piece
        self.busy = False  # inside step(): a callback that comes back at once only sets ``again``
        self.again = False
        self.ended = False
        self.held = False  # the piece's memory is counted (BUDGET)

    def start(self) -> None:
        s = self.stream
        BUDGET.acquire(s.owner, s.piece, s.owner_limit, s.total_limit, self._granted)

    def _granted(self, ok: bool) -> None:
        if ok:
            self.held = True
            self.step()
        else:
            self._end(OutOfMemory(f"no {self.stream.piece} bytes within the memory budgets"))

    def step(self) -> None:
        """Start the next piece; iterative, so a store or transport that answers at once does not recurse."""
        if self.busy:
            self.again = True
            return
        self.busy = True
        try:
            self.again = True
            while self.again and not self.ended:
                self.again = False
                self._next()
        finally:
            self.busy = False

    def _next(self) -> None:
        at = self.at
        if at >= self.length:
            self._end(None)
            return
        if self.stopped():
            self._end(None)
            return
        n = min(self.stream.piece, self.length - at)
        self.at = at + n
        if self.reading:
            view = self.stream.view(at, n)
            self.store.submit_read(self.base + at, view, lambda err: self._read(err, at, n))
        else:
            self.stream.fill(at, n, self._hop(lambda err: self._filled(err, at, n)))

    def _read(self, err: BaseException | None, at: int, n: int) -> None:
        if err is not None:
            self._end(err)
        elif self.stopped():
            self._end(None)
        else:
            self.stream.send(at, n, self._hop(self._proceed))

    def _filled(self, err: BaseException | None, at: int, n: int) -> None:
        if err is not None or self.stopped():
            self._end(err)
            return
        self.store.submit_write(self.base + at, self.stream.view(at, n), self._proceed, fua=self.fua)

    def _proceed(self, err: BaseException | None) -> None:
        if err is not None:
            self._end(err)
        else:
            self.step()

    @staticmethod
    def _hop(step: Then) -> Then:
        """The ``then`` given to the transport: the next step runs on the blocking pool, because the
        transport may call it holding its own lock, which that step (or the command's completion) needs."""
        return lambda err: run_blocking(partial(step, err))

    def _end(self, err: BaseException | None) -> None:
        if not self.ended:
            self.ended = True
            if self.held:
                BUDGET.give(self.stream.owner, self.stream.piece)
            self.done(err)


def read_pieces(store: BackingStore, base: int, length: int, stream: DataStream, done: Ended,
                stopped: Callable[[], bool]) -> None:
    """Read ``length`` bytes from ``base`` piece by piece, each sent before the next is read."""
    _Loop(store, base, length, stream, done, stopped, True).start()


def write_pieces(store: BackingStore, base: int, length: int, stream: DataStream, done: Ended,
                 stopped: Callable[[], bool], fua: bool) -> None:
    """Write ``length`` bytes at ``base`` piece by piece as the transport brings each one in."""
    _Loop(store, base, length, stream, done, stopped, False, fua).start()


def stream_io(entry: OpcodeEntry, task: Task) -> Callable[[Any, ScsiCommand, Ended], None]:
    """The opcode entry's streamed variant for a started ``task`` (``LogicalUnit._start``): it stops
    between pieces once the task is aborted."""
    variant = entry.streamed
    assert variant is not None
    return lambda lu, cmd, complete: variant(lu, cmd, complete, lambda: task.aborted)


def streamable(entry: OpcodeEntry | None) -> bool:
    """Whether a command of this opcode entry can take a :class:`DataStream`."""
    return entry is not None and entry.streamed is not None
