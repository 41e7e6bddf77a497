"""librbd and librados through cffi in ABI mode: no compiler and no Ceph headers, only Debian's
``librbd1`` (which brings ``librados2``) at run time, so ``pip install`` of hpt in any virtual
environment gives a working rbd store wherever those libraries are installed.

Only what the rbd store needs is declared, with the prototypes of librbd.h and librados.h (Ceph 16.2).
Asynchronous I/O (``rbd_aio_*``) completes through one C callback shared by every image: librbd calls it
on its own completion thread with the completion and a cookie; the callback takes the result
(``rbd_aio_get_return_value``), releases the completion and calls the Python ``done(res)`` registered
under the cookie, inside a completion batch (:func:`hpt.native.batch.batch`), so what the callbacks
defer (an iSCSI connection's ``sendmsg``) runs once per wakeup. cffi releases the GIL around every
librbd call, so a submitting thread never holds it while librbd's threads need it.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from cffi import FFI

from hpt.native.batch import batch

log = logging.getLogger("hpt.native")

_CDEF = """
typedef void *rados_t;
typedef void *rados_ioctx_t;
typedef void *rbd_image_t;
typedef void *rbd_completion_t;
typedef void (*rbd_callback_t)(rbd_completion_t cb, void *arg);
typedef void (*rbd_update_callback_t)(void *arg);

int rados_create2(rados_t *pcluster, const char *const clustername, const char *const name, uint64_t flags);
int rados_conf_read_file(rados_t cluster, const char *path);
int rados_conf_set(rados_t cluster, const char *option, const char *value);
int rados_connect(rados_t cluster);
void rados_shutdown(rados_t cluster);
int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx);
void rados_ioctx_destroy(rados_ioctx_t io);

int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name);
int rbd_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name);
int rbd_close(rbd_image_t image);
int rbd_get_size(rbd_image_t image, uint64_t *size);
int rbd_flush(rbd_image_t image);
int rbd_discard(rbd_image_t image, uint64_t ofs, uint64_t len);
ssize_t rbd_write_zeroes(rbd_image_t image, uint64_t ofs, size_t len, int zero_flags, int op_flags);
int rbd_diff_iterate2(rbd_image_t image, const char *fromsnapname, uint64_t ofs, uint64_t len,
                      uint8_t include_parent, uint8_t whole_object,
                      int (*cb)(uint64_t, size_t, int, void *), void *arg);
int rbd_update_watch(rbd_image_t image, uint64_t *handle, rbd_update_callback_t watch_cb, void *arg);
int rbd_update_unwatch(rbd_image_t image, uint64_t handle);

int rbd_aio_create_completion(void *cb_arg, rbd_callback_t complete_cb, rbd_completion_t *c);
ssize_t rbd_aio_get_return_value(rbd_completion_t c);
void rbd_aio_release(rbd_completion_t c);
int rbd_aio_read2(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c, int op_flags);
int rbd_aio_write2(rbd_image_t image, uint64_t off, size_t len, const char *buf, rbd_completion_t c,
                   int op_flags);
int rbd_aio_flush(rbd_image_t image, rbd_completion_t c);
int rbd_aio_discard(rbd_image_t image, uint64_t off, uint64_t len, rbd_completion_t c);
int rbd_aio_write_zeroes(rbd_image_t image, uint64_t off, size_t len, rbd_completion_t c, int zero_flags,
                         int op_flags);
"""

LIBRBD = "librbd.so.1"
LIBRADOS = "librados.so.2"
#: librados.h LIBRADOS_OP_FLAG_FADVISE_FUA: the write is durable when it completes
OP_FLAG_FADVISE_FUA = 0x80

ffi = FFI()
ffi.cdef(_CDEF)


class RbdUnavailable(OSError):
    """librbd or librados cannot be loaded (Debian: apt-get install librbd1)."""


class RbdError(OSError):
    """A librbd/librados call failed: ``errno`` is Ceph's (positive), the message names the call."""


_libs: tuple[Any, Any] | None = None
_libs_lock = threading.Lock()


def libraries() -> tuple[Any, Any]:
    """(librados, librbd), loaded on first use; RbdUnavailable says why they cannot be."""
    global _libs
    with _libs_lock:
        if _libs is None:
            try:
                _libs = (ffi.dlopen(LIBRADOS), ffi.dlopen(LIBRBD))
            except OSError as err:
                raise RbdUnavailable(errno.ENOENT, f"{err} (install Debian's librbd1)") from err
        return _libs


def check(res: int, what: str) -> int:
    """``res`` when it is not negative, else RbdError(-res) naming ``what``."""
    if res < 0:
        raise RbdError(-res, f"{what}: {os.strerror(-res)}")
    return res


# -- asynchronous completions -------------------------------------------------------------------------
_pending: dict[int, tuple[Callable[[int], None], object]] = {}
_cookies = itertools.count(1)


@ffi.callback("void(rbd_completion_t, void *)")
def _completed(c: Any, arg: Any) -> None:
    rbd = _libs[1]  # type: ignore[index]  # loaded: a completion exists
    res = rbd.rbd_aio_get_return_value(c)
    rbd.rbd_aio_release(c)
    done, _keep = _pending.pop(int(ffi.cast("uintptr_t", arg)))
    with batch():
        try:
            done(res)
        except Exception:  # a callback must not unwind into librbd
            log.exception("rbd completion callback failed")


def aio(start: Callable[[Any], int], done: Callable[[int], None], keep: object = None) -> None:
    """Start one asynchronous librbd call: ``start(completion)`` queues it (``rbd_aio_*``) and
    ``done(res)`` follows on librbd's completion thread (res >= 0, or -errno). ``keep`` (the cdata of
    the I/O buffer) is held until then. A call librbd refuses at once completes with its error here."""
    _, rbd = libraries()
    cookie = next(_cookies)
    comp = ffi.new("rbd_completion_t *")
    _pending[cookie] = (done, keep)
    res = rbd.rbd_aio_create_completion(ffi.cast("void *", cookie), _completed, comp)
    if res >= 0:
        res = start(comp[0])
        if res >= 0:
            return
        rbd.rbd_aio_release(comp[0])
    del _pending[cookie]
    done(res)


def in_flight() -> int:
    """Asynchronous calls started and not completed yet, across every image."""
    return len(_pending)


# -- clusters and images ------------------------------------------------------------------------------
class Cluster:
    """A connected librados client (``rados_create2`` + ``rados_connect``)."""

    def __init__(self, conf: str | None, client: str, cluster: str,
                 options: Iterable[tuple[str, str]]) -> None:
        rados, _ = libraries()
        handle = ffi.new("rados_t *")
        check(rados.rados_create2(handle, cluster.encode(), f"client.{client}".encode(), 0), "rados_create2")
        self._rados, self.handle = rados, handle[0]
        try:
            if conf is not None:
                check(rados.rados_conf_read_file(self.handle, conf.encode()), f"reading {conf}")
            else:
                rados.rados_conf_read_file(self.handle, ffi.NULL)  # the default search; none is fine
            for key, value in options:
                check(rados.rados_conf_set(self.handle, key.encode(), value.encode()), f"setting {key}")
            check(rados.rados_connect(self.handle), "connecting to the cluster")
        except BaseException:
            rados.rados_shutdown(self.handle)
            raise

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            self._rados.rados_shutdown(handle)


class Image:
    """An open rbd image (``rbd_open``, or ``rbd_open_read_only`` for a snapshot or a read-only LU)."""

    def __init__(self, cluster: Cluster, pool: str, name: str, snapshot: str | None, readonly: bool) -> None:
        rados, rbd = libraries()
        ioctx = ffi.new("rados_ioctx_t *")
        check(rados.rados_ioctx_create(cluster.handle, pool.encode(), ioctx), f"opening pool {pool}")
        self._rados, self.rbd, self.ioctx = rados, rbd, ioctx[0]
        image = ffi.new("rbd_image_t *")
        opener = rbd.rbd_open_read_only if readonly or snapshot else rbd.rbd_open
        snap = snapshot.encode() if snapshot else ffi.NULL
        where = f"{pool}/{name}" + (f"@{snapshot}" if snapshot else "")
        try:
            check(opener(self.ioctx, name.encode(), image, snap), f"opening image {where}")
        except BaseException:
            rados.rados_ioctx_destroy(self.ioctx)
            raise
        self.handle = image[0]
        self._watch: int | None = None
        self._watch_cb: Any = None

    def size(self) -> int:
        size = ffi.new("uint64_t *")
        check(self.rbd.rbd_get_size(self.handle, size), "rbd_get_size")
        return int(size[0])

    def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed()`` (on librbd's thread: keep it short) when the image's header changes:
        a resize, a snapshot, a feature (``rbd_update_watch``)."""
        self._watch_cb = ffi.callback("void(void *)", lambda _arg: changed())
        handle = ffi.new("uint64_t *")
        check(self.rbd.rbd_update_watch(self.handle, handle, self._watch_cb, ffi.NULL), "rbd_update_watch")
        self._watch = int(handle[0])

    def extents(self, offset: int, length: int, stop: Callable[[int, int, bool], bool]) -> None:
        """Walk the allocated extents of ``offset..offset+length`` (``rbd_diff_iterate2`` from no
        snapshot, parent included): ``stop(offset, length, exists)`` for each, True ends the walk."""
        stopped = False

        @ffi.callback("int(uint64_t, size_t, int, void *)")
        def each(off: int, n: int, exists: int, _arg: Any) -> int:
            nonlocal stopped
            if stop(off, n, bool(exists)):
                stopped = True
                return -errno.ECANCELED
            return 0

        res = self.rbd.rbd_diff_iterate2(self.handle, ffi.NULL, offset, length, 1, 0, each, ffi.NULL)
        if not (stopped and res == -errno.ECANCELED):
            check(res, "rbd_diff_iterate2")

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is None:
            return
        if self._watch is not None:
            self.rbd.rbd_update_unwatch(handle, self._watch)
        self.rbd.rbd_close(handle)
        self._rados.rados_ioctx_destroy(self.ioctx)
