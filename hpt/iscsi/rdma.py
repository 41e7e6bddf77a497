"""What the iSCSI core asks of a message transport in iSER-assisted mode (RFC 7145 7.3).

The core never touches verbs: it returns these requests from ``Connection.requests()`` and the iSER
driver (``hpt/iser/endpoint.py``) carries them out with SEND, RDMA Write and RDMA Read work requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hpt.iscsi.task import Task


class RemoteBuffers(Protocol):
    """The initiator's advertised buffers that come with a SCSI Command over iSER (RFC 7145 9.2)."""

    @property
    def write_stag(self) -> int | None: ...
    @property
    def write_va(self) -> int: ...
    @property
    def read_stag(self) -> int | None: ...
    @property
    def read_va(self) -> int: ...


class LargeBuffers(Protocol):
    """Registered buffers for commands larger than one ring slot, allocated per command by the driver.

    ``alloc`` returns a handle; -1 when the pool's byte budget is in use (the task waits, like a task
    waiting for a slot); -2 when the buffer cannot be registered. A request above ``limit`` bytes is
    never made.
    """

    @property
    def limit(self) -> int: ...
    def alloc(self, size: int) -> int: ...
    def view(self, handle: int) -> memoryview: ...
    def free(self, handle: int) -> None: ...


@dataclass(slots=True)
class SendPdu:
    """One PDU for one SEND message (RFC 7145 7.3.1: no digests, no padding)."""

    header: bytearray
    data: bytes | bytearray | memoryview | None = None


@dataclass(slots=True)
class RdmaWrite:
    """RDMA-Write ``task.buf[:length]`` to (``stag``, ``va``), then SEND ``response`` (RFC 7145 7.3.5).

    A READ the fast lane answered has no task (None): its data is the start of ring slot ``slot``.
    Either is held until ``Connection.release`` is called for this request.
    """

    task: Task | None
    length: int
    stag: int
    va: int
    response: SendPdu
    slot: int = -1


@dataclass(slots=True)
class RdmaRead:
    """RDMA-Read ``length`` bytes from (``stag``, ``va``) into ``task.buf[offset:]`` (RFC 7145 7.3.6)."""

    task: Task
    offset: int
    length: int
    stag: int
    va: int


Request = SendPdu | RdmaWrite | RdmaRead
