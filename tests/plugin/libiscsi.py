"""A libiscsi session from Python (ctypes over Debian's libiscsi.so.7, the library iscsi-inq and QEMU's
iscsi driver use): READ(16) and WRITE(16) with the status and sense data libiscsi decoded."""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from urllib.parse import urlsplit

SESSION_NORMAL = 2  # enum iscsi_session_type
STATUS_ERROR, STATUS_TIMEOUT = 0x0F000001, 0x0F000002  # libiscsi's own, beyond SAM's status codes
INITIATOR = "iqn.2026-11.org.hpt.test:libiscsi"


class _Sense(ctypes.Structure):
    _fields_ = [("error_type", ctypes.c_ubyte), ("key", ctypes.c_int), ("ascq", ctypes.c_int)]


class _Task(ctypes.Structure):
    """The head of libiscsi's ``struct scsi_task`` (scsi-lowlevel.h) up to the decoded sense."""

    _fields_ = [("status", ctypes.c_int), ("cdb_size", ctypes.c_int), ("xfer_dir", ctypes.c_int),
                ("expxferlen", ctypes.c_int), ("cdb", ctypes.c_ubyte * 16), ("residual_status", ctypes.c_int),
                ("residual", ctypes.c_size_t), ("sense", _Sense)]


@dataclass(frozen=True)
class Outcome:
    status: int  # SAM status, or STATUS_ERROR / STATUS_TIMEOUT when no status came back
    key: int  # sense key (CHECK CONDITION only)
    ascq: int  # ASC << 8 | ASCQ
    error: str  # libiscsi's message


def _library() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("iscsi") or "libiscsi.so.7")
    lib.iscsi_create_context.restype = ctypes.c_void_p
    lib.iscsi_get_error.restype = ctypes.c_char_p
    lib.iscsi_get_error.argtypes = [ctypes.c_void_p]
    for name in ("iscsi_set_targetname", "iscsi_set_session_type", "iscsi_set_timeout",
                 "iscsi_set_noautoreconnect", "iscsi_full_connect_sync", "iscsi_destroy_context",
                 "iscsi_logout_sync"):
        getattr(lib, name).argtypes = None
    for name in ("iscsi_read16_sync", "iscsi_write16_sync"):
        getattr(lib, name).restype = ctypes.POINTER(_Task)
    lib.scsi_free_scsi_task.argtypes = [ctypes.POINTER(_Task)]
    return lib


class Session:
    """One logged-in session to the LUN of an ``iscsi://HOST:PORT/IQN/LUN`` URL."""

    def __init__(self, url: str, *, timeout: int = 0, reconnect: bool = True) -> None:
        self.lib = _library()
        parts = urlsplit(url)
        target, lun = parts.path.strip("/").rsplit("/", 1)
        self.lun = int(lun)
        self.ctx = ctypes.c_void_p(self.lib.iscsi_create_context(INITIATOR.encode()))
        self.lib.iscsi_set_targetname(self.ctx, target.encode())
        self.lib.iscsi_set_session_type(self.ctx, SESSION_NORMAL)
        self.lib.iscsi_set_noautoreconnect(self.ctx, int(not reconnect))
        if self.lib.iscsi_full_connect_sync(self.ctx, parts.netloc.encode(), self.lun):
            raise ConnectionError(f"libiscsi could not log in to {url}: {self.error}")
        self.lib.iscsi_set_timeout(self.ctx, timeout)

    @property
    def error(self) -> str:
        return (self.lib.iscsi_get_error(self.ctx) or b"").decode(errors="replace")

    def read16(self, lba: int, blocks: int, block_size: int = 512) -> Outcome:
        return self._outcome(self.lib.iscsi_read16_sync(self.ctx, self.lun, ctypes.c_uint64(lba),
                                                        blocks * block_size, block_size, 0, 0, 0, 0, 0))

    def write16(self, lba: int, data: bytes, block_size: int = 512) -> Outcome:
        buf = ctypes.create_string_buffer(data, len(data))
        return self._outcome(self.lib.iscsi_write16_sync(self.ctx, self.lun, ctypes.c_uint64(lba), buf,
                                                         len(data), block_size, 0, 0, 0, 0, 0))

    def _outcome(self, task: ctypes._Pointer[_Task]) -> Outcome:  # type: ignore[name-defined]
        if not task:
            return Outcome(STATUS_ERROR, 0, 0, self.error)
        t = task.contents
        outcome = Outcome(t.status, t.sense.key, t.sense.ascq, self.error)
        self.lib.scsi_free_scsi_task(task)
        return outcome

    def close(self) -> None:
        self.lib.iscsi_destroy_context(self.ctx)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
