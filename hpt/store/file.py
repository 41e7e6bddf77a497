"""A file or block device as backing store: preadv/pwritev straight into the command's buffers.

Sparse regular files are created with their size when missing. Deallocation punches holes
(fallocate PUNCH_HOLE|KEEP_SIZE), zeroing uses ZERO_RANGE, and SEEK_DATA/SEEK_HOLE tell mapped
from deallocated ranges. With ``direct`` the file is opened O_DIRECT; a buffer, offset or length
that is not aligned goes through an aligned bounce buffer (read-modify-write for writes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpt.options import Option, OptionError
from hpt.store.base import BackingStore, DirectSource, Done
from hpt.store.engines import IoEngine, pread_all, pwrite_all, shared_engine
from hpt.store.registry import StoreKind

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
DIRECT_ALIGN = 4096  # O_DIRECT alignment of buffers, offsets and lengths (safe for 512e and 4Kn devices)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_fallocate = _libc.fallocate
_fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
_fallocate.restype = ctypes.c_int
_UNSUPPORTED = (errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL)
IO_ENGINES = ("auto", "uring", "threads", "sync")
TMPFS_MAGIC, RAMFS_MAGIC = 0x01021994, 0x858458F6  # statfs(2) f_type of file systems in memory


class _StatFs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 112)]


_statfs = _libc.statfs
_statfs.argtypes = (ctypes.c_char_p, ctypes.POINTER(_StatFs))


def _statfs_type(path: str) -> int:
    """statfs(2) f_type: which file system holds ``path``."""
    st = _StatFs()
    if _statfs(os.fsencode(path), ctypes.byref(st)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return st.f_type & 0xFFFFFFFF


def fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """Linux fallocate(2) (os.posix_fallocate cannot punch holes); raises OSError on failure."""
    if _fallocate(fd, mode, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def buffer_address(buf: memoryview) -> int | None:
    """The address of a writable buffer, None for a read-only one."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(buf))
    except (TypeError, ValueError):  # read-only, or empty
        return None


class FileStore(BackingStore):
    """A regular file (sparse) or a block device."""

    def __init__(self, path: str, size: int | None = None, readonly: bool = False,
                 direct: bool = False, io_engine: str = "auto") -> None:
        if io_engine not in IO_ENGINES:
            raise ValueError(f"io_engine {io_engine!r}: expected one of {', '.join(IO_ENGINES)}")
        flags = (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC | (os.O_DIRECT if direct else 0)
        if not os.path.exists(path):
            if readonly:
                raise ValueError(f"{path}: no such file (a read-only store does not create one)")
            if size is None:
                raise ValueError(f"{path}: no such file; give a size to create it")
            flags |= os.O_CREAT | os.O_EXCL
        try:
            try:
                fd = os.open(path, flags, 0o600)
            except FileExistsError:  # made meanwhile by another process serving it (hptd's workers)
                fd = os.open(path, flags & ~(os.O_CREAT | os.O_EXCL))
        except OSError as err:
            if direct and err.errno == errno.EINVAL:
                raise ValueError(f"{path}: the file system refuses O_DIRECT") from err
            raise ValueError(f"{path}: {err.strerror}") from err
        try:
            self._init(fd, path, size, readonly, direct)
            self._in_memory = self._on_memory_fs()
            self._engine = self._choose_engine(io_engine)
        except BaseException:
            os.close(fd)
            raise
        self.inline = self._engine is None
        # inline on a disk (io_engine sync), or the fast lane's AIO on O_DIRECT: a device is waited for
        self.waits = self.direct or (self.inline and not self._in_memory)

    def _init(self, fd: int, path: str, size: int | None, readonly: bool, direct: bool) -> None:
        st = os.fstat(fd)
        block_device = stat.S_ISBLK(st.st_mode)
        if not block_device and not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path}: not a regular file or block device")
        actual = os.lseek(fd, 0, os.SEEK_END) if block_device else st.st_size
        if size is None:
            size = actual
        if size <= 0:
            raise ValueError(f"{path}: size must be positive, not {size}")
        if size > actual:
            if block_device or readonly:
                what = "device" if block_device else "read-only file"
                raise ValueError(f"{path} holds {actual} bytes; a {what} cannot grow to {size}")
            os.ftruncate(fd, size)  # sparse: nothing is allocated
        if direct and size % DIRECT_ALIGN:
            raise ValueError(f"{path}: O_DIRECT needs a size that is a multiple of {DIRECT_ALIGN}, "
                             f"not {size}")
        self._fd = fd
        self.path = path
        self.size = size
        self.readonly = readonly
        self.direct = direct
        self.block_device = block_device
        self.supports_discard = not readonly
        self._rmw_lock = threading.Lock()

    def _choose_engine(self, kind: str) -> IoEngine | None:
        """Where asynchronous I/O goes (None: inline, on the caller's thread).

        ``auto``: a file in memory (tmpfs, ramfs) is read and written inline, since a page-cache copy
        costs less than handing the request to another thread (a 4K read: about 1.4 us); anything else
        goes to io_uring, or stays inline where io_uring cannot run (``engines.shared_engine`` has the
        figures)."""
        if kind == "sync" or (kind == "auto" and self._in_memory):
            return None
        return shared_engine(kind)

    def _on_memory_fs(self) -> bool:
        """Whether the file is on tmpfs or ramfs (asked once, at open)."""
        if self.block_device:
            return False
        try:
            magic = _statfs_type(self.path)
        except OSError:
            return False
        return magic in (TMPFS_MAGIC, RAMFS_MAGIC)

    @property
    def io_engine(self) -> str:
        """The engine its asynchronous I/O uses: ``uring``, ``threads`` or ``inline``."""
        return "inline" if self._engine is None else self._engine.name

    # -- asynchronous submit -------------------------------------------------------------------
    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        engine = self._engine
        if engine is None:
            super().submit_read(offset, buf, done)
        elif not self.direct:
            engine.read(self._fd, buf, offset, done)
        elif (offset | len(buf)) % DIRECT_ALIGN:
            engine.call(lambda: self._bounce_read(offset, buf), done)
        else:  # ring slots are page-aligned: try it, and bounce only if the kernel says no
            bounce = self._or_bounce(engine, done, lambda: self._bounce_read(offset, buf))
            engine.read(self._fd, buf, offset, bounce)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        """FUA writes go with RWF_DSYNC: on O_DIRECT a FUA write to the device, else a write that
        returns once its data (and the metadata to reach it) is on stable storage."""
        engine = self._engine
        if engine is None:
            super().submit_write(offset, buf, done, fua=fua)
        elif not self.direct:
            engine.write(self._fd, buf, offset, done, fua)
        elif (offset | len(buf)) % DIRECT_ALIGN:
            engine.call(lambda: self._bounce_write(offset, buf, fua), done)
        else:
            bounce = self._or_bounce(engine, done, lambda: self._bounce_write(offset, buf, fua))
            engine.write(self._fd, buf, offset, bounce, fua)

    @staticmethod
    def _or_bounce(engine: IoEngine, done: Done, bounce: Callable[[], None]) -> Done:
        """``done``, unless O_DIRECT refused the buffer's address (EINVAL): then the bounce buffer.
        Checking every buffer's address up front costs more than the rare retry (a ctypes call per I/O)."""

        def finished(err: OSError | None) -> None:
            if err is not None and err.errno == errno.EINVAL:
                engine.call(bounce, done)
            else:
                done(err)

        return finished

    def submit_flush(self, done: Done) -> None:
        engine = self._engine
        if engine is None:
            super().submit_flush(done)
        else:
            engine.fsync(self._fd, done)

    # -- data ----------------------------------------------------------------------------------
    def _aligned(self, offset: int, buf: memoryview) -> bool:
        if (offset | len(buf)) % DIRECT_ALIGN:
            return False
        address = buffer_address(buf)
        return address is not None and address % DIRECT_ALIGN == 0

    def read_into(self, offset: int, buf: memoryview) -> None:
        if self.direct and not self._aligned(offset, buf):
            self._bounce_read(offset, buf)
            return
        pread_all(self._fd, buf, offset)

    def state_path(self, suffix: str) -> str | None:
        """``<path><suffix>`` beside an image file in a directory hptd may write; a block device keeps
        none (its directory is /dev)."""
        if self.block_device:
            return None
        path = os.path.abspath(self.path)
        return path + suffix if os.access(os.path.dirname(path), os.W_OK) else None

    def direct_source(self) -> DirectSource | None:
        """The descriptor: of a file read inline (in memory), or of one opened O_DIRECT, whose READs and
        WRITEs the lane submits together (a buffered file on a disk stays with its engine)."""
        if self.direct:
            return DirectSource(fd=self._fd, wait=True, align=DIRECT_ALIGN)
        return DirectSource(fd=self._fd) if self.inline else None

    def write_from(self, offset: int, buf: memoryview) -> None:
        if self.direct and not self._aligned(offset, buf):
            self._bounce_write(offset, buf)
            return
        pwrite_all(self._fd, buf, offset)

    def _span(self, offset: int, length: int) -> tuple[int, mmap.mmap]:
        """The aligned span around offset..offset+length and a page-aligned bounce buffer for it."""
        start = offset - offset % DIRECT_ALIGN
        end = -(-(offset + length) // DIRECT_ALIGN) * DIRECT_ALIGN
        return start, mmap.mmap(-1, end - start)

    def _bounce_read(self, offset: int, buf: memoryview) -> None:
        start, bounce = self._span(offset, len(buf))
        view = memoryview(bounce)
        try:
            self.read_into(start, view)
            buf[:] = view[offset - start:offset - start + len(buf)]
        finally:
            view.release()
            bounce.close()

    def _bounce_write(self, offset: int, buf: memoryview, fua: bool = False) -> None:
        start, bounce = self._span(offset, len(buf))
        view = memoryview(bounce)
        try:
            with self._rmw_lock:
                if offset != start or len(view) != len(buf):
                    self.read_into(start, view)  # the partial head and tail units keep their data
                view[offset - start:offset - start + len(buf)] = buf
                self.write_from(start, view)
                if fua:
                    os.fdatasync(self._fd)
        finally:
            view.release()
            bounce.close()

    def sync(self, offset: int = 0, length: int = 0) -> None:
        """fdatasync: the only call that makes data durable (sync_file_range writes back without
        flushing metadata or the device cache, see sync_file_range(2)), so ranges sync it all."""
        os.fdatasync(self._fd)

    # -- provisioning --------------------------------------------------------------------------
    def _fallocate(self, mode: int, offset: int, length: int) -> bool:
        """fallocate(2) on the file; False where the file system does not support ``mode``."""
        try:
            fallocate(self._fd, mode, offset, length)
        except OSError as err:
            if err.errno not in _UNSUPPORTED:
                raise
            return False
        return True

    def discard(self, offset: int, length: int) -> None:
        """Punch a hole; where the file system cannot, write zeroes instead."""
        if not self._fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length):
            self.supports_discard = False
            super().write_zeroes(offset, length)

    def write_zeroes(self, offset: int, length: int) -> None:
        """Zero a range and keep it allocated (ZERO_RANGE), or write zeroes where that is unsupported."""
        if not self._fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length):
            super().write_zeroes(offset, length)

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        """SEEK_DATA/SEEK_HOLE: whether ``offset`` holds data, and how far that lasts."""
        size = self.size
        try:
            data = os.lseek(self._fd, offset, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:  # no data from offset to the end of the file
                return False, size - offset
            return True, size - offset  # no SEEK_DATA here: report everything mapped
        if data > offset:
            return False, min(data, size) - offset
        hole = os.lseek(self._fd, offset, os.SEEK_HOLE)
        return True, min(hole, size) - offset

    def prefetch(self, offset: int, length: int) -> None:
        """Start reading a range into the page cache (PRE-FETCH); a no-op with O_DIRECT."""
        if not self.direct:
            os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_WILLNEED)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


# -- the "file" store kind (entry point hpt.stores: file) --------------------------------------------


def _check_path(path: str, values: Any) -> str | None:
    """A path the store can open: an existing file or device, or a new file in an existing directory
    (which needs a size)."""
    where = Path(path)
    if where.is_dir():
        return f"{path} is a directory"
    if not where.exists():
        if values.get("size") is None:
            raise OptionError("size", f"required because {path} does not exist yet")
        if not where.parent.is_dir():
            return f"directory {where.parent} does not exist"
    return None


def _open_file(values: dict[str, Any]) -> FileStore:
    return FileStore(path=values["path"], size=values["size"], readonly=values["readonly"],
                     direct=values["direct"], io_engine=values["io_engine"])


KIND = StoreKind(
    name="file",
    options=(
        Option("path", "path", doc="the backing file or block device; a missing file is created sparse",
               check=_check_path),
        Option("size", "size", None, "bytes; required only when the file does not exist yet "
               "(default: the file's size)"),
        Option("direct", bool, False, "open with O_DIRECT (buffers, offsets and the size 4 KiB-aligned)"),
        Option("io_engine", str, "auto", "how I/O is submitted: auto (inline for a file in memory, else "
               "io_uring where it runs, else inline), uring, threads, or sync (inline)", choices=IO_ENGINES),
    ),
    open=_open_file,
    doc="a regular file (sparse, created when missing) or a block device",
    shared_medium=True,  # every worker opens the same file
)
