"""The sans-I/O target side of one iSCSI connection (RFC 7143).

No sockets, threads or clocks in here. A driver (TCP, iSER) moves bytes:

* ``expect()`` returns the writable view the next bytes belong in (the header buffer, or a slice of
  the ring slot a Data-Out / immediate-data segment lands in), the driver fills it (``recv_into``)
  and reports the count with ``received(n)``; ``receive_bytes(data)`` does the same from a
  ``bytes`` object and ``receive_pdu(header, data)`` takes a whole PDU (iSER SEND messages).
* Commands whose data is complete wait in ``ready``; ``execute_ready()`` submits them to the SCSI
  engine, whose completions may come from any thread: they queue, the driver's ``notify`` callback is
  called, and the driver runs ``drain_completions()`` on its own thread to turn them into PDUs.
* ``data_to_send()`` returns the buffers to write (headers, slot views, padding, digests) for one
  ``sendmsg``; the driver calls ``output_sent()`` once they are on the wire, which frees the slots.
* ``closing`` tells the driver to flush and close (logout, protocol error, reinstatement).

A message transport (``transport="iser"``) gets each PDU to send as a :class:`SendPdu` from
``requests()`` instead. Once RDMAExtensions=Yes is negotiated (RFC 7145 7.2: iSER-assisted mode) data
never travels in Data-In, R2T or solicited Data-Out PDUs: ``requests()`` also yields
:class:`RdmaWrite` ("write this task's buffer[:n] to the initiator's Read STag/VA, then send this SCSI
Response"; the driver calls ``release(task)`` when both are done) and :class:`RdmaRead` ("read n bytes at
offset from the Write STag/VA into the task's buffer"; the driver calls ``rdma_read_done(task)``). The
STags come with each SCSI Command: ``receive_pdu(header, data, remote=iser_header)``. Those tasks'
buffers are ring slots, the driver's registered pool; when none is free the task waits and the driver
calls ``retry_starved()`` after freeing slots (patient allocation).
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Callable
from functools import partial
from threading import get_ident
from typing import TYPE_CHECKING, cast

from hpt.iscsi import pdu as P
from hpt.iscsi.control import ControlRequests
from hpt.iscsi.digest import digest_bytes, digest_ok
from hpt.iscsi.limits import host_of
from hpt.iscsi.login import LoginHandler
from hpt.iscsi.pdu import BHS_LEN, RSVD_TAG, Opcode, Pdu, RejectReason
from hpt.iscsi.quick import NO_SLOT, Burst, QuickLane
from hpt.iscsi.ratelog import RateLimitedLog
from hpt.iscsi.rdma import LargeBuffers, RdmaRead, RdmaWrite, RemoteBuffers, Request, SendPdu
from hpt.iscsi.session import Session
from hpt.iscsi.stream import IscsiStream, open_stream
from hpt.iscsi.task import BidiTask, Task
from hpt.scsi.core.command import ABORTED, BUSY, DISCONNECT, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    DATA_PHASE_ERROR,
    INSUFFICIENT_RESOURCES,
    INVALID_FIELD_IN_CDB,
    Asc,
    Status,
)
from hpt.scsi.core.lun import decode_lun
from hpt.scsi.core.sense import build_sense
from hpt.scsi.core.stream import STREAM_MIN
from hpt.scsi.core.transfer import MAX_BUFFER, DataBuffers, bidi_command, command, residual

if TYPE_CHECKING:
    from hpt.iscsi.context import IscsiContext
    from hpt.native.ring import Ring

#: the fast lane's view of a SCSI Command header from byte 4: TotalAHSLength and DataSegmentLength,
#: LUN, ITT, Expected Data Transfer Length, CmdSN (RFC 7143 11.3)
_QUICK = struct.Struct(">IQIII")
#: LUN bits other than a peripheral-addressed LUN below 256 (SAM-5 4.7.7): those take the full path
_NOT_PERIPHERAL = 0xFF00_FFFF_FFFF_FFFF
_LANE_OPCODES = (0x28, 0x88, 0x2A, 0x8A)  # READ and WRITE (10), (16): what the C lane takes (quick.c)
log = logging.getLogger("hpt.iscsi")
_warnings = RateLimitedLog(log)  # what a peer can cause: one line per address and 10 s, the rest counted

_PAD = (b"", b"\0", b"\0\0", b"\0\0\0")
_HDR_MAX = BHS_LEN + 1020 + 4


class ProtocolError(Exception):
    """A violation that ends the connection at ERL 0 (RFC 7143 7.1.4.3 / 7.12)."""

    def __init__(self, message: str, reason: int = RejectReason.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.reason = reason


class Connection(ControlRequests):
    """One target-side iSCSI connection, from the first Login Request to close."""

    def __init__(
        self,
        context: IscsiContext,
        ring: Ring,
        *,
        peer: str = "",
        local: str = "",
        transport: str = "tcp",
        shutdown: Callable[[str], None] | None = None,
        large: LargeBuffers | None = None,
    ) -> None:
        self.context = context
        self.ring = ring
        self.large = large  # iSER: registered buffers for commands larger than a ring slot
        self.buffers = DataBuffers(ring, context.limits.total_memory)
        self.streams: set[IscsiStream] = set()  # large READs and WRITEs in pieces (hpt.iscsi.stream)
        self._heap = DataBuffers(None)  # read buffers of bidirectional commands (never a ring slot)
        self.peer = peer
        self.local = local
        self.transport = transport
        self.shutdown_cb = shutdown
        self.session: Session | None = None
        self.cid = 0
        self.statsn = 0
        self.full_feature = False
        self.closing = False
        self.hold_until = 0.0  # monotonic time before which the driver sends nothing (a failed CHAP login)
        self.close_reason = ""
        self.ready: list[Task] = []
        self.tasks: dict[int, Task] = {}  # ITT -> task waiting for data or execution
        # CmdSN -> command waiting for the gap before it to fill
        self._pending: dict[int, Task | tuple[Pdu, Callable[[Pdu], None]]] = {}
        self._out: list[bytes | bytearray | memoryview] = []
        self._waits_for: object = None  # the LU map ``_waits`` was found for
        self._waits = False
        # what to give back once the output holding it is sent: a task, or a ring slot (the fast lane)
        self._release: list[Task | int] = []
        self._sent_release: list[Task | int] = []
        self._lane: QuickLane | None = None  # the fast lane in C, made at the first burst it may take
        self.lane_more = False  # take_burst stopped at a command it takes once all of it is received
        # negotiated per connection (login fills these in)
        self.hd = 0  # header digest length (0 or 4)
        self.dd = 0
        self.max_recv_dsl = 8192  # what we accept per PDU (RFC 7143 13.12: 8192 during login)
        self.max_xmit_dsl = 8192  # what the initiator accepts
        self.login = LoginHandler(self)
        self._text_in: bytearray | None = None
        self._text_out: list[bytes] = []
        self._text_ttt = 0
        self._ttt = 0
        self._ping_ttt: int | None = None
        # receive state
        self._hdr = bytearray(_HDR_MAX)
        self._hdrview = memoryview(self._hdr)
        self._trail = bytearray(8)
        self._rbuf: memoryview = self._hdrview[:BHS_LEN]
        self._got = 0
        self._stage = 0  # 0 header, 1 header rest, 2 data, 3 padding+digest
        self._pdu: Pdu | None = None
        self._sink: memoryview | None = None
        self._sink_task: Task | None = None
        # message transports (iSER): per-PDU output, and the iSER-assisted data path
        self.messages = transport == "iser"
        self.rdma = False  # RDMAExtensions=Yes negotiated: data moves by RDMA (RFC 7145 7.2)
        self._reqs: list[Request] = []
        self._remote: RemoteBuffers | None = None  # the iSER header of the PDU being received
        self._buffers: dict[Task, RemoteBuffers] = {}
        self._starved: deque[Task] = deque()  # waiting for a registered ring slot
        # completions from the SCSI engine (any thread), turned into PDUs by drain_completions()
        self._done: deque[Callable[[], None]] = deque()
        self.notify: Callable[[], None] | None = None  # set by the driver: a completion is queued
        self.lost = False  # connection_lost() ran: completions only give their buffers back
        self._submitter = 0  # the thread inside execute_ready(), while it submits
        # counters (hptd's metrics): PDUs and bytes received, PDUs and bytes queued to send
        self.rx_pdus = self.rx_bytes = self.tx_pdus = self.tx_bytes = 0

    # ------------------------------------------------------------------------------- input
    def expect(self) -> memoryview:
        """The buffer the next incoming bytes go into (fill from its start; any amount up to its length)."""
        return self._rbuf[self._got :]

    def received(self, n: int) -> None:
        """``n`` bytes were written at the start of the view ``expect()`` returned."""
        self._got += n
        self.rx_bytes += n
        if self._got < len(self._rbuf):
            return
        try:
            self._stage_done()
        except ProtocolError as err:
            self._protocol_error(err, self._pdu)

    def receive_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes (tests, tools): copies them into the buffers ``expect()`` names."""
        view = memoryview(data)
        while len(view) and not self.closing:
            buf = self.expect()
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            view = view[n:]
            self.received(n)

    def receive_pdu(self, header: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview = b"",
                    *, remote: RemoteBuffers | None = None) -> None:
        """Feed one whole PDU (a message transport such as iSER: RFC 7145 7.3, no digests, no padding).

        ``remote`` is the iSER header that came with it: a SCSI Command's STags and base offsets.
        """
        if len(header) < BHS_LEN or int.from_bytes(header[5:8], "big") != len(data):
            self._protocol_error(ProtocolError(f"message of {len(header)}+{len(data)} bytes does not hold "
                                               "exactly one PDU"), None)
            return
        self._remote = remote
        try:
            self.receive_bytes(header)
            if len(data):
                self.receive_bytes(data)
                pad = P.pad_len(len(data))
                if pad:
                    self.receive_bytes(_PAD[pad])
        finally:
            self._remote = None

    def _restart(self) -> None:
        self._stage = 0
        self._got = 0
        self._rbuf = self._hdrview[: BHS_LEN + self.hd]
        self._pdu = None
        self._sink = None
        self._sink_task = None

    def _stage_done(self) -> None:
        if self._stage == 0:
            if self._hdr[0] == Opcode.SCSI_CMD and self._quick_read():
                self._got = 0  # the next header goes where this one was
                return
            pdu = self._pdu = Pdu(self._hdrview)
            have = BHS_LEN + self.hd
            need = BHS_LEN + pdu.ahs_len + self.hd
            if need > have:
                self._stage, self._got, self._rbuf = 1, 0, self._hdrview[have:need]
                return
            self._header_done()
        elif self._stage == 1:
            self._header_done()
        elif self._stage == 2:
            pad = P.pad_len(len(self._sink)) if self._sink is not None else 0
            if pad + self.dd:
                self._stage, self._got = 3, 0
                self._rbuf = memoryview(self._trail)[: pad + self.dd]
                return
            self._pdu_done()
        else:
            self._pdu_done()

    def _header_done(self) -> None:
        pdu = self._pdu
        assert pdu is not None
        alen = pdu.ahs_len
        if alen:
            pdu.ahs = bytes(self._hdr[BHS_LEN : BHS_LEN + alen])
        if self.hd and not digest_ok(
            self._hdr[BHS_LEN + alen : BHS_LEN + alen + 4], self._hdrview[: BHS_LEN + alen]
        ):
            # the header cannot be trusted, not even its lengths: the connection must go (RFC 7143 7.8)
            raise ProtocolError("header digest error")
        if pdu.dsl:
            if pdu.dsl > self.max_recv_dsl:
                raise ProtocolError(f"data segment {pdu.dsl} > MaxRecvDataSegmentLength {self.max_recv_dsl}")
            self._sink = self._data_sink(pdu)
            self._stage, self._got, self._rbuf = 2, 0, self._sink
            return
        self._pdu_done()

    def _pdu_done(self) -> None:
        pdu = self._pdu
        assert pdu is not None
        self.rx_pdus += 1
        task = self._sink_task
        if self._sink is not None:
            if self.dd:
                pad = P.pad_len(len(self._sink))
                if not digest_ok(self._trail[pad : pad + 4], self._sink, self._trail[:pad]):
                    if task is not None and pdu.opcode == Opcode.SCSI_CMD:
                        self._free(task)
                    self._data_digest_error(pdu)
                    self._restart()
                    return
            pdu.data = self._sink
        self._dispatch(pdu, task)
        self._restart()  # after dispatch: a login that just ended switches the digest lengths

    # ------------------------------------------------------------------------------- data sinks
    def _data_sink(self, pdu: Pdu) -> memoryview:
        """Where a data segment goes: a task's buffer for immediate data and Data-Out, else a fresh buffer."""
        op = pdu.opcode
        if op == Opcode.SCSI_CMD and self.full_feature and pdu.write_bit:
            task = self._new_task(pdu)
            if pdu.dsl > task.edtl or (task.buf is None and not task.busy):
                self._free(task)
                raise ProtocolError("immediate data beyond the expected data transfer length")
            self._sink_task = task
            if task.buf is None:  # BUSY: read the data to keep the stream in step, then drop it
                return memoryview(bytearray(pdu.dsl))
            return task.buf[: pdu.dsl]
        if op == Opcode.DATA_OUT and self.full_feature:
            task = self.tasks.get(pdu.itt)
            if task is not None and task.buf is not None and pdu.offset + pdu.dsl <= task.edtl:
                self._sink_task = task
                return task.buf[pdu.offset : pdu.offset + pdu.dsl]
            # unknown task or out of range: read the bytes to keep the stream in step, then reject
            return memoryview(bytearray(pdu.dsl))
        return memoryview(bytearray(pdu.dsl))

    def _free(self, task: Task) -> None:
        if task.stream is not None:  # a streamed task, or a piece of one that is sent
            task.stream.free(task)
            return
        if self._buffers:
            self._buffers.pop(task, None)
        if task.bidi:
            self._free_in(cast(BidiTask, task))
        if task.slot >= 0:
            self.ring.free(task.slot)
            task.slot = -1
        elif task.large >= 0:
            self.large.free(task.large)  # type: ignore[union-attr]
            task.large = -1
        elif task.buf is not None:
            self.buffers.give(-1, len(task.buf))
        task.buf = None

    def _free_in(self, task: BidiTask) -> None:
        if task.in_buf is not None:
            self._heap.give(-1, len(task.in_buf))
            task.in_buf = None

    # ------------------------------------------------------------------------------- output
    def _emit(self, hdr: bytearray, data: bytes | bytearray | memoryview | None = None) -> None:
        self.tx_pdus += 1
        self.tx_bytes += len(hdr) + (len(data) if data is not None else 0)
        if self.messages:
            self._reqs.append(SendPdu(hdr, data))
            return
        out = self._out
        if self.hd:
            hdr += digest_bytes(hdr)
        out.append(hdr)
        if data is not None and len(data):
            pad = _PAD[-len(data) & 3]
            out.append(data)
            if pad:
                out.append(pad)
            if self.dd:
                out.append(digest_bytes(data, pad))

    @property
    def pending_output(self) -> int:
        """How many buffers wait for ``data_to_send()`` (or requests for ``requests()``)."""
        return len(self._out) + len(self._reqs)

    def data_to_send(self) -> list[bytes | bytearray | memoryview]:
        """Buffers to write, in order; call ``output_sent()`` when they are written."""
        out = self._out
        self._out = []
        self._sent_release.extend(self._release)
        self._release = []
        return out

    def requests(self) -> list[Request]:
        """Message transports: the SENDs and RDMA operations to post, in order; call ``output_sent()``
        once posted (SENDs are copied out), and ``release`` / ``rdma_read_done`` as RDMA operations end."""
        reqs = self._reqs
        self._reqs = []
        self._sent_release.extend(self._release)
        self._release = []
        return reqs

    def output_sent(self) -> None:
        self._give_back(self._sent_release)
        self._sent_release = []

    def _give_back(self, held: list[Task | int]) -> None:
        """Free what sent output held: tasks' buffers, and the fast lanes' ring slots in one call."""
        slots = []
        for h in held:
            if isinstance(h, int):
                slots.append(h)
            else:
                self._free(h)
        if slots:
            self.ring.free_many(slots)

    def next_statsn(self) -> int:
        sn = self.statsn
        self.statsn = (sn + 1) & 0xFFFFFFFF
        return sn

    def _window(self) -> tuple[int, int]:
        s = self.session
        return (s.exp_cmdsn, s.max_cmdsn) if s is not None else (0, 0)

    # ------------------------------------------------------------------------------- errors
    def close(self, reason: str) -> None:
        """Ask the driver to flush and close this connection."""
        if not self.closing:
            self.closing = True
            self.close_reason = reason
            log.info("connection %s closing: %s", self.peer, reason)

    def kill(self, reason: str) -> None:
        """Close from outside (session reinstatement, target reset, shutdown)."""
        self.close(reason)
        if self.shutdown_cb is not None:
            self.shutdown_cb(reason)

    def reject(self, pdu: Pdu | None, reason: int) -> None:
        exp, mx = self._window()
        hdr = P.reject(reason, self.next_statsn(), exp, mx)
        self._emit(hdr, pdu.bhs if pdu is not None else bytes(BHS_LEN))

    def _warn(self, msg: str, *args: object) -> None:
        """A warning this peer caused: at most one line per peer address and 10 s (the rest counted)."""
        _warnings.warning(host_of(self.peer), "connection %s: " + msg, self.peer, *args)

    def _protocol_error(self, err: ProtocolError, pdu: Pdu | None) -> None:
        self._warn("protocol error: %s", err)
        if self.full_feature:
            self.reject(pdu, err.reason)
        self.close(f"protocol error: {err}")
        self._restart()

    def _data_digest_error(self, pdu: Pdu) -> None:
        """RFC 7143 7.8: Reject the PDU; at ERL 0 the command cannot be recovered, so the connection ends."""
        self._warn("data digest error on %r", pdu)
        self.reject(pdu, RejectReason.DATA_DIGEST_ERROR)
        self.close("data digest error")

    # ------------------------------------------------------------------------------- dispatch
    def _dispatch(self, pdu: Pdu, task: Task | None) -> None:
        op = pdu.opcode
        if not self.full_feature:
            if op == Opcode.LOGIN_REQ:
                self.login.receive(pdu)
                if self.full_feature and self.messages and self.session is not None:
                    self.rdma = self.session.params.rdma_extensions
            else:
                # RFC 7143 6.1: only Login Requests before the full feature phase
                self.login.fail_invalid(pdu)
            return
        s = self.session
        assert s is not None
        if op == Opcode.SCSI_CMD:
            self._scsi_command(pdu, task)
        elif op == Opcode.DATA_OUT:
            self._data_out(pdu, task)
        elif op == Opcode.NOP_OUT:
            self._ordered(pdu, self._nop_out)
        elif op == Opcode.TASK_MGMT_REQ:
            self._ordered(pdu, self._tmf)
        elif op == Opcode.TEXT_REQ:
            self._ordered(pdu, self._text)
        elif op == Opcode.LOGOUT_REQ:
            self._ordered(pdu, self._logout)
        elif op == Opcode.SNACK_REQ:
            # SNACK needs ErrorRecoveryLevel > 0 (RFC 7143 11.16); hpt negotiates 0
            self.reject(pdu, RejectReason.PROTOCOL_ERROR)
        elif op == Opcode.LOGIN_REQ:
            self.reject(pdu, RejectReason.PROTOCOL_ERROR)
        else:
            self.reject(pdu, RejectReason.COMMAND_NOT_SUPPORTED)

    def _ordered(self, pdu: Pdu, handler: Callable[[Pdu], None]) -> None:
        """Deliver a non-SCSI request in CmdSN order (immediate ones at once; RFC 7143 4.2.2.1)."""
        s = self.session
        assert s is not None
        if pdu.immediate:
            handler(pdu)
            return
        sn = pdu.cmdsn
        if not s.in_window(sn):
            log.debug("CmdSN %d outside [%d, %d]: ignored", sn, s.exp_cmdsn, s.max_cmdsn)
            return
        if sn != s.exp_cmdsn:
            self._wait_turn(sn, (pdu, handler))
            return
        s.exp_cmdsn = (sn + 1) & 0xFFFFFFFF
        handler(pdu)
        self._drain_pending()

    def _wait_turn(self, sn: int, item: Task | tuple[Pdu, Callable[[Pdu], None]]) -> None:
        """Park a request until the CmdSNs before it have come; one with the CmdSN of a request already
        waiting is dropped (the first keeps its place, and a dropped command gives its buffer back)."""
        if sn in self._pending:
            log.debug("CmdSN %d already waiting: ignored", sn)
            if isinstance(item, Task):
                self._free(item)
            return
        self._pending[sn] = item

    def _drain_pending(self) -> None:
        s = self.session
        assert s is not None
        while self._pending:
            item = self._pending.pop(s.exp_cmdsn, None)
            if item is None:
                return
            s.exp_cmdsn = (s.exp_cmdsn + 1) & 0xFFFFFFFF
            if isinstance(item, Task):
                self._start_task(item)
            else:
                item[1](item[0])

    # ------------------------------------------------------------------------------- SCSI commands
    def _new_task(self, pdu: Pdu) -> Task:
        edtl = pdu.edtl
        bidi_or_ahs = pdu.ahs_len or pdu.b1 & 0x60 == 0x60
        task = self._ahs_task(pdu) if bidi_or_ahs else Task(pdu, decode_lun(pdu.lun))
        if STREAM_MIN < edtl <= MAX_BUFFER and open_stream(self, task):
            pass  # the data moves in pieces, or BUSY
        elif self.rdma and edtl and self._registered(task, edtl) > 0:
            pass  # immediate data lands in registered memory at once: one copy from the receive buffer
        elif edtl and edtl <= MAX_BUFFER:
            got = self.buffers.take(edtl)
            if got is None:
                task.busy = True  # no memory for it now: BUSY once its turn comes
            else:
                task.slot, task.buf = got
        if self._remote is not None:
            self._buffers[task] = self._remote
        return task

    def waits(self) -> bool:
        """Commands of this connection may wait for a device on the thread that runs them (a LU of its
        target that ``waits``): its driver serves it on a thread of its own, not on an event loop.
        Asked each time the connection has work; the answer is kept while the target's LU map is."""
        s = self.session
        target = s.scsi_target if s is not None else None
        if target is None:
            return False  # logging in, or a discovery session
        lus = target.lu_map()
        if lus is not self._waits_for:
            self._waits_for = lus
            self._waits = any(lu.waits for lu in lus.values())
        return self._waits

    def take_burst(self, data: memoryview, room: int, sock: int = -1, nowait: bool = False) -> int:
        """The fast lane in C (``hpt.iscsi.quick``) over whole READ and WRITE commands at the start of
        ``data``, bytes the driver received and has not handed over: returns the bytes it took, their
        answers queued to send; the driver hands over the rest as usual, unless ``lane_more`` says the
        lane stopped at a command it takes once the rest of it is there (a PDU of at most ``room``
        bytes, what the driver's buffer holds). A driver that lends its socket (``sock``, with no
        output of its own pending) has the answers sent in the same call, with the GIL released once
        for the whole burst (OSError: that send failed); ``nowait``: a send that does not wait for the
        peer, whose unsent rest is queued. Only at a PDU boundary with nothing queued, on a
        byte-stream connection without digests."""
        s = self.session
        self.lane_more = False
        if (len(data) < BHS_LEN or data[0] != Opcode.SCSI_CMD or data[1] & 0x87 != 0x81
                or data[32] not in _LANE_OPCODES
                # a WRITE whose data is not all immediate (DataSegmentLength != EDTL), or more than the
                # driver's buffer holds, never takes it
                or (data[1] & 0x20 and (data[20] or data[5:8] != data[21:24]
                                        or int.from_bytes(data[5:8], "big") > room - BHS_LEN - 4))
                or self._got or self._stage or s is None
                or not self.full_feature or self.hd or self.dd or self.messages or self.ready
                or self._pending or self.tasks or s.scsi_target is None or s.session_type != "Normal"):
            return 0
        lane = self._lane
        if lane is None:
            lane = self._lane = QuickLane(self.ring)
        b = lane.run(s.scsi_target, s.nexus.initiator_port, data, s.exp_cmdsn, self.statsn, s.queue_depth,
                     min(self.max_xmit_dsl, s.params.max_burst_length),
                     min(self.max_recv_dsl, room - BHS_LEN - 4), sock if not self._out else -1,
                     s.nexus.rtpi, nowait)
        self.lane_more = b.more
        n = b.count
        if not n:
            return 0
        s.exp_cmdsn, self.statsn = b.exp_cmdsn, b.statsn
        self._count_burst(b)
        if b.sent:
            return b.taken
        view = memoryview(b.headers)
        slot_view = self.ring.view
        out = self._out
        release = self._release
        for i, length in enumerate(b.lens):
            out.append(view[i * BHS_LEN:(i + 1) * BHS_LEN])
            slot = b.slots[i]
            if length:
                out.append(slot_view(slot)[:length])
            if slot != NO_SLOT:
                release.append(slot)
        if b.skip:  # the socket took the start of the answers: the rest is queued
            skip = b.skip
            while skip >= len(out[0]):
                skip -= len(out.pop(0))
            if skip:
                out[0] = memoryview(out[0])[skip:]
        return b.taken

    def lane_enter(self, max_len: int, max_data: int, zero_reads: bool) -> tuple[int, int, int] | None:
        """Ready the fast lane in C for a driver that runs it over whole messages itself (iSER's:
        ``hpt/native/verbs.c`` hv_serve, one PDU per message), when this connection's next commands
        may take it: full feature phase with RDMA, a Normal session with its target, nothing of this
        connection queued, running, waiting or half received, and a LU that takes something now.
        Returns the addresses of the lane's C view (``QuickLane.pointers``), or None; ``lane_leave``
        follows a view once the driver's call is done. ``max_len``: the largest READ one answer
        carries; ``max_data``: the largest immediate data segment taken; ``zero_reads``: the driver
        sends READs of a LU that holds nothing from zeroes of its own (``QuickLane.enter``)."""
        s = self.session
        if (s is None or not self.full_feature or not self.rdma or self.closing or self.ready or self._pending
                or self.tasks or self._done or self._starved or self._reqs or self._got or self._stage
                or self.hold_until or s.scsi_target is None or s.session_type != "Normal"):
            return None
        lane = self._lane
        if lane is None:
            lane = self._lane = QuickLane(self.ring)
        if not lane.enter(s.scsi_target, s.nexus.initiator_port, s.exp_cmdsn, self.statsn, s.queue_depth,
                          max_len, max_data, s.nexus.rtpi, zero_reads):
            return None
        return lane.pointers()

    def lane_leave(self, answered: int) -> None:
        """The driver's call after ``lane_enter`` is done and answered ``answered`` commands: CmdSN,
        StatSN and the counters follow what the lane did."""
        lane = self._lane
        assert lane is not None
        read_bytes, written = lane.leave()
        if answered:
            s = self.session
            assert s is not None
            s.exp_cmdsn, self.statsn = lane.numbers()
            self._count_burst(Burst(answered, s.exp_cmdsn, self.statsn, answered * BHS_LEN + written,
                                    read_bytes=read_bytes, written=written))

    def _count_burst(self, b: Burst) -> None:
        s = self.session
        assert s is not None
        n = b.count
        s.commands += n
        s.read_bytes += b.read_bytes
        s.write_bytes += b.written
        self.rx_pdus += n
        self.rx_bytes += b.taken
        self.tx_pdus += n
        self.tx_bytes += n * BHS_LEN + b.read_bytes

    def _quick_read(self) -> bool:
        """The fast lane of a READ (RFC 7143 11.3, 11.7): a SCSI Command header (in ``_hdr``) with F and
        R set, no W, SIMPLE, no AHS or data segment, in CmdSN order with nothing queued before it,
        without header digest, whose whole transfer fits one Data-In and one ring slot and whose LU
        takes it (``LogicalUnit.quick``): read into the slot and answered by one Data-In carrying the
        status, or over iSER by an RDMA Write to the command's Read STag chained with the SCSI
        Response (RFC 7145 7.3.5), with no PDU, task or command object. Any other command, or one the
        LU declines, takes the full path (False), which then gives its sense."""
        h = self._hdr
        s = self.session
        if h[1] & 0xE7 != 0xC1 or s is None or not self.full_feature or self.hd:
            return False
        remote = self._remote
        if self.messages and (not self.rdma or remote is None or remote.read_stag is None):
            return False
        ahs_dsl, lun_raw, itt, edtl, cmdsn = _QUICK.unpack_from(h, 4)
        target = s.scsi_target
        if (ahs_dsl or cmdsn != s.exp_cmdsn or target is None or self.ready or self._pending
                # one Data-In carries it (an RDMA Write over iSER carries any length)
                or (remote is None and (edtl > self.max_xmit_dsl or edtl > s.params.max_burst_length))
                or itt in self.tasks or lun_raw & _NOT_PERIPHERAL or s.session_type != "Normal"):
            return False
        lu = target.lu(lun_raw >> 48)
        ring = self.ring
        if lu is None or edtl > ring.slot_size:
            return False
        slot = ring.try_alloc()
        if slot < 0:
            return False
        n = lu.quick(bytes(h[32:48]), s.nexus, ring.view(slot)[:edtl])
        if n < 0:
            ring.free(slot)
            return False
        s.exp_cmdsn = exp = (cmdsn + 1) & 0xFFFFFFFF
        s.commands += 1
        s.read_bytes += n
        self.rx_pdus += 1
        if remote is not None:
            rsp = P.scsi_response(itt, 0, 0, Status.GOOD, self.next_statsn(), exp, s.max_cmdsn, 0, 0, 0)
            self.tx_pdus += 1
            self.tx_bytes += BHS_LEN + n
            assert remote.read_stag is not None
            self._reqs.append(RdmaWrite(None, n, remote.read_stag, remote.read_va, SendPdu(rsp), slot))
            return True
        self._emit(P.data_in(itt, 0x81, 0, bytes(h[8:16]), self.next_statsn(), exp, s.max_cmdsn, 0, 0, 0, n),
                   ring.view(slot)[:n])
        self._release.append(slot)
        return True

    def _ahs_task(self, pdu: Pdu) -> Task:
        """A command with AHS or with R and W both set: the Extended CDB AHS (RFC 7143 11.2.2.3) and,
        for a bidirectional command, the Bidirectional Read Expected Data Transfer Length AHS it must
        carry (11.2.2.4, 11.3.1) with a read buffer of that length. A malformed AHS, a bidirectional
        command without its AHS (or that AHS on another command) and a bidirectional command over iSER
        end in CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB once their turn comes."""
        lun = decode_lun(pdu.lun)
        try:
            ahs = P.parse_ahs(pdu.ahs)
        except P.AhsError as err:
            return self._refused(Task(pdu, lun), f"malformed AHS: {err}")
        bidi = pdu.read_bit and pdu.write_bit
        in_len = ahs.bidi_read_length
        if bidi != (in_len is not None):
            why = "R and W set without" if bidi else "R and W not both set but"
            return self._refused(Task(pdu, lun), f"{why} a Bidirectional Read Expected Data Transfer "
                                                 "Length AHS")
        if in_len is None:
            return Task(pdu, lun)
        task = BidiTask(pdu, lun, in_len)
        if self.messages:
            return self._refused(task, "bidirectional commands are not supported over iSER")
        if in_len > MAX_BUFFER:
            return self._refused(task, f"bidirectional read length {in_len} > {MAX_BUFFER}")
        if in_len:
            got = self._heap.take(in_len)
            if got is None:
                task.busy = True
            else:
                task.in_buf = got[1]
        return task

    def _refused(self, task: Task, why: str) -> Task:
        self._warn("ITT %#x: %s", task.itt, why)
        task.error = INVALID_FIELD_IN_CDB
        return task

    def _scsi_command(self, pdu: Pdu, task: Task | None) -> None:
        s = self.session
        assert s is not None
        if task is None:
            task = self._new_task(pdu)
        if s.session_type != "Normal" or s.scsi_target is None:
            self._free(task)
            self.reject(pdu, RejectReason.PROTOCOL_ERROR)
            return
        if pdu.itt in self.tasks:
            self._free(task)
            self.reject(pdu, RejectReason.TASK_IN_PROGRESS)
            return
        task.received = pdu.dsl
        if pdu.immediate:
            self._start_task(task)
            return
        sn = pdu.cmdsn
        if not s.in_window(sn):
            log.debug("CmdSN %d outside [%d, %d]: ignored", sn, s.exp_cmdsn, s.max_cmdsn)
            self._free(task)
            return
        if sn != s.exp_cmdsn:
            self._wait_turn(sn, task)
            return
        s.exp_cmdsn = (sn + 1) & 0xFFFFFFFF
        self._start_task(task)
        if self._pending:
            self._drain_pending()

    def _start_task(self, task: Task) -> None:
        pdu_w = task.write
        if task.error is not None:  # refused at arrival (AHS): no data phase, CHECK CONDITION now
            self._respond_status(task, ScsiResult(Status.CHECK_CONDITION, build_sense(task.error)))
            return
        if task.busy:
            self._respond_status(task, BUSY)
            return
        if task.edtl > MAX_BUFFER:
            self._respond_status(task, ScsiResult(Status.CHECK_CONDITION, build_sense(INVALID_FIELD_IN_CDB)))
            return
        if self.rdma and not self._take_slot(task):
            if task.buf is not None:
                self._starved.append(task)
            return
        if not pdu_w or task.received >= task.edtl:
            self.ready.append(task)
            return
        # more write data to come: unsolicited Data-Out first, then R2Ts (RFC 7143 4.2.2.x, 13.10-13.11)
        sp = self.session.params  # type: ignore[union-attr]
        self.tasks[task.itt] = task
        if not sp.initial_r2t and not task.final:
            task.unsol_end = min(sp.first_burst_length, task.edtl)
        else:
            task.unsol_end = task.received
        task.unsol_next = task.received
        task.unsol_done = task.unsol_next >= task.unsol_end
        task.r2t_next = task.unsol_end
        if self.rdma:
            self._rdma_fetch(task)
        elif task.stream is not None:
            self.ready.append(task)  # runs now; its stream solicits the data piece by piece
        else:
            self._send_r2ts(task)

    def _send_r2ts(self, task: Task, end: int = 0) -> None:
        """R2Ts for the write data up to ``end`` (0: all), MaxOutstandingR2T at a time (RFC 7143 11.8)."""
        sp = self.session.params  # type: ignore[union-attr]
        exp, mx = self._window()
        end = end or task.edtl
        while len(task.r2ts) < sp.max_outstanding_r2t and task.r2t_next < end:
            length = min(sp.max_burst_length, end - task.r2t_next)
            self._ttt = ttt = (self._ttt + 1) & 0x7FFFFFFF
            task.r2ts[ttt] = [task.r2t_next, task.r2t_next + length, 0]
            self._emit(
                P.r2t(task.lun_raw, task.itt, ttt, self.statsn, exp, mx, task.r2tsn, task.r2t_next, length)
            )
            task.r2tsn += 1
            task.r2t_next += length

    def _data_out(self, pdu: Pdu, placed: Task | None) -> None:
        """SCSI Data-Out (RFC 7143 11.7): check it against its unsolicited burst or R2T sequence.

        A Data-Out for an unknown task is rejected. A DataSN, offset or length that does not fit
        fails its command with CHECK CONDITION once the initiator has sent the rest of the burst
        (ERL 0 cannot recover the data; the connection stays up, RFC 7143 7.1.4.1, 11.4.7.2).
        """
        task = self.tasks.get(pdu.itt)
        if task is None:
            self.reject(pdu, RejectReason.INVALID_PDU_FIELD)
            return
        end = pdu.offset + pdu.dsl
        ok = placed is task
        if pdu.ttt == RSVD_TAG:
            ok = (
                ok
                and pdu.offset == task.unsol_next
                and end <= task.unsol_end
                and pdu.datasn == task.unsol_datasn
            )
            task.unsol_next = end
            task.unsol_datasn += 1
            if pdu.final or end >= task.unsol_end:
                task.unsol_done = True
        else:
            r = task.r2ts.get(pdu.ttt)
            if r is None:
                ok = False
            else:
                ok = ok and pdu.offset == r[0] and end <= r[1] and pdu.datasn == r[2]
                r[0] = end
                r[2] += 1
                if pdu.final or end >= r[1]:
                    ok = ok and end == r[1]
                    del task.r2ts[pdu.ttt]
        if ok:
            task.received += pdu.dsl
        elif task.error is None:
            task.error = DATA_PHASE_ERROR
            self._warn(
                "ITT %#x: Data-Out TTT %#x offset %d DataSN %d out of sequence",
                pdu.itt,
                pdu.ttt,
                pdu.offset,
                pdu.datasn,
            )
        self._write_progress(task)

    def _write_progress(self, task: Task) -> None:
        """Once no write data is outstanding: fail the command, solicit more, or make it ready."""
        if not task.unsol_done or task.r2ts:
            return
        if task.stream is not None:
            task.stream.progress()
            return
        if task.error is not None:
            del self.tasks[task.itt]
            self._respond_status(task, ScsiResult(Status.CHECK_CONDITION, build_sense(task.error)))
        elif task.r2t_next < task.edtl:
            self._send_r2ts(task)
        else:
            del self.tasks[task.itt]
            self.ready.append(task)

    def pop_ready(self) -> list[Task]:
        ready = self.ready
        self.ready = []
        return ready

    def command_for(self, task: Task) -> ScsiCommand:
        """The SCSI core's view of a ready task."""
        if task.bidi:
            bt = cast(BidiTask, task)
            return bidi_command(bt.lun, bt.cdb, self.session.nexus,  # type: ignore[union-attr]
                                bt.itt, bt.attr, bt.buf, bt.edtl, bt.in_buf, bt.in_len)
        cmd = command(task.lun, task.cdb, self.session.nexus,  # type: ignore[union-attr]
                      task.itt, task.attr, task.buf, task.edtl, task.read, task.write)
        if task.stream is not None:
            cmd.stream = task.stream
        return cmd

    def execute_ready(self) -> None:
        """Submit every ready task to the SCSI target; completions that came back at once (a store in
        memory) are turned into PDUs before this returns, the others when the driver drains them."""
        target = self.session.scsi_target if self.session is not None else None
        if target is None:
            return
        finished = self._finished
        self._submitter = get_ident()  # completions on this thread during the loop are sent at once
        try:
            for task in self.pop_ready():
                target.submit(self.command_for(task), partial(finished, task))
        finally:
            self._submitter = 0
        self.drain_completions()

    def _finished(self, task: Task, result: ScsiResult) -> None:
        """The engine's completion (any thread): queue it for the driver's thread. Once the connection
        is gone no driver drains the queue: the buffer is given back here (the ring is thread-safe)."""
        if self.lost:
            self._free(task)
            return
        if self._submitter == get_ident():  # inline, inside execute_ready: no queue, no notify
            self.complete(task, result)
            return
        self._done.append(partial(self.complete, task, result))
        notify = self.notify
        if notify is not None:
            notify()

    def defer(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the driver's thread with the next completions (e.g. a TMF response)."""
        self._done.append(work)
        notify = self.notify
        if notify is not None:
            notify()

    @property
    def completions(self) -> int:
        """Completions queued for ``drain_completions``."""
        return len(self._done)

    def drain_completions(self) -> None:
        """Turn the queued completions into PDUs (driver's thread)."""
        done = self._done
        while done:
            done.popleft()()

    def complete(self, task: Task, result: ScsiResult) -> None:
        """Send the result: Data-In with piggybacked status, or a SCSI Response (RFC 7143 11.4, 11.7).
        An aborted command (or one whose connection is gone) only gives its buffer back; one whose LU
        asks for the connection to be dropped (an injected fault) closes the connection too."""
        if task.aborted or result is ABORTED or self.lost:
            self._free(task)
            return
        self.session.count(result, task.edtl if task.read else 0,  # type: ignore[union-attr]
                           task.received if task.write else 0)
        if result is DISCONNECT:
            self._free(task)
            self.kill("the logical unit dropped the connection (injected fault)")
            return
        if task.bidi:  # read data from its own buffer, then always a SCSI Response (both residuals)
            in_buf = cast(BidiTask, task).in_buf
            if result.in_len and in_buf is not None:
                self._send_data_in(task, result, in_buf, min(result.in_len, len(in_buf)))
            else:
                self._respond_status(task, result)
        elif task.read and result.in_len and task.buf is not None:
            if self.rdma:
                self._rdma_write(task, result)
            else:
                self._send_data_in(task, result, task.buf, min(result.in_len, task.edtl))
        else:
            self._respond_status(task, result)

    def _residual(self, task: Task, result: ScsiResult) -> tuple[int, int]:
        """The Residual Overflow (O) / Underflow (U) flag and the count (RFC 7143 11.4.5)."""
        left = residual(result, task.edtl, task.read, task.write)
        if left < 0:
            return 0x04, -left
        return (0x02, left) if left else (0, 0)

    def _send_data_in(self, task: Task, result: ScsiResult, buf: memoryview, total: int) -> None:
        """Data-In PDUs of ``buf[:total]``; the last carries the status (S bit) unless there is sense
        data or the command is bidirectional, whose residuals only a SCSI Response can carry: then the
        response follows the data (RFC 7143 11.7.4, 11.4.5)."""
        s = self.session
        assert s is not None
        flags, resid = self._residual(task, result)
        seg = self.max_xmit_dsl
        burst = s.params.max_burst_length
        exp, mx = s.exp_cmdsn, s.max_cmdsn
        lun = task.lun_raw
        itt = task.itt
        datasn = 0
        off = 0
        emit = self._emit
        # else the sense (or a bidirectional command's residuals) goes in a SCSI Response after the data
        status = result.status == Status.GOOD and not task.bidi
        while off < total:
            n = min(seg, total - off, burst - off % burst)
            off2 = off + n
            if off2 >= total and status:
                hdr = P.data_in(
                    itt, 0x81 | flags, result.status, lun, self.next_statsn(), exp, mx, datasn, off, resid, n
                )
            else:
                final = off2 >= total or off2 % burst == 0
                hdr = P.data_in(itt, 0x80 if final else 0, 0, lun, 0, exp, mx, datasn, off, 0, n)
            emit(hdr, buf[off:off2])
            datasn += 1
            off = off2
        if not status:
            emit(*self._status_pdu(task, result))
        self._release.append(task)

    def _respond_status(self, task: Task, result: ScsiResult) -> None:
        self._emit(*self._status_pdu(task, result))
        self._free(task)

    def _status_pdu(self, task: Task, result: ScsiResult) -> tuple[bytearray, bytes | None]:
        """The SCSI Response PDU for a result (RFC 7143 11.4)."""
        s = self.session
        assert s is not None
        flags, resid = self._residual(task, result)
        bidi_resid = 0
        if task.bidi:  # the Bidirectional Read Residual: o (0x10) or u (0x08) and its count (11.4.5)
            left = cast(BidiTask, task).in_len - result.in_len
            if left < 0:
                flags, bidi_resid = flags | 0x10, -left
            elif left:
                flags, bidi_resid = flags | 0x08, left
        sense = result.sense
        data = len(sense).to_bytes(2, "big") + sense if sense else None
        hdr = P.scsi_response(
            task.itt,
            flags,
            0,
            result.status,
            self.next_statsn(),
            s.exp_cmdsn,
            s.max_cmdsn,
            0,
            resid,
            len(data) if data else 0,
            bidi_resid,
        )
        return hdr, data

    # ------------------------------------------------------------------------------- iSER-assisted data
    def _take_slot(self, task: Task) -> bool:
        """RDMA moves data only to and from registered memory: move the task into a ring slot, or into
        one of the driver's large registered buffers when it needs more than a slot.

        False when none is free (the task waits for ``retry_starved``) or its buffer cannot be one.
        """
        buf = task.buf
        if buf is None or task.slot >= 0 or task.large >= 0:
            return True
        if task.edtl > self.ring.slot_size and (self.large is None or task.edtl > self.large.limit):
            return self._refuse(task, INVALID_FIELD_IN_CDB, "exceed the largest registered buffer")
        got = self._registered(task, task.edtl)
        if got < 0:
            return self._refuse(task, INSUFFICIENT_RESOURCES, "could not be registered")
        if not got:
            return False
        assert task.buf is not None  # immediate data that landed before a registered buffer was free:
        task.buf[: task.received] = buf[: task.received]
        self.buffers.give(-1, len(buf))  # the buffer it had came from the budget, not the ring
        return True

    def _registered(self, task: Task, n: int) -> int:
        """Give ``task`` a registered buffer of ``n`` bytes, a ring slot or a large buffer: 1 done, 0 none
        free now (or none that large), -1 a large buffer could not be registered."""
        if n <= self.ring.slot_size:
            idx = self.ring.try_alloc()
            if idx < 0:
                return 0
            task.slot, task.buf = idx, self.ring.view(idx)[:n]
            return 1
        large = self.large
        if large is None or n > large.limit:
            return 0
        idx = large.alloc(n)
        if idx < 0:
            return -1 if idx < -1 else 0
        task.large, task.buf = idx, large.view(idx)[:n]
        return 1

    def _refuse(self, task: Task, asc: Asc, why: str) -> bool:
        """Answer a task that can get no registered buffer with CHECK CONDITION; always False."""
        self._warn("ITT %#x: %d bytes %s", task.itt, task.edtl, why)
        self._respond_status(task, ScsiResult(Status.CHECK_CONDITION, build_sense(asc)))
        return False

    @property
    def starved(self) -> int:
        """How many tasks wait for a registered ring slot."""
        return len(self._starved)

    def retry_starved(self) -> None:
        """Registered buffers were freed: resume the tasks waiting for one, oldest first."""
        while self._starved:
            task = self._starved[0]
            if task.aborted:
                self._starved.popleft()
                continue
            if not self._take_slot(task) and task.buf is not None:
                return  # still no free buffer
            self._starved.popleft()
            if task.buf is not None:  # else it was answered (too large for any buffer)
                self._start_task(task)

    def _rdma_fetch(self, task: Task) -> None:
        """Solicited write data: one RDMA Read of the rest from the Write STag (RFC 7145 7.3.6)."""
        remote = self._buffers.get(task)
        if remote is None or remote.write_stag is None:
            self._warn("ITT %#x: solicited write data but no Write STag", task.itt)
            task.error = INVALID_FIELD_IN_CDB
        else:
            offset, length = task.r2t_next, task.edtl - task.r2t_next
            task.r2ts[RSVD_TAG] = [offset, task.edtl, 0]
            self._reqs.append(RdmaRead(task, offset, length, remote.write_stag, remote.write_va))
        task.r2t_next = task.edtl
        self._write_progress(task)

    def rdma_read_done(self, task: Task, ok: bool = True) -> None:
        """The driver's RDMA Read for ``task`` completed (``ok``) or was flushed."""
        r = task.r2ts.pop(RSVD_TAG, None)
        if task.aborted or not ok:
            if self.tasks.get(task.itt) is task:
                del self.tasks[task.itt]
            self._free(task)
            return
        if r is not None:
            task.received += r[1] - r[0]
        self._write_progress(task)

    def _rdma_write(self, task: Task, result: ScsiResult) -> None:
        """Read data: RDMA Write to the Read STag chained with the SCSI Response (RFC 7145 7.3.5)."""
        remote = self._buffers.get(task)
        if remote is None or remote.read_stag is None or (task.slot < 0 and task.large < 0):
            self._warn("ITT %#x: read data but no Read STag", task.itt)
            self._respond_status(task, ScsiResult(Status.CHECK_CONDITION, build_sense(INVALID_FIELD_IN_CDB)))
            return
        hdr, data = self._status_pdu(task, result)
        n = min(result.in_len, task.edtl)
        self._reqs.append(RdmaWrite(task, n, remote.read_stag, remote.read_va, SendPdu(hdr, data)))

    def release(self, write: RdmaWrite) -> None:
        """An :class:`RdmaWrite` and its response are done (or flushed): its slot is free again."""
        if write.task is not None:
            self._free(write.task)
        else:
            self.ring.free(write.slot)

    # ------------------------------------------------------------------------------- tasks
    def abort_tasks(self, match: Callable[[Task], bool]) -> int:
        """Drop the tasks (waiting for data or CmdSN order) that ``match``; returns how many."""
        n = 0
        for itt, task in list(self.tasks.items()):
            if match(task):
                task.aborted = True
                del self.tasks[itt]
                if RSVD_TAG not in task.r2ts:  # an RDMA Read in flight still owns the slot
                    self._free(task)
                n += 1
        for task in [t for t in self._starved if match(t)]:
            task.aborted = True
            self._free(task)
            n += 1
        for sn, item in list(self._pending.items()):
            if isinstance(item, Task) and match(item):
                del self._pending[sn]
                self._free(item)
                n += 1
        return n

    # ------------------------------------------------------------------------------- teardown
    def connection_lost(self) -> None:
        """The transport is gone: drop pending tasks, leave the session (RFC 7143 6.3.4).

        A message transport calls this once its queue pair is gone, so no RDMA still owns a slot.
        """
        for stream in list(self.streams):
            stream.cancel()
        for task in self.tasks.values():
            task.r2ts.pop(RSVD_TAG, None)
        pdu, sink = self._pdu, self._sink_task
        if sink is not None and pdu is not None and pdu.opcode == Opcode.SCSI_CMD:
            self._free(sink)  # a command cut off in its immediate data: no task list holds it yet
        self._sink_task = None
        self.abort_tasks(lambda t: True)
        for task in self.ready:
            self._free(task)
        self.ready = []
        self._starved.clear()
        self._buffers.clear()
        self.output_sent()
        self._give_back(self._release)
        self._release = []
        self.lost = True
        if self._lane is not None:
            self._lane.close()
            self._lane = None
        s = self.session
        if s is not None:
            if self.kill in s.connections:
                s.connections.remove(self.kill)
            if not s.connections and s.end():  # not when a logout ended it already
                self.context.sessions.remove(s)
                if s.scsi_target is not None and s.session_type == "Normal":
                    self.context.nexus_lost(s)
        self.closing = True
