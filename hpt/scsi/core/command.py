"""The transport-blind SCSI command and its result (SAM-5 5.1: the Execute Command procedure call).

A transport builds a :class:`ScsiCommand` (LUN, CDB, task attribute, I_T nexus, data buffers),
hands it to the target's SCSI core and gets a :class:`ScsiResult` back: status, sense data and
how many bytes the command wanted to move in each direction. The transport works residuals out
from those (SAM-5 5.1: the difference between the expected and the transferred length).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import Status

if TYPE_CHECKING:
    from hpt.scsi.core.stream import DataStream


class TaskAttr(IntEnum):
    """SAM-5 8.6 task attributes (numbered as the iSCSI ATTR field, RFC 7143 11.3.1)."""

    UNTAGGED = 0
    SIMPLE = 1
    ORDERED = 2
    HEAD_OF_QUEUE = 3
    ACA = 4


@dataclass(frozen=True, slots=True)
class Nexus:
    """An I_T nexus: the initiator port and target port names (SAM-5 4.6.1).

    For iSCSI the initiator port is ``<iqn>,i,0x<ISID>`` and the target port ``<iqn>,t,0x<TPGT>``
    (RFC 7143 4.2.7). ``initiator_name`` alone is the TransportID name used by persistent reservations.
    """

    initiator_port: str
    target_port: str
    initiator_name: str = ""
    isid: int = 0
    rtpi: int = 1  # relative target port identifier
    protocol: int = 5  # SPC-5 7.6.1 protocol identifier: 5 = iSCSI, 0 = FCP


class ScsiCommand:
    """One command as the SCSI core sees it.

    ``data_out`` holds the write data (already received, ``expected_out`` bytes at most);
    ``data_in`` is a writable buffer of ``expected_in`` bytes that the handler fills from offset 0.
    ``stream``, set by a transport instead of those buffers for a large READ or WRITE, moves the data
    in pieces (``hpt.scsi.core.stream``).
    """

    __slots__ = ("lun", "cdb", "nexus", "tag", "attr", "data_out", "data_in", "expected_in", "expected_out",
                 "stream")

    def __init__(
        self,
        lun: int,
        cdb: bytes | memoryview,
        nexus: Nexus,
        *,
        tag: int = 0,
        attr: TaskAttr = TaskAttr.SIMPLE,
        data_out: memoryview | None = None,
        data_in: memoryview | None = None,
        expected_in: int = 0,
        expected_out: int = 0,
    ) -> None:
        self.lun = lun
        self.cdb = cdb
        self.nexus = nexus
        self.tag = tag
        self.attr = attr
        self.data_out = data_out
        self.data_in = data_in
        self.expected_in = expected_in
        self.expected_out = expected_out
        self.stream: DataStream | None = None

    @property
    def opcode(self) -> int:
        return self.cdb[0]

    def reply(self, data: bytes | bytearray | memoryview, allocation_length: int | None = None) -> ScsiResult:
        """Copy parameter data into ``data_in``, cut to the CDB's ALLOCATION LENGTH (SPC-5 4.2.5.6).

        Returns a GOOD result whose ``in_len`` is what the command would send (data cut to the
        allocation length), so the transport reports overflow when ``expected_in`` is smaller.
        """
        n = len(data) if allocation_length is None else min(len(data), allocation_length)
        buf = self.data_in
        if buf is not None and n:
            m = min(n, len(buf))
            buf[:m] = data[:m]
        return ScsiResult(Status.GOOD, in_len=n)


class ScsiResult:
    """What a command produced: status, sense data and the lengths it wanted to transfer.

    ``in_len``: bytes of data-in the command produced (may exceed ``expected_in``: overflow);
    ``out_len``: bytes of data-out the command needed (None: exactly what it was given).
    """

    __slots__ = ("status", "sense", "in_len", "out_len")

    def __init__(self, status: int = Status.GOOD, sense: bytes = b"", in_len: int = 0,
                 out_len: int | None = None) -> None:
        self.status = status
        self.sense = sense
        self.in_len = in_len
        self.out_len = out_len

    def __repr__(self) -> str:
        return f"ScsiResult(status={self.status:#x}, sense={self.sense.hex()}, in_len={self.in_len})"


GOOD = ScsiResult()
TASK_SET_FULL = ScsiResult(Status.TASK_SET_FULL)  # the LU's task set is at its depth (SAM-5 5.3.3)
BUSY = ScsiResult(Status.BUSY)  # no buffers now: try again later (SAM-5 5.3.2)
ABORTED = ScsiResult(Status.TASK_ABORTED)
"""Given to a command's completion when task management aborted it: send no response, free its buffers."""
DISCONNECT = ScsiResult(Status.TASK_ABORTED)
"""An injected fault (``hpt.scsi.core.faults``) asks the transport to drop the command's connection: send
no response, free its buffers and close the connection (a transport without connections sends nothing)."""

#: How a command's result comes back (``LogicalUnit.submit``, ``ScsiTarget.submit``).
Completion = Callable[[ScsiResult], None]
