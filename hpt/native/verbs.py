"""The iSER driver's verbs objects and data path (``verbs.c`` over libibverbs, through cffi).

A :class:`Device` is the PD, completion channel and CQ of one RDMA device, found from an
``rdma_cm_id`` bound to one of its addresses; :class:`QueuePair` and :class:`MemoryRegion` belong to it.
Work requests are packed into a flat buffer (:data:`WR`, one row per request) and posted in one call;
completions come back the same way (:data:`WC`). Nothing here makes an object per work request or per
completion: pyverbs made several, and each called ``logging.getLogger`` (5% of the iSER driver's time in
the lab's profile).
"""

from __future__ import annotations

import os
import struct
from typing import Any

SEND, RDMA_WRITE, RDMA_READ = 0, 1, 2  # hv_wr.op (verbs.h)
WR = struct.Struct("<QQQIIIIII")  # struct hv_wr: wr_id, addr, remote_addr, length, lkey, rkey, op, signaled
WC = struct.Struct("<QIIII")  # struct hv_wc: wr_id, status, byte_len, opcode, pad
WC_SUCCESS = 0
SERVE_ROOM = 512  # rows Device.serve returns at most (verbs.c WC_ROOM)
MAX_RECVS = 64  # RECVs one QueuePair.post_recv posts at most (verbs.c CHUNK)


class VerbsError(OSError):
    """A verbs call failed (errno and the call's name), or the module is not built."""


def _load() -> tuple[Any, Any]:
    try:
        from hpt.native._verbs import ffi, lib
    except ImportError as err:
        raise VerbsError(f"hpt.native._verbs is not built ({err}); install libibverbs-dev and librdmacm-dev "
                         "and reinstall hpt") from None
    return ffi, lib


def _check(rc: int, what: str) -> int:
    if rc < 0:
        raise VerbsError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc


def status_str(status: int) -> str:
    """libibverbs' name of a work completion status."""
    ffi, lib = _load()
    return str(ffi.string(lib.hv_status_str(status)).decode())


class MemoryRegion:
    """Registered memory (local write: the target starts every RDMA transfer)."""

    def __init__(self, lib: Any, mr: Any, lkey: int) -> None:
        self._lib, self._mr, self.lkey = lib, mr, lkey

    def close(self) -> None:
        if self._mr is not None:
            self._lib.hv_dereg_mr(self._mr)
            self._mr = None


class QueuePair:
    """An RC queue pair on its device's CQ, with one scatter entry per work request."""

    def __init__(self, device: Device, max_send_wr: int, max_recv_wr: int) -> None:
        self._ffi, self._lib = device.ffi, device.lib
        num = self._ffi.new("uint32_t *")
        self._qp = self._lib.hv_qp_create(device.dev, max_send_wr, max_recv_wr, num)
        if self._qp == self._ffi.NULL:
            raise VerbsError(self._ffi.errno, f"ibv_create_qp: {os.strerror(self._ffi.errno)}")
        self.qp_num = int(num[0])

    def connect(self, cm_id: int, read_depth: int) -> None:
        """INIT, RTR and RTS with the attributes the CM computed for ``cm_id`` (an ``rdma_cm_id *``)."""
        _check(self._lib.hv_qp_connect(self._ffi.cast("void *", cm_id), self._qp, read_depth), "modify QP")

    def post_recv(self, base: int, size: int, lkey: int, tag: int, indices: Any) -> int:
        """RECVs into buffers ``base + i * size`` for each i of ``indices`` (an ``array('I')``, at most
        :data:`MAX_RECVS`), wr_id ``tag | i``; returns how many were posted."""
        buf = self._ffi.from_buffer("uint32_t[]", indices)
        return int(self._lib.hv_post_recv(self._qp, base, size, lkey, tag, buf, len(indices)))

    def post_send(self, wrs: bytearray, n: int) -> int:
        """The ``n`` work requests packed (:data:`WR`) at the start of ``wrs``, in one chain; returns how
        many were posted."""
        return int(self._lib.hv_post_send(self._qp, self._ffi.from_buffer("struct hv_wr[]", wrs), n))

    def to_error(self) -> None:
        """Move to the error state: every outstanding work request completes, flushed."""
        _check(self._lib.hv_qp_error(self._qp), "modify QP to error")

    def close(self) -> None:
        if self._qp is not None:
            self._lib.hv_qp_destroy(self._qp)
            self._qp = None


class Lane:
    """The fast lane's view of one connection (``struct hv_lane``, run by :meth:`Device.serve`).

    ``free_send`` (the stack of free send buffers) with its height ``nfree[0]``, ``sq_room[0]`` and
    ``send_slot`` (per send buffer, the ring slot a lane answer holds, or :data:`NO_SLOT`) are the
    driver's own arrays, which the lane changes in place.
    """

    def __init__(self, qp: QueuePair, conn_id: int, recv: tuple[int, int, int], send: tuple[int, int, int],
                 free_send: Any, nfree: Any, sq_room: Any, send_slot: Any, ring_lkey: int) -> None:
        ffi, lib = self._ffi, self._lib = qp._ffi, qp._lib
        self.c = c = ffi.new("struct hv_lane *")
        self._viewed = (0, 0, 0)  # the view's addresses the C lane holds
        self._keep = [ffi.from_buffer("uint32_t[]", a) for a in (free_send, nfree, sq_room, send_slot)]
        c.qp, c.id = qp._qp, conn_id
        c.recv_base, c.recv_size, c.recv_lkey = recv
        c.send_base, c.send_size, c.send_lkey = send
        c.free_send, c.nfree, c.sq_room, c.send_slot = self._keep
        c.ring_lkey = ring_lkey
        _check(lib.hv_lane_init(c), "lane")

    def view(self, conn: int, lus: int, nlus: int) -> None:
        """Take commands in the next :meth:`Device.serve` with this ``quick_conn`` and ``quick_lu``
        table (addresses: ``hpt.iscsi.quick.QuickLane.pointers``)."""
        c = self.c
        if (conn, lus, nlus) != self._viewed:  # (they change only when the LU map does)
            self._viewed = (conn, lus, nlus)
            c.conn, c.lus, c.nlus = self._ffi.cast("void *", conn), self._ffi.cast("void *", lus), nlus
        c.on = 1

    def off(self) -> None:
        self.c.on = 0

    def answered(self) -> int:
        """Commands the lane answered since the last call."""
        n = int(self.c.answered)
        self.c.answered = 0
        return n

    @property
    def error(self) -> int:
        return int(self.c.error)

    def lost(self) -> list[int]:
        """The receive buffers whose RECV the lane failed to post again (with :attr:`error`): they
        will not complete."""
        return [int(i) for i in self.c.lost[0 : self.c.nlost]]

    def orphans(self) -> list[int]:
        """The ring slots of the lane WRITEs' RDMA Reads whose wait gave up and that have not completed:
        the driver frees them once the QP is destroyed (no Read can land after that)."""
        return [int(i) for i in self.c.orphan[0 : self.c.norphan]]

    @property
    def outstanding(self) -> int:
        """The lane's SENDs not completed yet (each holds its send buffer and perhaps a ring slot)."""
        return int(self.c.outstanding)

    def close(self) -> None:
        self._lib.hv_lane_fini(self.c)


NO_SLOT = 0xFFFFFFFF
ZERO_WRITE = 0xFFFFFFFE  # Lane's send_slot: the answer's RDMA Write is of the device's zero buffer


class Device:
    """The PD, completion channel (:attr:`fd`, non-blocking) and CQ of the RDMA device of ``cm_id``."""

    def __init__(self, cm_id: int, cqe: int) -> None:
        self.ffi, self.lib = _load()
        self.dev = self.ffi.new("struct hv_device *")
        _check(self.lib.hv_device_open(self.dev, self.ffi.cast("void *", cm_id), cqe), "open the RDMA device")
        self.fd = int(self.dev.fd)
        self._wcs = bytearray(WC.size * SERVE_ROOM)
        self._out = self.ffi.from_buffer("struct hv_wc[]", self._wcs)
        self._ring: Any = None
        self._lanes: list[Lane] = []  # the lanes of the last serve, and their pointer array
        self._lane_ptrs = self.ffi.new("struct hv_lane *[]", 0)
        self._watch = self.ffi.new("int32_t[]", 0)
        self._nwatch = 0

    def register(self, address: int, length: int) -> MemoryRegion:
        lkey = self.ffi.new("uint32_t *")
        mr = self.lib.hv_reg_mr(self.dev, self.ffi.cast("void *", address), length, lkey)
        if mr == self.ffi.NULL:
            raise VerbsError(self.ffi.errno, f"ibv_reg_mr of {length} bytes: {os.strerror(self.ffi.errno)}")
        return MemoryRegion(self.lib, mr, int(lkey[0]))

    def queue_pair(self, max_send_wr: int, max_recv_wr: int) -> QueuePair:
        return QueuePair(self, max_send_wr, max_recv_wr)

    def lane(self, qp: QueuePair, conn_id: int, recv: tuple[int, int, int], send: tuple[int, int, int],
             free_send: Any, nfree: Any, sq_room: Any, send_slot: Any, ring_lkey: int) -> Lane:
        """The fast lane of the connection on ``qp`` (see :class:`Lane`)."""
        return Lane(qp, conn_id, recv, send, free_send, nfree, sq_room, send_slot, ring_lkey)

    def lane_ring(self, entry: tuple[int, int, int, int, int, int], zero: int, zero_lkey: int) -> None:
        """The ring the lanes answer from (``hpt.native.ring.Ring.lane_entry``: the addresses of its
        mapping and of slot 0, the slot size, and of ``quick_burst``, ``ring_free`` and ``ring_alloc``),
        and a registered buffer of zeroes at least a slot long (what READs of a null LU send)."""
        base, data, slot_size, burst, free, alloc = entry
        r = self._ring = self.ffi.new("struct hv_ring *")
        r.base = self.ffi.cast("void *", base)
        r.data, r.slot_size = data, slot_size
        r.burst, r.free, r.alloc = (self.ffi.cast("void *", f) for f in (burst, free, alloc))
        r.zero, r.zero_lkey = zero, zero_lkey

    def watch(self, fds: list[int]) -> None:
        """The driver's other descriptors (at most ``HV_WATCH_MAX``): a :meth:`serve` that lingers
        returns as soon as one of them is readable."""
        if len(fds) > self.lib.HV_WATCH_MAX:
            raise ValueError(f"{len(fds)} descriptors to watch: hv_serve takes {self.lib.HV_WATCH_MAX}")
        self._watch = self.ffi.new("int32_t[]", fds)
        self._nwatch = len(fds)

    def serve(self, lanes: list[Lane], ready: bool = False,
              linger_us: int = 0) -> list[tuple[int, int, int, int, int]]:
        """Take the channel's event (``ready``: the driver saw the channel readable) and poll
        completions, the lanes answering what they take (``verbs.c``: hv_serve; a lane WRITE waits
        there for its RDMA Read, keeping what else completes meanwhile), until one goes to the driver;
        returns those of the last batch, in order, as (wr_id, status, byte_len, opcode, 0) each. With
        none the CQ is empty and armed, unless the call stopped at its budget (:attr:`more`). While a
        lane is entered, an empty CQ is waited on for up to ``linger_us`` after each batch, unless a
        descriptor of :meth:`watch` is readable first."""
        if lanes != self._lanes:  # the portal's connections changed: a new pointer array
            self._lanes = list(lanes)
            self._lane_ptrs = self.ffi.new("struct hv_lane *[]", [lane.c for lane in lanes])
        rows = _check(self.lib.hv_serve(self.dev, self._lane_ptrs, len(lanes), self._ring, self._out,
                                        SERVE_ROOM, ready, self._watch, self._nwatch, linger_us),
                      "ibv_poll_cq")
        return list(WC.iter_unpack(memoryview(self._wcs)[: rows * WC.size]))

    @property
    def more(self) -> bool:
        """The last :meth:`serve` returned nothing at its budget, the CQ not seen empty and not armed:
        serve again soon (no event will come for what is there)."""
        return bool(self.dev.more)

    def close(self) -> None:
        if self.dev is not None:
            self.lib.hv_device_close(self.dev)
            self.dev = None
