"""librados objects through cffi in ABI mode: one small object that several clients (the gateways
serving one LU) read with its version, replace by compare-and-swap and watch for each other's
notifications (``rados_write_op_assert_version``, ``rados_watch2``, ``rados_notify2``).

The client (``rados_t``) is :class:`hpt.native.rbd.Cluster`'s: no second connection. Only the
prototypes of librados.h (Ceph 16.2) used here are declared.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from typing import Any

from cffi import FFI

from hpt.native import rbd

log = logging.getLogger("hpt.native")

_CDEF = """
typedef void *rados_t;
typedef void *rados_ioctx_t;
typedef void *rados_write_op_t;
typedef void (*rados_watchcb2_t)(void *arg, uint64_t notify_id, uint64_t handle, uint64_t notifier_id,
                                 void *data, size_t data_len);
typedef void (*rados_watcherrcb_t)(void *pre, uint64_t cookie, int err);

int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx);
void rados_ioctx_destroy(rados_ioctx_t io);
int rados_read(rados_ioctx_t io, const char *oid, char *buf, size_t len, uint64_t off);
uint64_t rados_get_last_version(rados_ioctx_t io);
rados_write_op_t rados_create_write_op(void);
void rados_release_write_op(rados_write_op_t write_op);
void rados_write_op_create(rados_write_op_t write_op, int exclusive, const char *category);
void rados_write_op_assert_version(rados_write_op_t write_op, uint64_t ver);
void rados_write_op_write_full(rados_write_op_t write_op, const char *buffer, size_t len);
int rados_write_op_operate(rados_write_op_t write_op, rados_ioctx_t io, const char *oid, void *mtime,
                           int flags);
int rados_watch2(rados_ioctx_t io, const char *o, uint64_t *cookie, rados_watchcb2_t watchcb,
                 rados_watcherrcb_t watcherrcb, void *arg);
int rados_unwatch2(rados_ioctx_t io, uint64_t cookie);
int rados_notify_ack(rados_ioctx_t io, const char *o, uint64_t notify_id, uint64_t cookie, const char *buf,
                     int buf_len);
int rados_notify2(rados_ioctx_t io, const char *o, const char *buf, int buf_len, uint64_t timeout_ms,
                  char **reply_buffer, size_t *reply_buffer_len);
void rados_buffer_free(char *buf);
"""

ffi = FFI()
ffi.cdef(_CDEF)
CREATE_EXCLUSIVE, CREATE_IDEMPOTENT = 1, 0  # librados.h LIBRADOS_CREATE_*
#: a compare-and-swap lost: the object changed (assert_version: -ERANGE/-EOVERFLOW) or exists (-EEXIST)
_LOST = frozenset({-errno.ERANGE, -errno.EOVERFLOW, -errno.EEXIST})
_READ_LIMIT = 1 << 24

_lib: Any = None
_lib_lock = threading.Lock()


def library() -> Any:
    """librados, loaded on first use (``RbdUnavailable`` says why it cannot be)."""
    global _lib
    rbd.libraries()  # the same check and message as the rbd store's
    with _lib_lock:
        if _lib is None:
            _lib = ffi.dlopen(rbd.LIBRADOS)
        return _lib


class RadosObject:
    """Object ``oid`` of ``pool``: :meth:`read` gives its bytes and version, :meth:`write` replaces them
    only if the version is still that one, :meth:`watch` and :meth:`notify` reach every client watching.
    Version 0: the object does not exist."""

    def __init__(self, cluster: rbd.Cluster, pool: str, oid: str) -> None:
        self._rados = library()
        handle = ffi.cast("rados_t", int(rbd.ffi.cast("uintptr_t", cluster.handle)))
        ioctx = ffi.new("rados_ioctx_t *")
        rbd.check(self._rados.rados_ioctx_create(handle, pool.encode(), ioctx), f"opening pool {pool}")
        self.ioctx, self.oid, self.name = ioctx[0], oid.encode(), f"{pool}/{oid}"
        self._lock = threading.Lock()  # rados_get_last_version is the ioctx's: one operation at a time
        self._watch: int | None = None
        self._watch_cb: Any = None

    def read(self) -> tuple[bytes, int]:
        """(contents, version); (b"", 0) while the object does not exist."""
        size = 1 << 16
        while True:
            buf = ffi.new("char[]", size)
            with self._lock:
                n = self._rados.rados_read(self.ioctx, self.oid, buf, size, 0)
                version = int(self._rados.rados_get_last_version(self.ioctx))
            if n == -errno.ENOENT:
                return b"", 0
            rbd.check(n, f"reading {self.name}")
            if n < size or size >= _READ_LIMIT:
                return ffi.buffer(buf, n)[:], version
            size *= 4

    def write(self, data: bytes, version: int) -> int | None:
        """Replace the contents if the object is still at ``version`` (0: does not exist yet); the new
        version, or None when another client changed it first (read it again and retry)."""
        op = self._rados.rados_create_write_op()
        try:
            if version:
                self._rados.rados_write_op_assert_version(op, version)
            else:
                self._rados.rados_write_op_create(op, CREATE_EXCLUSIVE, ffi.NULL)
            self._rados.rados_write_op_write_full(op, data, len(data))
            with self._lock:
                res = self._rados.rados_write_op_operate(op, self.ioctx, self.oid, ffi.NULL, 0)
                new = int(self._rados.rados_get_last_version(self.ioctx))
        finally:
            self._rados.rados_release_write_op(op)
        if res in _LOST:
            return None
        rbd.check(res, f"writing {self.name}")
        return new

    def watch(self, notified: Callable[[bytes], None]) -> None:
        """Call ``notified(payload)`` on librados' thread for every notification of the object (this
        client's own too), then acknowledge it: a :meth:`notify` returns once every watcher's
        ``notified`` has returned (or its timeout passed). Creates the object if it does not exist."""
        op = self._rados.rados_create_write_op()
        try:
            self._rados.rados_write_op_create(op, CREATE_IDEMPOTENT, ffi.NULL)
            rbd.check(self._rados.rados_write_op_operate(op, self.ioctx, self.oid, ffi.NULL, 0),
                      f"creating {self.name}")
        finally:
            self._rados.rados_release_write_op(op)

        def each(_arg: Any, notify_id: int, cookie: int, _notifier: int, data: Any, length: int) -> None:
            try:
                notified(ffi.buffer(data, length)[:] if length else b"")
            except Exception:  # a callback must not unwind into librados
                log.exception("%s: notification handler failed", self.name)
            finally:
                self._rados.rados_notify_ack(self.ioctx, self.oid, notify_id, cookie, ffi.NULL, 0)

        def lost(_arg: Any, _cookie: int, err: int) -> None:
            log.error("%s: watch lost (%s)", self.name, errno.errorcode.get(-err, err))

        self._watch_cb = (ffi.callback("rados_watchcb2_t", each), ffi.callback("rados_watcherrcb_t", lost))
        cookie = ffi.new("uint64_t *")
        rbd.check(self._rados.rados_watch2(self.ioctx, self.oid, cookie, *self._watch_cb, ffi.NULL),
                  f"watching {self.name}")
        self._watch = int(cookie[0])

    def notify(self, payload: bytes, timeout: float = 5.0) -> bool:
        """Send ``payload`` to every watcher and wait for their acknowledgements, up to ``timeout``
        seconds; False when some watcher did not answer in time (a gateway gone)."""
        reply = ffi.new("char **")
        length = ffi.new("size_t *")
        res = self._rados.rados_notify2(self.ioctx, self.oid, payload, len(payload), int(timeout * 1000),
                                        reply, length)
        if reply[0] != ffi.NULL:
            self._rados.rados_buffer_free(reply[0])
        if res == -errno.ETIMEDOUT:
            return False
        rbd.check(res, f"notifying {self.name}")
        return True

    def close(self) -> None:
        ioctx, self.ioctx = self.ioctx, None
        if ioctx is None:
            return
        if self._watch is not None:
            self._rados.rados_unwatch2(ioctx, self._watch)
        self._rados.rados_ioctx_destroy(ioctx)
