"""An iSER portal: an RDMA CM listener and one event loop thread for all its connections.

The loop polls the CM event channel, the completion channel and a wake-up pipe (RFC 7145 5 for the
connection setup); completions are polled in batches from one CQ per device (wr_id = connection,
kind, index), the commands they make ready run through the SCSI core in the same thread, and each
connection posts its replies in one chain. The device's PD, CQ and the registered ring are shared
by every connection of the portal.
"""

from __future__ import annotations

import logging
import mmap
import os
import selectors
import threading
import time
from typing import TYPE_CHECKING, Any

from hpt.iscsi.connection import Connection
from hpt.iser.cm import CmPrivateData, reply_private_data
from hpt.iser.endpoint import IserConnection
from hpt.iser.memory import RegisteredBuffers, RegisteredRing
from hpt.iser.verbs import (
    CM_DEVICE,
    IserUnavailable,
    address_of,
    cm_id_addresses,
    cmid_pointer,
    drop_cm_id,
    event_cm_id,
    load,
    with_new_fd,
)
from hpt.native import verbs
from hpt.native.batch import later

if TYPE_CHECKING:
    from hpt.iscsi.context import IscsiContext
    from hpt.native.ring import Ring

log = logging.getLogger("hpt.iser")

CQ_ENTRIES = 4096
READ_DEPTH = 4  # RDMA Reads in flight per connection (initiator depth)
RNR_RETRY_FOREVER = 7
DRAIN_TIMEOUT = 10.0
SERVICE_INTERVAL = 0.5  # seconds between rounds of keepalive and retries when nothing asks sooner
# How long one hv_serve call with a lane entered waits on an empty CQ for more the lanes take, after
# each batch (verbs.c linger), so that a connection with one or two commands in flight does not cost a
# round of this loop per command or answer: its lanes stay entered (one inline task of their LUs) as
# long, and at most 16 batches (verbs.c SERVE_BATCHES).
LINGER_US = 1000


class Device:
    """The verbs objects one portal's connections share: PD, completion channel, CQ (``verbs``, of the
    device the listener is bound to), the registered ring and the large buffers."""

    def __init__(self, cm_id: int, ring: Ring) -> None:
        try:
            self.verbs = verbs.Device(cm_id, CQ_ENTRIES)
        except verbs.VerbsError as err:
            raise IserUnavailable(f"the portal address is not on a usable RDMA device: {err}") from None
        try:
            self.ring_mr = RegisteredRing(self.verbs.register, ring)
        except verbs.VerbsError as err:
            self.verbs.close()
            raise IserUnavailable(f"cannot register the buffer ring: {err}") from None
        self._zero = mmap.mmap(-1, ring.slot_size)  # what a null LU's READs send (the lane's)
        self._zero_view = memoryview(self._zero)
        zero = address_of(self._zero_view)
        self.zero_mr = self.verbs.register(zero, ring.slot_size)
        self.verbs.lane_ring(ring.lane_entry(), zero, self.zero_mr.lkey)
        self.large = RegisteredBuffers(self.verbs.register)

    def close(self) -> None:
        self.large.close()
        self.ring_mr.close()
        self.zero_mr.close()
        self.verbs.close()
        self._zero_view.release()
        self._zero.close()


class IserPortal:
    """Listens on ``host:port`` (a specific address of an RDMA device) and runs its connections."""

    def __init__(self, host: str, port: int, context: IscsiContext, ring: Ring, *,
                 recv_data: int = 262144) -> None:
        v = self.v = load()
        ce = v.cm_enums
        self.context = context
        self.ring = ring
        self.recv_data = recv_data
        self.address = (host, port)
        try:
            self.channel, self.cm_fd = with_new_fd(v.cmid.CMEventChannel, CM_DEVICE)
            self.listener = v.cmid.CMID(creator=self.channel, port_space=ce.RDMA_PS_TCP)
            where = v.cmid.AddrInfo(src=host, src_service=str(port), port_space=ce.RDMA_PS_TCP,
                                    flags=ce.RAI_PASSIVE)
            self.listener.bind_addr(where)
            listener_id = cmid_pointer(self.listener, self.cm_fd)
            if listener_id is None:
                raise IserUnavailable("cannot find the listener's rdma_cm_id in pyverbs' CMID")
            self.device = Device(listener_id, ring)
            self.listener.listen(128)
        except IserUnavailable:
            raise
        except Exception as err:  # pyverbs raises PyverbsRDMAError / PyverbsError with errno text
            raise IserUnavailable(f"no RDMA listener on {host}:{port}: {err}") from None
        self.conns: dict[int, IserConnection] = {}
        self.by_cm_id: dict[int, IserConnection] = {}
        self._drain_since: dict[int, float] = {}
        self._next_id = 1
        self._stopping = False
        self._woken = False  # wake() ran: _service pumps every connection
        self._cq_ready = False  # the CQ holds completions no event will announce (Device.more)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.thread = threading.Thread(target=self._run, name=f"iser portal {host}:{port}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self, _reason: str = "") -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _completed(self) -> None:
        """A SCSI completion on another thread: wake the loop, once per completion batch."""
        if not later(self, self.wake):
            self.wake()

    # ------------------------------------------------------------------------------ the loop
    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.cm_fd, selectors.EVENT_READ, self._cm_events)
        sel.register(self.device.verbs.fd, selectors.EVENT_READ, self._channel)
        self.device.verbs.watch([self.cm_fd, self._wake_r])
        sel.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        next_service = 0.0
        try:
            while not self._stopping:
                busy = any(c.core.starved or c.draining or c.core.hold_until for c in self.conns.values())
                for key, _ in sel.select(0 if self._cq_ready else 0.01 if busy else SERVICE_INTERVAL):
                    key.data()
                if self._cq_ready:  # hv_serve stopped at its budget: the rest of the CQ, after the others
                    self._completions()
                # every connection's timers and retries: when one waits on them, when another thread
                # woke the loop (a SCSI completion to pump), else twice a second; completions pump the
                # connections they touch themselves
                now = time.monotonic()
                if busy or self._woken or now >= next_service:
                    self._woken = False
                    next_service = now + SERVICE_INTERVAL
                    self._service()
            self._shutdown()
        except Exception:
            log.exception("iSER portal %s:%d: internal error", *self.address)
        finally:
            sel.close()

    def _drain_wake(self) -> None:
        self._woken = True
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _service(self) -> None:
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if conn.draining:
                since = self._drain_since.setdefault(conn.id, now)
                if conn.finished or now - since > DRAIN_TIMEOUT:
                    self._destroy(conn)
                continue
            conn.keepalive(now)
            self._guarded(conn, conn.core.retry_starved if conn.core.starved else None)

    def _guarded(self, conn: IserConnection, step: Any = None) -> None:
        """Run ``step`` then ``pump`` for one connection; an internal error closes only that connection."""
        try:
            if step is not None:
                step()
            conn.pump()
        except Exception:
            log.exception("iSER connection %s: internal error, closing", conn.core.peer)
            conn.close("internal error")

    def _destroy(self, conn: IserConnection) -> None:
        self.conns.pop(conn.id, None)
        self._drain_since.pop(conn.id, None)
        for key, c in list(self.by_cm_id.items()):
            if c is conn:
                del self.by_cm_id[key]
        conn.destroy()
        log.info("iSER connection %s gone", conn.core.peer)

    # ------------------------------------------------------------------------------ completions
    def _channel(self) -> None:
        self._completions(ready=True)

    def _completions(self, ready: bool = False) -> None:
        """Serve the CQ (``ready``: its channel was seen readable) until it is empty and armed, or a
        call stopped at its budget (``_cq_ready``); the rows the lanes did not take go to their
        connections, which are pumped after."""
        dev = self.device.verbs
        touched: dict[int, IserConnection] = {}
        conns = self.conns
        while True:
            # every connection's lane: the completions of its answers are the lane's, on or off
            lanes = [conn.lane for conn in conns.values()]
            for conn in conns.values():
                conn.lane_enter()
            try:
                wcs = dev.serve(lanes, ready, LINGER_US)
                ready = False
            finally:
                now = time.monotonic()
                for conn in list(conns.values()):
                    conn.lane_leave(now)
            if not wcs:
                self._cq_ready = dev.more
                break  # the CQ is empty and armed, or the call's budget is spent
            for wid, status, byte_len, _opcode, _ in wcs:
                conn = conns.get(wid >> 32)
                if conn is None:
                    continue
                ok = status == verbs.WC_SUCCESS
                conn.last_heard = now
                try:
                    conn.completion((wid >> 28) & 0xF, wid & 0xFFFFFFF, ok, byte_len,
                                    "" if ok else verbs.status_str(status))
                except Exception:
                    log.exception("iSER connection %s: internal error, closing", conn.core.peer)
                    conn.close("internal error")
                touched[conn.id] = conn
        for conn in touched.values():
            if not conn.draining:
                self._guarded(conn)

    # ------------------------------------------------------------------------------ connection manager
    def _cm_events(self) -> None:
        cmid = self.v.cmid
        ce = self.v.cm_enums
        while True:
            try:
                ev = cmid.CMEvent(self.channel)
            except Exception:  # noqa: BLE001 - EAGAIN: no more events
                return
            kind = ev.event_type
            cm_id = event_cm_id(ev)
            try:
                if kind == ce.RDMA_CM_EVENT_CONNECT_REQUEST:
                    self._connect_request(ev, cm_id)
                elif kind == ce.RDMA_CM_EVENT_ESTABLISHED:
                    conn = self.by_cm_id.get(cm_id or 0)
                    if conn is not None:
                        conn.established = True
                        log.info("iSER connection %s established", conn.core.peer)
                elif kind == ce.RDMA_CM_EVENT_DEVICE_REMOVAL:
                    log.error("iSER portal %s:%d: RDMA device removed", *self.address)
                    for conn in list(self.conns.values()):
                        conn.close("RDMA device removed")
                elif kind in (ce.RDMA_CM_EVENT_DISCONNECTED, ce.RDMA_CM_EVENT_REJECTED,
                              ce.RDMA_CM_EVENT_CONNECT_ERROR, ce.RDMA_CM_EVENT_UNREACHABLE,
                              ce.RDMA_CM_EVENT_TIMEWAIT_EXIT):
                    conn = self.by_cm_id.get(cm_id or 0)
                    if conn is not None:
                        conn.close(f"peer: {ev.event_str()}")
                    elif cm_id is None:
                        log.warning("iSER: %s for an unknown connection", ev.event_str())
            except Exception:
                log.exception("iSER portal %s:%d: %s", *self.address, ev.event_str())
            finally:
                ev.ack_cm_event()

    def _connect_request(self, ev: Any, cm_id: int | None) -> None:
        v = self.v
        child = v.cmid.CMID(creator=ev, listen_id=self.listener)
        request = CmPrivateData.decode(ev.private_data)
        local, peer = cm_id_addresses(cm_id) if cm_id else ("unknown", "unknown")
        if self._stopping or not cm_id:
            if not cm_id:
                log.warning("iSER connect request refused: its rdma_cm_id is not where pyverbs keeps it")
            self._refuse(child, cm_id)
            return
        conn_id = self._next_id
        self._next_id += 1
        core = Connection(self.context, self.ring, peer=peer, local=local, transport="iser",
                          shutdown=self.wake, large=self.device.large)
        core.notify = self._completed  # a SCSI completion on another thread: the loop pumps it
        try:
            conn = IserConnection(conn_id, self.device, child, cm_id, core, self.recv_data, READ_DEPTH)
        except Exception as err:
            log.warning("iSER connect request from %s refused: %s", peer, err)
            self._refuse(child, cm_id)
            return
        try:
            conn.to_rts(READ_DEPTH)
            conn.start()
            param = v.cmid.ConnParam(resources=READ_DEPTH, depth=READ_DEPTH, rnr_retry=RNR_RETRY_FOREVER,
                                     qp_num=conn.qp.qp_num, data_len=4)
            param.set_private_data(reply_private_data(request))
            child.accept(param)
        except Exception as err:
            log.warning("iSER connect request from %s failed: %s", peer, err)
            conn.draining = True
            conn.destroy()
            return
        conn.last_heard = time.monotonic()
        self.conns[conn_id] = conn
        if cm_id:
            self.by_cm_id[cm_id] = conn
        log.info("iSER connect request from %s accepted (%s)", peer,
                 "no iSER private data" if request is None else request)

    @staticmethod
    def _refuse(child: Any, cm_id: int | None) -> None:
        try:
            child.reject()
        except Exception as err:  # noqa: BLE001
            log.debug("reject: %s", err)
        drop_cm_id(child, cm_id)

    # ------------------------------------------------------------------------------ stop
    def cores(self) -> list[Connection]:
        """The iSCSI connections open through this portal now (read from another thread: a copy)."""
        return [conn.core for conn in list(self.conns.values())]

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, wait for their flushes, release the device."""
        self._stopping = True
        self.wake()
        self.thread.join(timeout)

    def _shutdown(self) -> None:
        for conn in list(self.conns.values()):
            conn.core.close("target shutting down")
            conn.pump()
            conn.close("target shutting down")
        deadline = time.monotonic() + 2.0
        while self.conns and time.monotonic() < deadline:
            self._completions()
            for conn in list(self.conns.values()):
                if conn.finished:
                    self._destroy(conn)
            time.sleep(0.01)
        for conn in list(self.conns.values()):
            self._destroy(conn)
        try:
            self.device.close()
            self.listener.close()
            self.channel.close()
        except Exception as err:  # noqa: BLE001
            log.debug("iSER portal close: %s", err)
        os.close(self._wake_r)
        os.close(self._wake_w)
