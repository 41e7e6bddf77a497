"""OSD sense data (OSD-2 4.16): descriptor format always, with the OSD object identification sense data
descriptor (06h) naming the partition and object and, for attribute errors, the OSD attribute
identification descriptor (08h); and the OSD-specific additional sense codes (OSD-2 4.16.1)."""

from __future__ import annotations

import struct

from hpt.scsi.core.constants import Asc, SenseKey
from hpt.scsi.core.sense import SenseError, build_sense

READ_PAST_END = Asc(SenseKey.RECOVERED_ERROR, 0x3B, 0x17)  # READ PAST END OF USER OBJECT
NOT_EMPTY = Asc(SenseKey.ILLEGAL_REQUEST, 0x2C, 0x0A)  # PARTITION OR COLLECTION CONTAINS USER OBJECTS
OBJECT_ID_DESCRIPTOR = 0x06
ATTRIBUTE_ID_DESCRIPTOR = 0x08


class AttrSenseError(SenseError):
    """A SenseError about attributes: ``attributes`` are the (page, number) pairs it names."""

    def __init__(self, asc: Asc, attributes: tuple[tuple[int, int], ...], **kwargs: object) -> None:
        super().__init__(asc, **kwargs)  # type: ignore[arg-type]
        self.attributes = attributes


def osd_sense(err: SenseError, partition: int, obj: int) -> bytes:
    """Descriptor-format sense for ``err`` with the object identification descriptor of the command's
    partition and object (OSD-2 4.16.2.2) and, for an attribute error, its attributes (4.16.2.4)."""
    base = bytearray(build_sense(err.asc, True, err.field, err.bit, err.in_cdb, err.info))
    extra = struct.pack(">BB6xIIQQ", OBJECT_ID_DESCRIPTOR, 0x1E, 0, 0, partition, obj)
    attrs = err.attributes if isinstance(err, AttrSenseError) else ()
    if attrs:
        pairs = b"".join(struct.pack(">II", page, num) for page, num in attrs)
        extra += struct.pack(">BBxx", ATTRIBUTE_ID_DESCRIPTOR, 2 + len(pairs)) + pairs
    base[7] += len(extra)
    return bytes(base) + extra
