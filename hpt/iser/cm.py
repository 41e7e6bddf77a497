"""iSER private data in the RDMA CM Request and Reply (RFC 7145 5.1, 5.2; Linux include/scsi/iser.h).

Byte 0 carries the flags, bytes 1-3 are reserved; the CM pads the rest of its private data with zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

ZBVA_NOT_USED = 0x80  # REQ: the initiator's Base Offsets are virtual addresses, not zero-based
SEND_W_INV_NOT_USED = 0x40  # REQ/REP: no Send with Invalidate
PRIVATE_DATA_LEN = 4


@dataclass(frozen=True, slots=True)
class CmPrivateData:
    zbva_not_used: bool = True
    send_w_inv_not_used: bool = True

    def encode(self) -> bytes:
        flags = ZBVA_NOT_USED if self.zbva_not_used else 0
        if self.send_w_inv_not_used:
            flags |= SEND_W_INV_NOT_USED
        return bytes((flags, 0, 0, 0))

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> CmPrivateData | None:
        """The initiator's flags; None when it sent no iSER private data (an empty or short REQ)."""
        if len(data) < PRIVATE_DATA_LEN:
            return None
        flags = data[0]
        return cls(bool(flags & ZBVA_NOT_USED), bool(flags & SEND_W_INV_NOT_USED))


def reply_private_data(request: CmPrivateData | None) -> bytes:
    """The target's REP (RFC 7145 5.2): it never invalidates remote STags; ZBVA follows the initiator."""
    zbva_not_used = True if request is None else request.zbva_not_used
    return CmPrivateData(zbva_not_used, True).encode()
