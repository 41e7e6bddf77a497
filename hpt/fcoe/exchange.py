"""FCP exchanges of a target port (FCP-4 4.4, 9): commands, write data bursts, data-in, responses.

One exchange per FCP_CMND. A read is submitted to the SCSI engine at once and leaves as FCP_DATA
frames cut to the remote port's receive size (relative offsets, one sequence) then FCP_RSP. A write
asks for its data with FCP_XFER_RDY bursts, gathers FCP_DATA frames by relative offset into one
buffer (a ring slot when it fits) and is submitted when the last byte is in. The engine completes
commands on any thread: completions queue, ``notify`` tells the driver, and the port turns them into
frames with :meth:`FcpEngine.drain` on its own thread. ABTS and task management abort the exchanges
waiting for data here and the commands in the engine through the SCSI target.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hpt.fcoe import fcp
from hpt.fcoe.fcp import FcpCmnd
from hpt.fcoe.frame import (
    EOF_N,
    EOF_T,
    F_END_SEQ,
    F_EX_CTX,
    F_LAST_SEQ,
    F_REL_OFF,
    F_SEQ_INIT,
    FC_MAX_PAYLOAD,
    R_CTL_DATA,
    R_CTL_RSP,
    R_CTL_XFER_RDY,
    SOF_I3,
    SOF_N3,
    TYPE_FCP,
    FcHeader,
)
from hpt.fcoe.rport import RemotePort
from hpt.native.ring import Ring
from hpt.scsi.core.command import ABORTED, DISCONNECT, ScsiResult
from hpt.scsi.core.constants import DATA_PHASE_ERROR, INVALID_FIELD_IN_CDB, Status
from hpt.scsi.core.sense import build_sense
from hpt.scsi.core.transfer import DataBuffers, command, residual
from hpt.scsi.target import ScsiTarget, TmfResult

log = logging.getLogger("hpt.fcoe")

MAX_BURST = 1 << 20  # bytes asked for per FCP_XFER_RDY
MAX_TRANSFER = 32 << 20  # FCP_DL limit (Linux libfc: max_sectors 0xffff)

#: ``emit(rport, header, payload parts, sof, eof)`` sends one FC frame.
Emit = Callable[[RemotePort, FcHeader, list[bytes | memoryview], int, int], None]


@dataclass(slots=True)
class Exchange:
    """An FCP exchange waiting for write data (FCP-4 4.4)."""

    rport: RemotePort
    ox_id: int
    rx_id: int
    cmnd: FcpCmnd
    buffer: memoryview
    slot: int  # ring slot holding ``buffer``, -1 for a heap buffer
    received: int = 0  # bytes of data in so far (the next relative offset expected)
    burst_end: int = 0
    seq_id: int = -1  # the initiator's current data sequence
    seq_cnt: int = 0  # its next expected SEQ_CNT
    seq_open: bool = False  # a data sequence has started and not ended


class FcpEngine:
    """The FCP exchanges of one local port, executing on one :class:`ScsiTarget`."""

    def __init__(
        self,
        target: ScsiTarget,
        ring: Ring | None,
        emit: Emit,
        local_id: Callable[[], int],
        counters: dict[str, int],
    ) -> None:
        self.target = target
        self.ring = ring
        self.emit = emit
        self.local_id = local_id
        self.counters = counters
        self.open: dict[tuple[int, int], Exchange] = {}  # by (initiator port ID, OX_ID)
        self.buffers = DataBuffers(ring)
        # buffers (slot, bytes) to give back once the frames queued so far are sent
        self.release: list[tuple[int, int]] = []
        self._rx_id = 0
        # (initiator port ID, OX_ID) -> (LUN, RX_ID) of commands in the SCSI engine
        self.running: dict[tuple[int, int], tuple[int, int]] = {}
        self.expecting: Exchange | None = None  # the write whose data most likely comes next
        self._landing: tuple[Exchange, int] | None = None  # what landing() last offered: (exchange, offset)
        self._done: deque[Callable[[], None]] = deque()  # completions from the engine (any thread)
        self.notify: Callable[[], None] | None = None  # set by the driver: something queued in _done

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _next_rx_id(self) -> int:
        while True:
            self._rx_id = (self._rx_id + 1) % 0xFFFF
            if all(ex.rx_id != self._rx_id for ex in self.open.values()):
                return self._rx_id

    # -- buffers -------------------------------------------------------------------------------
    def free(self, slot: int, size: int) -> None:
        """Give a data buffer back: its ring slot, or ``size`` bytes of the memory budget."""
        self.buffers.give(slot, size)

    # -- frames out ----------------------------------------------------------------------------
    def _header(
        self,
        rport: RemotePort,
        r_ctl: int,
        f_ctl: int,
        ox_id: int,
        rx_id: int,
        seq_id: int,
        seq_cnt: int = 0,
        parameter: int = 0,
    ) -> FcHeader:
        return FcHeader(
            r_ctl,
            rport.port_id,
            self.local_id(),
            TYPE_FCP,
            F_EX_CTX | f_ctl,
            seq_id,
            seq_cnt,
            ox_id,
            rx_id,
            parameter,
        )

    def _respond(self, rport: RemotePort, ox_id: int, rx_id: int, payload: bytes) -> None:
        hdr = self._header(rport, R_CTL_RSP, F_LAST_SEQ | F_END_SEQ, ox_id, rx_id, rport.next_seq_id())
        self.emit(rport, hdr, [payload], SOF_I3, EOF_T)

    def _xfer_rdy(self, ex: Exchange) -> None:
        length = min(MAX_BURST, ex.cmnd.dl - ex.received)
        ex.burst_end = ex.received + length
        self.expecting = ex
        hdr = self._header(
            ex.rport, R_CTL_XFER_RDY, F_END_SEQ | F_SEQ_INIT, ex.ox_id, ex.rx_id, ex.rport.next_seq_id()
        )
        self.emit(ex.rport, hdr, [fcp.xfer_rdy(ex.received, length)], SOF_I3, EOF_T)

    def _data_in(self, rport: RemotePort, ox_id: int, rx_id: int, data: memoryview) -> None:
        seq_id, size = rport.next_seq_id(), rport.max_payload
        count = max(1, -(-len(data) // size))
        for i in range(count):
            chunk = data[i * size : (i + 1) * size]
            last = i == count - 1
            hdr = self._header(
                rport, R_CTL_DATA, F_REL_OFF | (F_END_SEQ if last else 0), ox_id, rx_id, seq_id, i, i * size
            )
            self.emit(rport, hdr, [chunk], SOF_I3 if i == 0 else SOF_N3, EOF_T if last else EOF_N)

    # -- commands ------------------------------------------------------------------------------
    def command(self, rport: RemotePort, hdr: FcHeader, cmnd: FcpCmnd) -> None:
        """FCP_CMND (FCP-4 9.2): task management, or a command that runs now or after its data."""
        rx_id = self._next_rx_id()
        key = (rport.port_id, hdr.ox_id)
        if key in self.open:
            self._count("fcp_duplicate_ox_id")
            self._abort(self.open[key])
        if cmnd.tmf:
            ox_id = hdr.ox_id
            self._tmf(rport, cmnd,
                      lambda code: self._respond(rport, ox_id, rx_id, fcp.rsp(Status.GOOD, rsp_code=code)))
            return
        if cmnd.read and cmnd.write:  # bidirectional (RDDATA and WRDATA, FCP-4 9.2): not served over FCP
            self._count("fcp_bidirectional")
            sense = build_sense(INVALID_FIELD_IN_CDB)
            self._respond(rport, hdr.ox_id, rx_id, fcp.rsp(Status.CHECK_CONDITION, sense, resid=cmnd.dl))
            return
        if cmnd.dl > MAX_TRANSFER:
            self._count("fcp_too_long")
            self._respond(
                rport, hdr.ox_id, rx_id, fcp.rsp(Status.GOOD, resid=cmnd.dl, rsp_code=fcp.RSP_BAD_FIELDS)
            )
            return
        got = self.buffers.take(cmnd.dl)
        if got is None:  # no memory for it now (SAM-5 5.3.2): the initiator retries
            self._count("fcp_busy")
            self._respond(rport, hdr.ox_id, rx_id, fcp.rsp(Status.BUSY, resid=cmnd.dl))
            return
        slot, buffer = got
        if cmnd.write and cmnd.dl:
            ex = Exchange(rport, hdr.ox_id, rx_id, cmnd, buffer, slot)
            self.open[key] = ex
            self._xfer_rdy(ex)
            return
        self._execute(rport, hdr.ox_id, rx_id, cmnd, buffer, slot)

    def _execute(
        self, rport: RemotePort, ox_id: int, rx_id: int, cmnd: FcpCmnd, buffer: memoryview, slot: int
    ) -> None:
        cmd = command(cmnd.lun, cmnd.cdb, rport.nexus, ox_id, cmnd.attr, buffer, cmnd.dl, cmnd.read,
                      cmnd.write)
        key = (rport.port_id, ox_id)
        self.running[key] = (cmnd.lun, rx_id)

        def completed(result: ScsiResult) -> None:
            self.defer(lambda: self._completed(key, rport, ox_id, rx_id, cmnd, buffer, slot, result))

        try:
            self.target.submit(cmd, completed)
        except Exception:  # a fault in a device handler fails this command only
            log.exception("LUN %d: command %s failed", cmnd.lun, bytes(cmnd.cdb[:1]).hex())
            self._count("scsi_internal_error")
            completed(ScsiResult(Status.BUSY))

    def defer(self, work: Callable[[], None]) -> None:
        """Queue work for the port's thread (:meth:`drain`) and tell the driver."""
        self._done.append(work)
        notify = self.notify
        if notify is not None:
            notify()

    def drain(self) -> None:
        """Turn queued completions into frames (the port's thread)."""
        done = self._done
        while done:
            done.popleft()()

    def _completed(self, key: tuple[int, int], rport: RemotePort, ox_id: int, rx_id: int, cmnd: FcpCmnd,
                   buffer: memoryview, slot: int, result: ScsiResult) -> None:
        if self.running.get(key) == (cmnd.lun, rx_id):
            del self.running[key]
        if result is ABORTED or result is DISCONNECT:  # FCP has no connection to drop: no answer
            self.free(slot, len(buffer))
            return
        self._finish(rport, ox_id, rx_id, cmnd, buffer, slot, result)

    def _finish(
        self,
        rport: RemotePort,
        ox_id: int,
        rx_id: int,
        cmnd: FcpCmnd,
        buffer: memoryview,
        slot: int,
        result: ScsiResult,
    ) -> None:
        if cmnd.read:  # with CHECK CONDITION too: the data a tape READ moved before a filemark
            sent = min(result.in_len, cmnd.dl)
            if sent:
                self._data_in(rport, ox_id, rx_id, buffer[:sent])
        resid = residual(result, cmnd.dl, cmnd.read, cmnd.write)  # FCP_DL without a direction: all of it
        self._respond(rport, ox_id, rx_id, fcp.rsp(result.status, result.sense, resid))
        if cmnd.read:
            self.release.append((slot, len(buffer)))  # its views are in the frames queued above
        else:
            self.free(slot, len(buffer))

    # -- write data ----------------------------------------------------------------------------
    def landing(self) -> memoryview | None:
        """Where the payload of the next FCP_DATA frame belongs if it is the one most likely next (the
        expected write's next bytes, at most one frame's worth): a driver receives the frame so that
        its payload lands there, and ``data`` finds it in place. None when no write waits for data."""
        ex = self.expecting
        if ex is None or ex.received >= ex.burst_end or self.open.get((ex.rport.port_id, ex.ox_id)) is not ex:
            self.expecting = ex = next(iter(self.open.values()), None)  # the oldest write waiting for data
            if ex is None or ex.received >= ex.burst_end:
                self._landing = None
                return None
        self._landing = (ex, ex.received)
        return ex.buffer[ex.received:min(ex.burst_end, ex.received + FC_MAX_PAYLOAD)]

    def data(self, rport: RemotePort, hdr: FcHeader, payload: memoryview, landed: bool = False) -> None:
        """FCP_DATA from the initiator (FCP-4 9.4): continuously increasing offsets, in-order SEQ_CNT.
        ``landed``: the payload was received where ``landing`` said (copied only if that was not its
        place)."""
        offered, self._landing = self._landing, None
        ex = self.open.get((rport.port_id, hdr.ox_id))
        if ex is None or hdr.rx_id not in (ex.rx_id, 0xFFFF):
            self._count("fcp_data_unknown_exchange")
            return
        offset = hdr.parameter if hdr.f_ctl & F_REL_OFF else ex.received
        # Within a sequence SEQ_CNT counts up by one (FC-FS-4 9.11); a new one may start anywhere.
        in_order = not ex.seq_open or (hdr.seq_id, hdr.seq_cnt) == (ex.seq_id, ex.seq_cnt)
        fill = hdr.f_ctl & 0x3
        length = len(payload) - fill if hdr.f_ctl & F_END_SEQ else len(payload)
        if not in_order or offset != ex.received or offset + length > ex.burst_end:
            self._count("fcp_data_out_of_order")
            del self.open[(rport.port_id, ex.ox_id)]
            self._respond(
                rport,
                ex.ox_id,
                ex.rx_id,
                fcp.rsp(Status.CHECK_CONDITION, build_sense(DATA_PHASE_ERROR), ex.cmnd.dl),
            )
            self.free(ex.slot, len(ex.buffer))
            return
        ex.seq_id, ex.seq_cnt = hdr.seq_id, (hdr.seq_cnt + 1) & 0xFFFF
        ex.seq_open = not hdr.f_ctl & F_END_SEQ
        if not (landed and offered is not None and offered[0] is ex and offered[1] == offset):
            if landed:
                self._count("fcp_data_moved")  # it landed in another write's buffer: copied
            ex.buffer[offset : offset + length] = payload[:length]
        ex.received += length
        if ex.received < ex.burst_end:
            self.expecting = ex
            return
        if ex.received < ex.cmnd.dl:
            self._xfer_rdy(ex)
            return
        del self.open[(rport.port_id, ex.ox_id)]
        self._execute(rport, ex.ox_id, ex.rx_id, ex.cmnd, ex.buffer, ex.slot)

    # -- aborts --------------------------------------------------------------------------------
    def _abort(self, ex: Exchange) -> None:
        self.open.pop((ex.rport.port_id, ex.ox_id), None)
        self.free(ex.slot, len(ex.buffer))
        self._count("exchanges_aborted")

    def abort(self, rport: RemotePort, ox_id: int) -> int | None:
        """ABTS (FC-LS-3 4.2.2): drop the exchange waiting for data, or abort its command in the SCSI
        engine (it then ends unreported); returns the exchange's RX_ID, None when it is not known."""
        key = (rport.port_id, ox_id)
        ex = self.open.get(key)
        if ex is not None:
            self._abort(ex)
            return ex.rx_id
        running = self.running.get(key)
        if running is None or not self.target.abort_task(running[0], rport.nexus, ox_id):
            return None
        return running[1]

    def abort_all(self, rport: RemotePort | None = None, lun: int | None = None) -> list[str]:
        """Abort the open exchanges of ``rport`` (None: every port) on ``lun`` (None: every LUN);
        returns the initiator port names whose tasks went."""
        victims = [
            ex
            for ex in self.open.values()
            if (rport is None or ex.rport is rport) and (lun is None or ex.cmnd.lun == lun)
        ]
        for ex in victims:
            self._abort(ex)
        return [ex.rport.nexus.initiator_port for ex in victims]

    def find(self, s_id: int, ox_id: int) -> Exchange | None:
        return self.open.get((s_id, ox_id))

    def _tmf(self, rport: RemotePort, cmnd: FcpCmnd, respond: Callable[[int], None]) -> None:
        """Task management (FCP-4 9.2.2.3 on SAM-5 7) through the SCSI target: ``respond`` gets the
        FCP_RSP_INFO code once the aborted commands have ended (on the port's thread)."""
        flags, lun, target = cmnd.tmf, cmnd.lun, self.target
        self._count("task_management")

        def done() -> None:
            self.defer(lambda: respond(fcp.RSP_COMPLETE))

        if flags == fcp.TMF_ABORT_TASK_SET:
            self.abort_all(rport, lun)
            result = target.abort_task_set(lun, rport.nexus, done)
        elif flags == fcp.TMF_CLEAR_TASK_SET:
            cleared = self.abort_all(None, lun)
            result = target.clear_task_set(lun, rport.nexus, cleared, done)
        elif flags == fcp.TMF_LU_RESET:
            self.abort_all(None, lun)
            result = target.lu_reset(lun, done)
        elif flags == fcp.TMF_TARGET_RESET:
            self.abort_all()
            result = target.target_reset(done=done)
        else:
            respond(fcp.RSP_TMF_NOT_SUPPORTED)
            return
        if result == TmfResult.INCORRECT_LUN:
            respond(fcp.RSP_INCORRECT_LUN)
