"""A SCSI task as the iSCSI layer tracks it: tags, buffer, and write-data progress (RFC 7143 4.2.2, 11.3);
a bidirectional one also has its read buffer (RFC 7143 11.2.2.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.iscsi.pdu import Pdu
from hpt.scsi.core.command import TaskAttr
from hpt.scsi.core.constants import Asc

if TYPE_CHECKING:
    from hpt.iscsi.stream import IscsiStream

_ATTRS = tuple(TaskAttr)  # indexed by the ATTR field: an enum call per command costs a microsecond


class Task:
    """One SCSI Command PDU from arrival to response.

    ``buf`` is the data buffer (a ring-slot view when it fits) shared by Data-Out reception,
    the SCSI core and Data-In transmission; ``slot`` is its ring index (-1 when not from the ring) and
    ``large`` its handle in an iSER driver's ``LargeBuffers`` (-1 when not from there).
    """

    __slots__ = (
        "itt",
        "lun",
        "lun_raw",
        "cdb",
        "attr",
        "edtl",
        "read",
        "write",
        "final",
        "cmdsn",
        "immediate",
        "slot",
        "large",
        "buf",
        "received",
        "unsol_next",
        "unsol_end",
        "unsol_datasn",
        "r2t_next",
        "r2tsn",
        "r2ts",
        "aborted",
        "unsol_done",
        "error",
        "busy",
        "stream",
    )

    bidi = False  # a class attribute: an ordinary command pays no store for it

    def __init__(self, pdu: Pdu, lun: int) -> None:
        self.itt = pdu.itt
        self.lun = lun
        self.lun_raw = pdu.lun
        self.cdb = pdu.cdb()
        attr = pdu.attr
        self.attr = _ATTRS[attr] if attr <= 4 else TaskAttr.SIMPLE
        self.edtl = pdu.edtl
        self.read = pdu.read_bit
        self.write = pdu.write_bit
        self.final = pdu.final
        self.cmdsn = pdu.cmdsn
        self.immediate = pdu.immediate
        self.slot = -1
        self.large = -1
        self.buf: memoryview | None = None
        self.received = 0
        self.unsol_next = 0
        self.unsol_end = 0
        self.unsol_datasn = 0
        self.r2t_next = 0
        self.r2tsn = 0
        self.r2ts: dict[int, list[int]] = {}  # TTT -> [next offset, end offset, next DataSN]
        self.aborted = False
        self.unsol_done = True
        self.error: Asc | None = (
            None  # set when a Data-Out broke sequence: the command ends in CHECK CONDITION
        )
        self.busy = False  # no data buffer could be had: the command ends in BUSY
        self.stream: IscsiStream | None = None  # a large READ or WRITE in pieces (hpt.iscsi.stream)


class BidiTask(Task):
    """A bidirectional command (R and W set, RFC 7143 11.3.1): ``buf`` takes the write data as for any
    write (immediate data, Data-Out); ``in_buf`` of ``in_len`` bytes (the Bidirectional Read Expected Data
    Transfer Length) is what the command reads into and the target sends back in Data-In PDUs."""

    __slots__ = ("in_buf", "in_len")

    bidi = True

    def __init__(self, pdu: Pdu, lun: int, in_len: int) -> None:
        super().__init__(pdu, lun)
        self.in_buf: memoryview | None = None
        self.in_len = in_len
