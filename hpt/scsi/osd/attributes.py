"""Attribute lists and page numbers (OSD-2 4.7.3 attribute pages, 7.1.3 attributes lists).

A list starts with an 8-byte header: LIST TYPE in byte 0 (01h: attribute numbers to get; 09h:
attribute values, to set or retrieved), LIST LENGTH in bytes 4..7. A get entry is a page and a number
(8 bytes); a value entry is page, number, 6 reserved bytes, the value's length and the value, padded to
a multiple of 8. A retrieved attribute that is not defined has length FFFFh and no value.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.sense import SenseError

GET_LIST = 0x01
VALUE_LIST = 0x09
UNDEFINED = 0xFFFF  # attribute length of an attribute that is not defined
MAX_VALUE = 0xFFFE
ALL = 0xFFFFFFFF  # attribute number: every attribute of the page; page: every page (OSD-2 4.7.4)

# page ranges by object type (OSD-2 4.7.3)
USER_PAGES, PARTITION_PAGES, COLLECTION_PAGES, ROOT_PAGES = 0x0, 0x30000000, 0x60000000, 0x90000000
RANGE = 0x30000000
CURRENT_COMMAND = 0xFFFFFFFE  # the current command attributes page (OSD-2 7.1.2.24)
INFORMATION = 0x1  # the information page of each range (root, partition, collection, user object)
TIMESTAMPS = 0x3  # the timestamps page of each range (OSD-2 7.1.2.18 for user objects)
USER_COLLECTIONS = 0x4  # the user object collections page: its values are collection ids (OSD-2 7.1.2.19)
APPLICATION_FIRST, APPLICATION_LAST = 0x10000, 0x1FFFFFFF  # application-defined pages within a range

_HEADER = struct.Struct(">B3xI")
_GET = struct.Struct(">II")
_VALUE = struct.Struct(">II6xH")


def _header(data: bytes | memoryview, kind: int) -> memoryview:
    view = memoryview(data)
    if len(view) < 8:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, in_cdb=False)
    list_type, length = _HEADER.unpack_from(view)
    if list_type & 0xF != kind:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0, in_cdb=False)
    if 8 + length > len(view):
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=4, in_cdb=False)
    return view[8:8 + length]


def parse_get_list(data: bytes | memoryview) -> list[tuple[int, int]]:
    """(page, number) pairs of a get list (list type 01h)."""
    body = _header(data, GET_LIST)
    if len(body) % 8:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=4, in_cdb=False)
    return [_GET.unpack_from(body, off) for off in range(0, len(body), 8)]  # type: ignore[misc]


def parse_value_list(data: bytes | memoryview) -> list[tuple[int, int, bytes]]:
    """(page, number, value) of a set list (list type 09h); an empty value deletes the attribute."""
    body = _header(data, VALUE_LIST)
    out: list[tuple[int, int, bytes]] = []
    off = 0
    while off < len(body):
        if off + 16 > len(body):
            raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=off, in_cdb=False)
        page, number, length = _VALUE.unpack_from(body, off)
        if length == UNDEFINED or off + 16 + length > len(body):
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=8 + off + 14, in_cdb=False)
        out.append((page, number, bytes(body[off + 16:off + 16 + length])))
        off += (16 + length + 7) & ~7
    return out


def value_entry(page: int, number: int, value: bytes | None) -> bytes:
    """One value entry, padded to 8 bytes; None: an undefined attribute (length FFFFh)."""
    if value is None:
        return _VALUE.pack(page, number, UNDEFINED)
    raw = _VALUE.pack(page, number, len(value)) + value
    return raw + bytes(-len(raw) & 7)


def value_list(entries: Iterable[tuple[int, int, bytes | None]]) -> bytes:
    """A value list (09h) of ``entries``."""
    body = b"".join(value_entry(p, n, v) for p, n, v in entries)
    return _HEADER.pack(VALUE_LIST, len(body)) + body


def get_list(pairs: Iterable[tuple[int, int]]) -> bytes:
    """A get list (01h) of (page, number) pairs."""
    body = b"".join(_GET.pack(p, n) for p, n in pairs)
    return _HEADER.pack(GET_LIST, len(body)) + body


def page_format(page: int, body: bytes) -> bytes:
    """A page as retrieved in page format (OSD-2 7.1.2.1): page number, page length, its contents."""
    return struct.pack(">II", page, len(body)) + body


def application_defined(page: int) -> bool:
    """A page whose attributes the application defines (values of any content, up to FFFEh bytes)."""
    return page < 0xC0000000 and APPLICATION_FIRST <= page % RANGE <= APPLICATION_LAST
