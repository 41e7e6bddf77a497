"""What the iSER driver needs from pyverbs (rdma-core) for the connection manager, imported lazily so
hpt runs without it; the verbs objects and the data path are hpt's own (``hpt.native.verbs``).

pyverbs 44 gives the RDMA CM event channel no file descriptor, and its CM events do not say which
connection they are for. The fd is found as the file the constructor opens (``/dev/infiniband/rdma_cm``),
made non-blocking and polled by the portal's event loop; an event's ``rdma_cm_id`` pointer is read from
the event structure, checked against the event type stored next to it, and a CMID's from the CMID,
checked against the event channel it reports to. Closing a connection's CMID in pyverbs 44 also
invalidates the listener's device context (it shares it), so ``drop_cm_id`` destroys the id itself.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

CM_DEVICE = "/dev/infiniband/rdma_cm"
# CPython object layout of pyverbs' CMEvent: PyObject head (16), __weakref__, logger, vtable, event
_EVENT_PTR_OFFSET = 40
_EVENT_TYPE_OFFSET = 16  # struct rdma_cm_event { rdma_cm_id *id; rdma_cm_id *listen_id; enum event; ... }
_CMID_ID_OFFSET = 40  # pyverbs CMID: the same head, then ``rdma_cm_id *id``
_kept: list[Any] = []  # CMIDs whose id could not be destroyed safely: never deallocated


class IserUnavailable(Exception):
    """iSER cannot run here: no pyverbs, no RDMA device at the portal's address, or a verbs failure."""


def load() -> ModuleType:
    """The pyverbs package with the submodules the driver uses; IserUnavailable when it is missing."""
    try:
        import pyverbs  # noqa: F401
        import pyverbs.cm_enums  # noqa: F401
        import pyverbs.cmid  # noqa: F401
    except ImportError as err:
        raise IserUnavailable(f"pyverbs (Debian python3-pyverbs) is not installed: {err}") from None
    return pyverbs


def _fds(kind: str) -> set[int]:
    out = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == kind:
                out.add(int(name))
        except OSError:
            continue
    return out


def with_new_fd(create: Callable[[], T], kind: str) -> tuple[T, int]:
    """Call ``create`` and return what it made with the one new fd of ``kind`` it opened, non-blocking."""
    before = _fds(kind)
    obj = create()
    new = _fds(kind) - before
    if len(new) != 1:
        raise IserUnavailable(f"cannot find the file descriptor of {kind} ({len(new)} new)")
    fd = new.pop()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    return obj, fd


def event_cm_id(event: Any) -> int | None:
    """The ``rdma_cm_id`` address a pyverbs CMEvent is about, or None if the layout does not check out."""
    ptr = ctypes.c_void_p.from_address(id(event) + _EVENT_PTR_OFFSET).value
    if not ptr:
        return None
    if ctypes.c_int.from_address(ptr + _EVENT_TYPE_OFFSET).value != int(event.event_type):
        return None
    return ctypes.c_void_p.from_address(ptr).value


def cmid_pointer(cmid: Any, cm_fd: int) -> int | None:
    """The ``rdma_cm_id`` address of a pyverbs CMID, or None if it does not report to the event channel
    whose descriptor is ``cm_fd`` (``rdma_cm_id.channel``, a ``struct rdma_event_channel { int fd; }``)."""
    ptr = ctypes.c_void_p.from_address(id(cmid) + _CMID_ID_OFFSET).value
    if not ptr:
        return None
    channel = ctypes.c_void_p.from_address(ptr + 8).value
    if not channel or ctypes.c_int.from_address(channel).value != cm_fd:
        return None
    return ptr


def address_of(view: memoryview) -> int:
    """The address of a writable buffer's first byte (for SGEs and memory registration)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


_ROUTE_ADDR = 32  # struct rdma_cm_id: four pointers, then route.addr {src storage, dst storage}
_STORAGE = 128


def _sockaddr(ptr: int) -> str:
    family = ctypes.c_ushort.from_address(ptr).value
    port = int.from_bytes(ctypes.string_at(ptr + 2, 2), "big")
    if family == socket.AF_INET:
        return f"{socket.inet_ntop(socket.AF_INET, ctypes.string_at(ptr + 4, 4))}:{port}"
    if family == socket.AF_INET6:
        return f"[{socket.inet_ntop(socket.AF_INET6, ctypes.string_at(ptr + 8, 16))}]:{port}"
    return "unknown"


def cm_id_addresses(cm_id: int) -> tuple[str, str]:
    """(local, peer) ``host:port`` of a connection's ``rdma_cm_id`` (``route.addr`` src and dst)."""
    base = cm_id + _ROUTE_ADDR
    return _sockaddr(base), _sockaddr(base + _STORAGE)


def drop_cm_id(cmid: Any, cm_id: int | None) -> None:
    """Destroy a connection's ``rdma_cm_id`` without pyverbs closing the listener's shared context and PD."""
    slot = ctypes.c_void_p.from_address(id(cmid) + _CMID_ID_OFFSET)
    if not cm_id or slot.value != cm_id:
        _kept.append(cmid)
        return
    lib = ctypes.CDLL("librdmacm.so.1", use_errno=True)
    lib.rdma_destroy_id.argtypes = [ctypes.c_void_p]
    if lib.rdma_destroy_id(cm_id) != 0:
        _kept.append(cmid)
        return
    slot.value = None  # pyverbs' close() has nothing left to do
