"""One iSER connection: an RC queue pair, its message buffers, and the sans-I/O iSCSI core between them.

Receives: every RECV holds one iSER header + PDU (RFC 7145 7.3); it goes to ``Connection.receive_pdu``
with the header's STags and the buffer is re-posted with the rest of its completion batch.
Sends: the core's requests become work requests posted in one chain per flush: a SEND per PDU, an RDMA
Write chained with the SEND of its SCSI Response (RFC 7145 7.3.5), an RDMA Read for solicited write data
(7.3.6). What finds no free send buffer, send-queue slot or Read credit waits in order for completions.
Teardown moves the QP to the error state and waits for every outstanding work request to flush.
Work requests are packed into one buffer per connection and posted with one call (``hpt.native.verbs``).
"""

from __future__ import annotations

import logging
import os
import time
from array import array
from collections import deque
from typing import TYPE_CHECKING, Any

from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import BHS_LEN
from hpt.iscsi.rdma import RdmaRead, RdmaWrite, Request, SendPdu
from hpt.iscsi.task import Task
from hpt.iser.header import (
    CONTROL_HEADER,
    ISER_HDR_LEN,
    Hello,
    IserFormatError,
    IserHeader,
    IserOpcode,
    answer_hello,
)
from hpt.iser.memory import MessageBuffers
from hpt.iser.verbs import drop_cm_id
from hpt.native.verbs import MAX_RECVS, NO_SLOT, RDMA_READ, RDMA_WRITE, WR, ZERO_WRITE
from hpt.native.verbs import SEND as WR_SEND

if TYPE_CHECKING:
    from hpt.iser.portal import Device

log = logging.getLogger("hpt.iser")

RECV, SEND, SEND_RELEASE, WRITE, READ = 1, 2, 3, 4, 5  # work request kinds (bits 28-31 of wr_id)
LANE_SEND, LANE_WRITE, LANE_READ = 6, 7, 8  # the fast lane's (verbs.c): they reach the driver only failed
HEADERS = ISER_HDR_LEN + BHS_LEN
AHS_ROOM = 256
SEND_DATA = 8192 + 256  # largest data segment the target sends (text pieces, sense, NOP-In echo)
SEND_BUFFERS = 256
RECV_BUFFERS = MAX_RECVS  # all of them posted in one call
NOP_INTERVAL = 15.0  # idle seconds before a NOP-In ping (as the TCP driver)
NOP_COUNT = 3  # unanswered pings before the connection is given up


def wr_id(conn_id: int, kind: int, idx: int) -> int:
    return conn_id << 32 | kind << 28 | idx


class IserConnection:
    """The driver side of one iSER connection (created on the CM connect request)."""

    def __init__(self, conn_id: int, device: Device, cmid: Any, cm_id: int | None, core: Connection,
                 recv_data: int, read_depth: int) -> None:
        self.id = conn_id
        self.device = device
        self.cmid = cmid
        self.cm_id = cm_id
        self.core = core
        self.read_depth = read_depth
        register = device.verbs.register
        self.recv = MessageBuffers(register, RECV_BUFFERS, HEADERS + AHS_ROOM + recv_data)
        self.recv_data = recv_data
        self.send = MessageBuffers(register, SEND_BUFFERS, HEADERS + AHS_ROOM + SEND_DATA)
        self._room = array("I", [2 * SEND_BUFFERS + read_depth])  # free send-queue entries
        self.qp = device.verbs.queue_pair(self.sq_room, RECV_BUFFERS)
        # the fast lane in C (hv_serve) answers READs and WRITEs itself, sharing the send buffers' stack,
        # the send-queue count and, per send buffer, the ring slot its answer holds
        self.send_slot = array("I", [NO_SLOT] * SEND_BUFFERS)
        self.lane = device.verbs.lane(self.qp, conn_id, self.recv.location, self.send.location,
                                      self.send.stack, self.send.top, self._room, self.send_slot,
                                      device.ring_mr.lkey)
        self._lane_on = False
        self._wrs = bytearray(WR.size * self.sq_room)  # the work requests of one post, packed
        self.reads_out = 0
        self._send_task: dict[int, RdmaWrite] = {}  # send buffer -> RDMA Write released when its SEND ends
        self._reads: dict[int, Task] = {}
        self._read_token = 0
        self._inflight: set[int] = set()  # wr_ids that will still complete (or flush)
        self._recv_posted = 0
        self._repost: list[int] = []
        self._backlog: deque[Request] = deque()
        self.established = False
        self.draining = False
        self.gone = False
        self.last_heard = 0.0  # monotonic time of the last message received (set by the portal)
        self._missed = 0
        self.login_deadline = time.monotonic() + core.context.limits.login_timeout

    @property
    def sq_room(self) -> int:
        return self._room[0]

    @sq_room.setter
    def sq_room(self, n: int) -> None:
        self._room[0] = n

    # ------------------------------------------------------------------------------ setup
    def to_rts(self, depth: int) -> None:
        """INIT, RTR, RTS with the attributes the CM computed (an external QP: rdma_init_qp_attr)."""
        self.qp.connect(self.cm_id or 0, depth)

    def post_receives(self, indices: list[int]) -> None:
        """Post RECVs for these buffers in one chained call."""
        if not indices or self.draining:
            return
        tag = wr_id(self.id, RECV, 0)
        posted = self.qp.post_recv(self.recv.base, self.recv.size, self.recv.lkey, tag, array("I", indices))
        for idx in indices[:posted]:
            self._inflight.add(tag | idx)
        self._recv_posted += posted
        if posted < len(indices):
            self.close(f"receive queue refused {len(indices) - posted} of {len(indices)} receives")

    def start(self) -> None:
        self.post_receives(list(range(RECV_BUFFERS)))

    # ------------------------------------------------------------------------------ completions
    def completion(self, kind: int, idx: int, ok: bool, byte_len: int, status: str) -> None:
        wid = wr_id(self.id, kind, idx)
        self._inflight.discard(wid)
        if kind == RECV:
            self._recv_posted -= 1
            if ok and not self.draining:
                self._received(idx, byte_len)
                self._repost.append(idx)
        elif kind in (SEND, SEND_RELEASE):
            self.sq_room += 2 if kind == SEND_RELEASE else 1
            self._inflight.discard(wr_id(self.id, WRITE, idx))
            write = self._send_task.pop(idx, None)
            if write is not None:
                self.core.release(write)
            self.send.give(idx)
        elif kind == READ:
            self.sq_room += 1
            self.reads_out -= 1
            task = self._reads.pop(idx, None)
            if task is not None:
                self.core.rdma_read_done(task, ok and not self.draining)
        if not ok and not self.draining:
            self.close(f"work request failed: {status}")

    def _received(self, idx: int, n: int) -> None:
        msg = self.recv.view(idx)[:n]
        try:
            hdr = IserHeader.decode(msg)
        except IserFormatError as err:
            self.close(f"bad iSER message: {err}")
            return
        if hdr.opcode == IserOpcode.HELLO:
            self._hello(msg)
            return
        if hdr.opcode != IserOpcode.CONTROL or n < HEADERS:
            self.close(f"unexpected iSER message (opcode {hdr.opcode}, {n} bytes)")
            return
        bhs_end = HEADERS + msg[ISER_HDR_LEN + 4] * 4
        dsl = int.from_bytes(msg[ISER_HDR_LEN + 5 : ISER_HDR_LEN + 8], "big")
        self.core.receive_pdu(msg[ISER_HDR_LEN:bhs_end], msg[bhs_end : bhs_end + dsl], remote=hdr)
        if self.core.full_feature and self.core.max_recv_dsl > self.recv_data:
            self.core.close(f"TargetRecvDataSegmentLength {self.core.max_recv_dsl} > receive buffers")
        self.core.max_xmit_dsl = min(self.core.max_xmit_dsl, SEND_DATA - AHS_ROOM)

    # ------------------------------------------------------------------------------ the fast lane
    def lane_enter(self) -> None:
        """Before the portal's hv_serve: let the lane take this connection's commands if the core says
        they may (``Connection.lane_enter``) and nothing of the driver's waits to be posted."""
        core = self.core
        view = None
        if not self.draining and not self._backlog and not self._repost:
            view = core.lane_enter(self.device.ring_mr.ring.slot_size, min(core.max_recv_dsl, self.recv_data),
                                   True)
        if view is None:
            self.lane.off()
        else:
            self.lane.view(*view)
        self._lane_on = view is not None

    def lane_leave(self, now: float) -> None:
        """After hv_serve: the core follows what the lane answered; a failed post closes the connection."""
        if not self._lane_on:
            return
        self._lane_on = False
        n = self.lane.answered()
        self.core.lane_leave(n)
        if n:
            self.last_heard = now
        if self.lane.error:
            for idx in self.lane.lost():  # not posted: the drain must not wait for them
                self._inflight.discard(wr_id(self.id, RECV, idx))
                self._recv_posted -= 1
            self.close(f"the fast lane's work requests failed: {os.strerror(self.lane.error)}")

    def keepalive(self, now: float) -> None:
        """Close a connection still logging in after its login timeout (hpt.iscsi.limits); ping an idle
        full-feature connection and give it up after NOP_COUNT unanswered pings."""
        if self.draining:
            return
        if not self.core.full_feature:
            if now >= self.login_deadline:
                self.close(f"login not finished within {self.core.context.limits.login_timeout:g} s")
            return
        if now - self.last_heard < NOP_INTERVAL:
            return
        self.last_heard = now
        if self.core.ping():
            self._missed = 0
        else:
            self._missed += 1
            if self._missed >= NOP_COUNT:
                self.close("NOP-In ping not answered")

    def _hello(self, msg: memoryview) -> None:
        """iWARP's iSER Hello (RFC 7145 5.1.3): answer with HelloReply; a reject ends the connection."""
        try:
            reply = answer_hello(Hello.decode(msg), self.read_depth)
        except IserFormatError as err:
            self.close(f"bad iSER Hello: {err}")
            return
        self._backlog.append(SendPdu(bytearray(reply.encode()), None))  # encoded header, no PDU
        if reply.reject:
            self.core.close("iSER Hello: no common version")

    # ------------------------------------------------------------------------------ output
    def pump(self) -> None:
        """Run ready commands, post what the core asks for, re-post receive buffers; close when done."""
        core = self.core
        if self.draining or (core.hold_until and core.hold_until > time.monotonic()):
            return  # a failed CHAP login's answer waits (hpt.iscsi.limits.AuthPenalty); _service retries
        if core.ready:
            core.execute_ready()
        if core.completions:
            core.drain_completions()
        if self._repost:
            self.post_receives(self._repost)
            self._repost = []
        if core.pending_output:
            self._backlog.extend(core.requests())
        if self._backlog:
            self._post_backlog()
        core.output_sent()
        if core.closing and not self._backlog and len(self._inflight) == self._recv_posted:
            self.close(core.close_reason or "closed")  # the last SEND (a Logout Response) has completed

    def _post_backlog(self) -> None:
        wrs = self._wrs
        pack = WR.pack_into
        ids: list[int] = []
        while self._backlog:
            req = self._backlog[0]
            if isinstance(req, RdmaRead):
                if self.reads_out >= self.read_depth or self.sq_room < 1:
                    break
                self._backlog.popleft()
                self._read_token = token = (self._read_token + 1) & 0xFFFFFFF
                self._reads[token] = req.task
                addr, lkey = self._data_sge(req.task, req.offset)
                wid = wr_id(self.id, READ, token)
                pack(wrs, len(ids) * WR.size, wid, addr, req.va, req.length, lkey, req.stag, RDMA_READ, 1, 0)
                ids.append(wid)
                self.reads_out += 1
                self.sq_room -= 1
                continue
            pdu = req.response if isinstance(req, RdmaWrite) else req
            need = 2 if isinstance(req, RdmaWrite) else 1
            if self.sq_room < need or not self.send.available:
                break
            idx = self._fill(pdu)
            if idx < 0:
                self._backlog.popleft()
                continue
            self._backlog.popleft()
            if isinstance(req, RdmaWrite):
                if req.task is None:
                    addr, lkey = self.device.ring_mr.slot_addr[req.slot], self.device.ring_mr.lkey
                else:
                    addr, lkey = self._data_sge(req.task, 0)
                wid = wr_id(self.id, WRITE, idx)  # unsignaled: the SEND chained after it completes for both
                pack(wrs, len(ids) * WR.size, wid, addr, req.va, req.length, lkey, req.stag, RDMA_WRITE, 0, 0)
                ids.append(wid)
                self._send_task[idx] = req
            wid = wr_id(self.id, SEND_RELEASE if isinstance(req, RdmaWrite) else SEND, idx)
            pack(wrs, len(ids) * WR.size, wid, self.send.addr(idx), 0, self._filled, self.send.lkey, 0,
                 WR_SEND, 1, 0)
            ids.append(wid)
            self.sq_room -= need
        if not ids:
            return
        posted = self.qp.post_send(wrs, len(ids))
        self._inflight.update(ids[:posted])
        if posted < len(ids):
            self.close(f"send queue refused {len(ids) - posted} of {len(ids)} work requests")

    def _data_sge(self, task: Task, offset: int) -> tuple[int, int]:
        """The address of ``task.buf[offset]`` and its lkey: in its ring slot or in its large buffer."""
        device = self.device
        if task.slot >= 0:
            ring = device.ring_mr
            return ring.slot_addr[task.slot] + offset, ring.lkey
        large = device.large
        return large.addr(task.large) + offset, large.lkey(task.large)

    _filled = 0

    def _fill(self, pdu: SendPdu) -> int:
        """Copy the iSER header, the PDU header and its data into a send buffer; -1 if it cannot fit."""
        data = pdu.data if pdu.data is not None else b""
        hdr = pdu.header
        bare = len(hdr) == ISER_HDR_LEN and not data  # a Hello Reply: already an iSER header
        n = len(hdr) + len(data) + (0 if bare else ISER_HDR_LEN)
        if n > self.send.size:
            log.warning("connection %s: PDU of %d bytes exceeds the send buffers; dropped", self.core.peer, n)
            self.core.close("PDU larger than the send buffers")
            return -1
        idx = self.send.take()
        buf = self.send.view(idx)
        off = 0
        if not bare:
            buf[:ISER_HDR_LEN] = CONTROL_HEADER
            off = ISER_HDR_LEN
        buf[off : off + len(hdr)] = hdr
        off += len(hdr)
        buf[off : off + len(data)] = data
        self._filled = off + len(data)
        return idx

    # ------------------------------------------------------------------------------ teardown
    def close(self, reason: str) -> None:
        """Disconnect and flush: the QP goes to the error state; ``finished`` once nothing is outstanding."""
        if self.draining:
            return
        self.draining = True
        log.info("iSER connection %s closing: %s", self.core.peer, reason)
        self.core.close(reason)
        try:
            self.cmid.disconnect()
        except Exception as err:  # noqa: BLE001 - already disconnected by the peer
            log.debug("disconnect %s: %s", self.core.peer, err)
        try:
            self.qp.to_error()
        except OSError as err:
            log.warning("connection %s: QP to error state: %s", self.core.peer, err)
            self._inflight.clear()

    @property
    def finished(self) -> bool:
        return self.draining and not self._inflight and not self.lane.outstanding

    def destroy(self) -> None:
        """Everything has flushed: hand the tasks back to the core and free the verbs objects."""
        if self.gone:
            return
        self.gone = True
        for write in self._send_task.values():
            self.core.release(write)
        self._send_task.clear()
        for idx, slot in enumerate(self.send_slot):  # lane answers that never completed (drain timeout)
            if slot != NO_SLOT:
                if slot != ZERO_WRITE:
                    self.core.ring.free(slot)
                self.send_slot[idx] = NO_SLOT
        self._reads.clear()
        self.core.connection_lost()
        self.core.drain_completions()  # what ended meanwhile gives its buffers back
        orphans = self.lane.orphans()
        try:
            self.qp.close()
        except Exception as err:  # noqa: BLE001
            log.warning("connection %s: destroying the QP: %s (%d ring slots of its RDMA Reads stay held)",
                        self.core.peer, err, len(orphans))
            orphans = []
        for slot in orphans:  # RDMA Reads the lane gave up on: with the QP gone, none can land
            self.core.ring.free(slot)
        for obj in (self.lane, self.recv, self.send):
            try:
                obj.close()
            except Exception as err:  # noqa: BLE001
                log.debug("close %r: %s", obj, err)
        drop_cm_id(self.cmid, self.cm_id)
