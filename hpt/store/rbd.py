"""A Ceph RBD image as backing store, through librbd's asynchronous C API (``hpt.native.rbd``, cffi).

READ, WRITE and SYNCHRONIZE CACHE are ``rbd_aio_read2``, ``rbd_aio_write2`` and ``rbd_aio_flush``
whose completion callbacks (on librbd's completion thread) call the SCSI core's ``done``: no thread per
I/O. A FUA write is ``rbd_aio_write2`` with LIBRADOS_OP_FLAG_FADVISE_FUA followed by ``rbd_aio_flush``
before ``done``. UNMAP and WRITE SAME with UNMAP are ``rbd_discard``; WRITE SAME of zeroes is
``rbd_write_zeroes``; GET LBA STATUS walks ``rbd_diff_iterate2``. A snapshot is opened read-only. A
resize (``rbd resize`` from anywhere) is noticed through ``rbd_update_watch`` and a size poll, and
reported to the LU (``watch_size``), which raises CAPACITY DATA HAS CHANGED. Every librados timeout
(``rados_mon_op_timeout``, ``rados_osd_op_timeout``, ``client_mount_timeout``) is set from ``timeout``,
so a cluster that does not answer ends the command with ETIMEDOUT instead of hanging it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpt.native import rbd
from hpt.native.rados import RadosObject
from hpt.options import Option
from hpt.store.base import BackingStore, Done
from hpt.store.registry import StoreKind

log = logging.getLogger("hpt.store")


class RbdStore(BackingStore):
    """The image ``pool/image`` (or its snapshot ``snapshot``, read-only) of one Ceph cluster."""

    inline = False  # completions come from librbd's thread
    waits = False  # librbd's asynchronous calls

    def __init__(self, pool: str, image: str, *, ceph_conf: str | None = None, client: str = "admin",
                 cluster: str = "ceph", snapshot: str | None = None, readonly: bool = False,
                 timeout: int = 30, size_poll: int = 10) -> None:
        self.name = f"{pool}/{image}" + (f"@{snapshot}" if snapshot else "")
        self._where = (pool, image + (f"@{snapshot}" if snapshot else ""))  # names the shared objects
        self._shared: list[RadosObject] = []
        seconds = str(timeout)
        options = [("rados_mon_op_timeout", seconds), ("rados_osd_op_timeout", seconds),
                   ("client_mount_timeout", seconds),
                   # a discard zeroes what it cannot remove: unmapped blocks read as zeroes (LBPRZ)
                   ("rbd_skip_partial_discard", "false")]
        try:
            self._cluster = rbd.Cluster(ceph_conf, client, cluster, options)
        except rbd.RbdError as err:
            raise self._error(err, f"cluster {cluster} as client.{client}") from err
        try:
            self._image = rbd.Image(self._cluster, pool, image, snapshot, readonly)
            self.size = self._image.size()
        except BaseException as err:
            self._cluster.close()
            if isinstance(err, rbd.RbdError):
                raise self._error(err, "") from err
            raise
        self.readonly = readonly or snapshot is not None
        self.supports_discard = not self.readonly
        self._watchers: list[Callable[[], None]] = []
        self._changed = threading.Event()
        self._closing = False
        self._poll = size_poll
        self._image.watch(self._changed.set)
        self._sizer = threading.Thread(target=self._follow_size, name=f"rbd-size {self.name}", daemon=True)
        self._sizer.start()

    def _error(self, err: OSError, what: str) -> OSError:
        """The error with the image named: ``rbd pool/image: <what>: <librbd's reason>``."""
        where = f"rbd {self.name}" + (f" ({what})" if what else "")
        return rbd.RbdError(err.errno, f"{where}: {err.strerror}")

    def _failed(self, res: int, what: str) -> OSError:
        return rbd.RbdError(-res, f"rbd {self.name}: {what}: {os.strerror(-res)}")

    # -- asynchronous submit: librbd's aio with completion callbacks --------------------------
    def _complete(self, done: Done, what: str) -> Callable[[int], None]:
        return lambda res: done(self._failed(res, what) if res < 0 else None)

    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        data = rbd.ffi.from_buffer(buf, require_writable=True)
        image, n = self._image, len(buf)

        def read(res: int) -> None:
            if 0 <= res < n:  # librbd returns the bytes read: past the end of the image nothing
                buf[res:] = bytes(n - res)
            done(self._failed(res, f"read of {n} bytes at {offset}") if res < 0 else None)

        rbd.aio(lambda c: image.rbd.rbd_aio_read2(image.handle, offset, n, data, c, 0), read, data)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        """FUA: the write carries LIBRADOS_OP_FLAG_FADVISE_FUA and ``done`` waits for an
        ``rbd_aio_flush`` after it (librbd's cache, when on, writes through only with the flush)."""
        if self.readonly:
            done(OSError(errno.EROFS, f"rbd {self.name}: read-only"))
            return
        data = rbd.ffi.from_buffer(buf)
        image, n = self._image, len(buf)
        what = f"write of {n} bytes at {offset}"
        written = self._complete(done, what)
        if fua:
            def written(res: int) -> None:
                if res < 0:
                    done(self._failed(res, what))
                else:
                    self.submit_flush(done)

        flags = rbd.OP_FLAG_FADVISE_FUA if fua else 0
        rbd.aio(lambda c: image.rbd.rbd_aio_write2(image.handle, offset, n, data, c, flags), written, data)

    def submit_flush(self, done: Done) -> None:
        image = self._image
        rbd.aio(lambda c: image.rbd.rbd_aio_flush(image.handle, c), self._complete(done, "flush"))

    # -- the synchronous calls (the SCSI core's blocking pool) --------------------------------
    def _wait(self, start: Callable[[Done], None]) -> None:
        finished = threading.Event()
        outcome: list[OSError | None] = []

        def done(err: OSError | None) -> None:
            outcome.append(err)
            finished.set()

        start(done)
        finished.wait()  # librbd completes every aio, with ETIMEDOUT at worst (rados_osd_op_timeout)
        if outcome[0] is not None:
            raise outcome[0]

    def read_into(self, offset: int, buf: memoryview) -> None:
        self._wait(lambda done: self.submit_read(offset, buf, done))

    def write_from(self, offset: int, buf: memoryview) -> None:
        self._wait(lambda done: self.submit_write(offset, buf, done))

    def sync(self, offset: int = 0, length: int = 0) -> None:
        self._wait(self.submit_flush)

    def discard(self, offset: int, length: int) -> None:
        """``rbd_aio_discard``: whole objects are removed, partial ones zeroed or truncated."""
        image = self._image
        self._wait(lambda done: rbd.aio(lambda c: image.rbd.rbd_aio_discard(image.handle, offset, length, c),
                                        self._complete(done, f"discard of {length} bytes at {offset}")))

    def write_zeroes(self, offset: int, length: int) -> None:
        """``rbd_aio_write_zeroes``: zeroed in the OSDs, no zero buffer sent."""
        image = self._image
        self._wait(lambda done: rbd.aio(
            lambda c: image.rbd.rbd_aio_write_zeroes(image.handle, offset, length, c, 0, 0),
            self._complete(done, f"write zeroes of {length} bytes at {offset}")))

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        """From ``rbd_diff_iterate2`` against no snapshot: the allocated extents of the image (and its
        parent); the walk stops at the first gap after ``offset``."""
        run: list[Any] = []  # [mapped, end]

        def each(off: int, n: int, exists: bool) -> bool:
            if not exists:
                return False
            if not run:
                if off > offset:
                    run.extend((False, off))
                    return True
                run.extend((True, off + n))
                return False
            if off > run[1]:
                return True
            run[1] = max(run[1], off + n)
            return False

        try:
            self._image.extents(offset, self.size - offset, each)
        except rbd.RbdError as err:
            raise self._error(err, "allocation") from err
        if not run:
            return False, self.size - offset
        return run[0], min(run[1], self.size) - offset

    # -- size changes ----------------------------------------------------------------------------
    def watch_size(self, changed: Callable[[], None]) -> None:
        """Call ``changed()`` when the image's size changes (``rbd resize``): noticed through
        ``rbd_update_watch`` at once, or by polling every ``size_poll`` seconds."""
        self._watchers.append(changed)

    def _follow_size(self) -> None:
        while True:
            self._changed.wait(self._poll or None)
            self._changed.clear()
            if self._closing:
                return
            try:
                size = self._image.size()
            except OSError as err:
                log.warning("rbd %s: cannot read the image's size: %s", self.name, err)
                continue
            if size != self.size:
                log.info("rbd %s: the image was resized from %d to %d bytes", self.name, self.size, size)
                self.size = size
                for changed in list(self._watchers):
                    changed()

    def shared_state(self, name: str) -> RadosObject:
        """RADOS object ``hpt.<image>.<name>`` (``hpt.<image>@<snapshot>.<name>``) beside the image: what
        the gateways serving it share (its LU's persistent reservations), through this store's client."""
        pool, image = self._where
        obj = RadosObject(self._cluster, pool, f"hpt.{image}.{name}")
        self._shared.append(obj)
        return obj

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._changed.set()
        self._sizer.join(5)
        for obj in self._shared:
            obj.close()
        self._image.close()
        self._cluster.close()


# -- the "rbd" store kind (entry point hpt.stores: rbd) ----------------------------------------------


def _check_conf(path: str, values: Any) -> str | None:
    return None if Path(path).is_file() else f"{path}: no such file"


def _open_rbd(values: dict[str, Any]) -> RbdStore:
    return RbdStore(values["pool"], values["image"], ceph_conf=values["ceph_conf"], client=values["client"],
                    cluster=values["cluster"], snapshot=values["snapshot"], readonly=values["readonly"],
                    timeout=values["timeout"], size_poll=values["size_poll"])


KIND = StoreKind(
    name="rbd",
    options=(
        Option("pool", str, "rbd", "the RADOS pool holding the image"),
        Option("image", str, doc="the rbd image (rbd create --size ... POOL/IMAGE)"),
        Option("snapshot", str, None, "serve this snapshot of the image, read-only"),
        Option("ceph_conf", "path", None, "the cluster's ceph.conf (default: librados' search, "
               "/etc/ceph/$cluster.conf first)", check=_check_conf),
        Option("client", str, "admin", "the cephx user, without 'client.' (its keyring as ceph.conf says)"),
        Option("cluster", str, "ceph", "the cluster name (names the default ceph.conf and keyring)"),
        Option("timeout", int, 30, "seconds before a monitor or OSD that does not answer fails the "
               "connection or the command (rados_mon_op_timeout, rados_osd_op_timeout, "
               "client_mount_timeout)", lo=1, hi=3600),
        Option("size_poll", int, 10, "seconds between checks of the image's size besides librbd's "
               "header watch (0: the watch only)", lo=0, hi=3600),
    ),
    open=_open_rbd,
    doc="a Ceph RBD image (librbd's asynchronous API; Debian's librbd1)",
    shared_medium=True,  # every worker opens the same image
)
