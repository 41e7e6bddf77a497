"""The fast lane in C for one connection: a burst of READ and WRITE commands answered in one call.

``hpt/native/quick.c`` takes whole SCSI Command PDUs (RFC 7143 11.3) from the start of the TCP driver's
receive stage while each is a SIMPLE READ(10)/READ(16) with no data segment, or a SIMPLE
WRITE(10)/WRITE(16) without FUA whose data all came as immediate data, in CmdSN order with no AHS,
that passes SBC-4's checks on a LU whose store it may read and write itself (a file in memory, or
memory: ``BackingStore.direct_source``). A READ is read into a ring slot and answered by one Data-In
with the status (11.7); a WRITE is written from the stage and answered by a SCSI Response (11.4). On
a file opened O_DIRECT the burst's READs and WRITEs (copied to aligned ring slots) are submitted
together through Linux AIO and waited for (the device works on all of them at once), and one the store
fails is answered CHECK CONDITION, MEDIUM ERROR. It stops at the first PDU it does not take; the
connection runs that one on its full path, which gives any sense. This module builds the C view of
the session's disk LUs, asks each LU under its lock what the lane may do for this burst
(``LogicalUnit.enter_quick``: nothing while a unit attention, reservation, fault or held task set is
there; WRITEs only while the profile says so), and carries back what the call did: CmdSN and StatSN,
counters, statistics, the output and the slots to free. The iSER driver runs the same C over each
message it receives (``hpt/native/verbs.c``: ``enter``, the calls through :meth:`QuickLane.pointers`,
``leave``).

Measured on the 2-core machine, one session of 4K random READs at QD32 from /dev/shm (fio, libiscsi):
hptd's CPU per I/O was 85 us on the full path, 42 us with the lane in Python
(``Connection._quick_read``) and about 10 us with this one; the C call releases the GIL, so the
sessions of other connections run beside it.

This is the batch path, in C rather than numba, by measurement (``perf/bench_micro.py``, 32 pipelined
4 KiB READs sent on a socket): this lane 2.74 us per READ; numba-jitted decode and encode of the burst
(``perf/batch_kernels.py``) with the copies and the send list in Python 4.30 us, though it makes none of
the session and LU checks; ``struct`` 6.61 us. numba decodes a CDB in 0.10 us against ``struct``'s
2.1 us, but what it leaves in Python under the GIL costs more than this whole call (perf/README.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from time import monotonic_ns
from typing import TYPE_CHECKING

from hpt.native.ring import ffi, lib

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hpt.native.ring import Ring
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.target import ScsiTarget

BHS = 48
READ_10 = 0x28
MAX_BURST = 128  # commands answered per call
MAX_LUS = 64  # LUs a connection's lane covers (the lowest LUNs that qualify)
NO_SLOT = 0xFFFFFFFF  # an answer with no ring slot (a WRITE to a file in memory or to memory)


@dataclass
class Burst:
    """What one call did: the commands answered (``count``), ExpCmdSN and StatSN after them, the
    bytes of input taken, their answer headers back to back and, per answer, the ring slot holding
    a READ's data and its length (``lens`` 0: a WRITE's SCSI Response, no data and no slot)."""

    count: int
    exp_cmdsn: int
    statsn: int
    taken: int
    more: bool = False  # it stopped at a PDU it takes once the rest of it is received
    headers: bytes = b""
    slots: tuple[int, ...] = ()
    lens: tuple[int, ...] = ()  # (and a WRITE to a file opened O_DIRECT has a slot too: NO_SLOT if not)
    read_bytes: int = 0
    written: int = 0
    sent: bool = False  # the answers went out on the lent socket, their slots freed
    skip: int = 0  # not ``sent``: the lent socket took this many bytes of them before it was full


class QuickLane:
    """One connection's C lane: its LU table, the call's in and out buffers."""

    def __init__(self, ring: Ring) -> None:
        self.ring = ring
        self._conn = ffi.new("struct quick_conn *")
        self._hdrs = bytearray(BHS * MAX_BURST)
        self._hdrs_c = ffi.from_buffer(self._hdrs)
        self._slots = ffi.new("uint32_t[]", MAX_BURST)
        self._lens = ffi.new("uint32_t[]", MAX_BURST)
        self._map: Mapping[int, LogicalUnit] | None = None
        self._lus: list[LogicalUnit] = []
        self._table = ffi.new("struct quick_lu[]", 1)  # one entry per LU of _lus
        self._pointers = self._addresses()
        self._aio = False  # the connection's Linux AIO context is open (_conn.aio_ctx)
        self._entered: list[int] = []  # the LUs of _lus entered for the current calls
        self._held: list[object] = []
        self._started = 0

    def _build(self, lus: Mapping[int, LogicalUnit]) -> None:
        """The C table of the disk LUs the lane may serve (rebuilt when the LU map changes)."""
        chosen = []
        for lun in sorted(lus)[:MAX_LUS]:
            lu = lus[lun]
            read10 = lu.table.get(READ_10)
            if lun < 256 and read10 is not None and read10.quick is not None:
                chosen.append(lu)
        table = ffi.new("struct quick_lu[]", max(1, len(chosen)))
        for entry, lu in zip(table, chosen, strict=False):
            entry.block_size = lu.params.block_size
            entry.max_blocks = lu.params.max_xfer_blocks or 0
            entry.lun = lu.lun
        self._map, self._lus, self._table = lus, chosen, table
        self._pointers = self._addresses()

    def enter(self, target: ScsiTarget, port: str, exp_cmdsn: int, statsn: int, queue_depth: int,
              max_len: int, max_data: int, rtpi: int | None = None, zero_reads: bool = False) -> bool:
        """Ready the C view for calls of ``quick_burst``: what each LU lets the lane do now (under its
        lock), CmdSN, StatSN and limits. False: no LU takes anything now (nothing was entered); else
        :meth:`leave` must follow the calls. ``zero_reads``: the caller sends zeroes of its own for the
        READs of a LU that holds nothing (they take no slot: ``NO_SLOT``)."""
        lus = target.lu_map()
        if lus is not self._map:
            self._build(lus)
        table = self._table
        entered = self._entered = []
        held = self._held = []  # the memory stores' buffers, exported for the calls only
        for i, lu in enumerate(self._lus):
            e = table[i]
            store = lu.store
            source = store.direct_source() if store is not None else None
            e.ok = ok = lu.enter_quick(port, rtpi) if source is not None else 0
            if not ok:
                continue
            entered.append(i)
            if source.memory is not None:  # type: ignore[union-attr]
                mem = ffi.from_buffer(source.memory)  # type: ignore[union-attr]
                held.append(mem)
                e.fd, e.mem, e.page_map = -1, mem, ffi.NULL
                if source.page_map is not None:  # type: ignore[union-attr]
                    pages = ffi.from_buffer(source.page_map)  # type: ignore[union-attr]
                    held.append(pages)
                    e.page_map, e.page_size = pages, source.page_size  # type: ignore[union-attr]
            else:
                e.fd, e.mem, e.page_map = source.fd, ffi.NULL, ffi.NULL  # type: ignore[union-attr]
            e.aio, e.align, e.d_sense = source.wait, source.align, lu.d_sense  # type: ignore[union-attr]
            e.zero = source.zero  # type: ignore[union-attr]
            if source.wait and not self._aio:  # type: ignore[union-attr]
                self._aio = lib.quick_aio_open(self._conn) == 0
            e.nblocks = lu.nblocks
            e.reads = e.read_bytes = e.writes = e.written = e.errors = e.write_errors = 0
        if not entered:
            return False
        c = self._conn
        c.exp_cmdsn, c.statsn, c.queue_depth, c.max_len, c.max_data = (exp_cmdsn, statsn, queue_depth,
                                                                       max_len, max_data)
        c.sock, c.nowait, c.zero_reads = -1, 0, zero_reads
        self._started = monotonic_ns()
        return True

    def leave(self) -> tuple[int, int]:
        """After the calls: each entered LU counts what the lane did; returns (bytes read, written)."""
        read_bytes = written = 0
        for mem in self._held:
            ffi.release(mem)
        self._held = []
        table = self._table
        for i in self._entered:
            e = table[i]
            self._lus[i].leave_quick(self._started, e.reads, e.read_bytes, e.writes, e.written, e.errors,
                                     e.write_errors)
            read_bytes += e.read_bytes
            written += e.written
        self._entered = []
        return read_bytes, written

    def numbers(self) -> tuple[int, int]:
        """ExpCmdSN and StatSN after the calls."""
        return int(self._conn.exp_cmdsn), int(self._conn.statsn)

    def pointers(self) -> tuple[int, int, int]:
        """Addresses of the C view for a caller of ``quick_burst`` in another module (the iSER lane):
        the ``quick_conn``, the ``quick_lu`` table and its length; valid until the next :meth:`enter`."""
        return self._pointers

    def _addresses(self) -> tuple[int, int, int]:
        return (int(ffi.cast("uintptr_t", self._conn)), int(ffi.cast("uintptr_t", self._table)),
                len(self._lus))

    def run(self, target: ScsiTarget, port: str, data: memoryview, exp_cmdsn: int, statsn: int,
            queue_depth: int, max_len: int, max_data: int, sock: int = -1, rtpi: int | None = None,
            nowait: bool = False) -> Burst:
        """Answer the READs and WRITEs at the start of ``data`` (see the module's docstring); with a
        socket lent by the driver (``sock``), the answers leave on it in the same call, in one
        ``sendmsg``, and their slots are freed (OSError when that send fails); ``nowait``: without
        waiting for the socket to take them (what it did not take comes back, ``Burst.skip``).
        ``rtpi``: the target port the commands came through (its ALUA state must be active; None:
        every port's must)."""
        if not self.enter(target, port, exp_cmdsn, statsn, queue_depth, max_len, max_data, rtpi):
            return Burst(0, exp_cmdsn, statsn, 0)  # (the headers are not even looked at)
        c = self._conn
        c.sock, c.nowait = sock, nowait
        try:
            n = lib.quick_burst(self.ring.base, ffi.from_buffer(data), len(data), c, self._table,
                                len(self._lus), self._hdrs_c, self._slots, self._lens, MAX_BURST)
        finally:
            read_bytes, written = self.leave()
        if c.send_error:
            raise OSError(c.send_error, os.strerror(c.send_error))
        if sock >= 0 and not c.partial:
            return Burst(n, c.exp_cmdsn, c.statsn, c.taken, bool(c.more), read_bytes=read_bytes,
                         written=written, sent=True)
        return Burst(n, c.exp_cmdsn, c.statsn, c.taken, bool(c.more), bytes(self._hdrs[:n * BHS]),
                     tuple(self._slots[0:n]), tuple(self._lens[0:n]), read_bytes, written,
                     skip=c.sent if sock >= 0 else 0)

    def close(self) -> None:
        """The connection is gone: close its AIO context (nothing is in flight between calls)."""
        if self._aio:
            lib.quick_aio_close(self._conn)
            self._aio = False
