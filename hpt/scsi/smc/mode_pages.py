"""The medium changer's mode pages (SMC-3 7.3): 1Dh element address assignment, 1Eh transport
geometry parameters and 1Fh device capabilities. None is changeable. Page 1Dh depends on the
library's layout, so a changer LU's pages come from :func:`changer_mode_pages`."""

from __future__ import annotations

import struct

from hpt.scsi.smc.elements import ElementType, Layout
from hpt.scsi.spc.mode import ModePage, page_bytes

# device capabilities bits, one per element type (SMC-3 7.3.2)
_MT, _ST, _IE, _DT = 0x01, 0x02, 0x04, 0x08
_HOLDERS = _ST | _IE | _DT  # the picker stores no medium (STOR MT zero)


def _fixed(code: int, body: bytes) -> ModePage:
    page = page_bytes(code, body)
    return ModePage(code, 0, page, bytes(len(page)))


def element_address_assignment(shape: Layout) -> ModePage:
    """1Dh (SMC-3 7.3.3): first address and count of each element type, in page order."""
    fields: list[int] = []
    for kind in (ElementType.TRANSPORT, ElementType.STORAGE, ElementType.IMPORT_EXPORT,
                 ElementType.DATA_TRANSFER):
        fields += (shape.first(kind), shape.count(kind))
    return _fixed(0x1D, struct.pack(">8H2x", *fields))


# 1Eh (SMC-3 7.3.5): one transport element that cannot rotate the medium (ROTATE 0, member 0).
TRANSPORT_GEOMETRY = _fixed(0x1E, bytes(2))
# 1Fh (SMC-3 7.3.2): storage, import/export and data transfer elements hold media; the picker moves
# and exchanges media between any two of them.
DEVICE_CAPABILITIES = _fixed(0x1F, bytes((_HOLDERS, 0, 0, _HOLDERS, _HOLDERS, _HOLDERS, 0, 0, 0, 0,
                                          0, _HOLDERS, _HOLDERS, _HOLDERS, 0, 0, 0, 0)))


def changer_mode_pages(shape: Layout) -> tuple[ModePage, ...]:
    return (element_address_assignment(shape), TRANSPORT_GEOMETRY, DEVICE_CAPABILITIES)
