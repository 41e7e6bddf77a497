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
        """RECVs into buffers ``base + i * size`` for each i of ``indices`` (an ``array('I')``), wr_id
        ``tag | i``; returns how many were posted."""
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


class Device:
    """The PD, completion channel (:attr:`fd`, non-blocking) and CQ of the RDMA device of ``cm_id``."""

    def __init__(self, cm_id: int, cqe: int) -> None:
        self.ffi, self.lib = _load()
        self.dev = self.ffi.new("struct hv_device *")
        _check(self.lib.hv_device_open(self.dev, self.ffi.cast("void *", cm_id), cqe), "open the RDMA device")
        self.fd = int(self.dev.fd)
        self._wcs = bytearray(WC.size * 256)

    def register(self, address: int, length: int) -> MemoryRegion:
        lkey = self.ffi.new("uint32_t *")
        mr = self.lib.hv_reg_mr(self.dev, self.ffi.cast("void *", address), length, lkey)
        if mr == self.ffi.NULL:
            raise VerbsError(self.ffi.errno, f"ibv_reg_mr of {length} bytes: {os.strerror(self.ffi.errno)}")
        return MemoryRegion(self.lib, mr, int(lkey[0]))

    def queue_pair(self, max_send_wr: int, max_recv_wr: int) -> QueuePair:
        return QueuePair(self, max_send_wr, max_recv_wr)

    def events(self) -> int:
        """Take the completion channel's pending events (acknowledged in batches); how many there were."""
        return int(self.lib.hv_events(self.dev))

    def arm(self) -> None:
        """Ask for an event on the next completion."""
        _check(self.lib.hv_arm(self.dev), "ibv_req_notify_cq")

    def poll(self, n: int) -> list[tuple[int, int, int, int, int]]:
        """Up to ``n`` (at most 256) completions: (wr_id, status, byte_len, opcode, 0) each."""
        out = self.ffi.from_buffer("struct hv_wc[]", self._wcs)
        got = _check(self.lib.hv_poll(self.dev, out, min(n, len(self._wcs) // WC.size)), "ibv_poll_cq")
        return list(WC.iter_unpack(memoryview(self._wcs)[: got * WC.size]))

    def close(self) -> None:
        if self.dev is not None:
            self.lib.hv_device_close(self.dev)
            self.dev = None
