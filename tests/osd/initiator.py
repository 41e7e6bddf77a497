"""A small OSD-2 initiator, written from T10 OSD-2 and independent of hpt's target code: it builds the
236-byte CDBs (OSD-2 5.2), the NOSEC capabilities (4.11.2.2), the attribute lists (7.1.3) and the
Data-Out buffers, and decodes what comes back. It runs over any transport given as a function that
takes (CDB, Data-Out bytes, Data-In length) and returns a :class:`Reply`."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# service actions (OSD-2 6: 8880h + n)
FORMAT_OSD, CREATE, LIST, READ, WRITE, APPEND, FLUSH = 0x8881, 0x8882, 0x8883, 0x8885, 0x8886, 0x8887, 0x8888
REMOVE, CREATE_PARTITION, REMOVE_PARTITION = 0x888A, 0x888B, 0x888C
GET_ATTRIBUTES, SET_ATTRIBUTES, CREATE_AND_WRITE = 0x888E, 0x888F, 0x8892
CREATE_COLLECTION, REMOVE_COLLECTION, LIST_COLLECTION = 0x8895, 0x8896, 0x8897
FLUSH_COLLECTION, FLUSH_PARTITION, FLUSH_OSD = 0x889A, 0x889B, 0x889C

ROOT, PARTITION, COLLECTION, USER = 0x01, 0x02, 0x40, 0x80  # capability OBJECT TYPE
DESC_OBJECT, DESC_PARTITION = 1, 2  # OBJECT DESCRIPTOR TYPE
ALL_PERMISSIONS = 0xFFE0  # READ .. POL/SEC
READ_ONLY = 0x8000 | 0x2000  # READ, GET_ATTR
CURRENT_COMMAND = 0xFFFFFFFE
USER_INFO, PARTITION_INFO, COLLECTION_INFO, ROOT_INFO = 0x1, 0x30000001, 0x60000001, 0x90000001
USER_COLLECTIONS = 0x4
UNDEFINED = 0xFFFF
LIST_MODE = 0x30  # byte 11: GET/SET CDBFMT 3, attribute lists
ATTRS_AT = 1 << 21  # where this initiator puts attribute lists in its buffers (past any data)


def encode_offset(offset: int) -> int:
    """An OSD-2 4.14.5 buffer offset: a 28-bit mantissa << (a signed 4-bit exponent + 8), the exponent
    -5..7 (0 first: the plain form of a multiple of 256)."""
    for exponent in (*range(8), *range(-1, -6, -1)):
        shift = exponent + 8
        if not offset % (1 << shift) and offset >> shift < 1 << 28:
            return ((exponent & 0xF) << 28) | (offset >> shift)
    raise ValueError(f"offset {offset} cannot be encoded")


def capability(pid: int, oid: int, otype: int, permissions: int = ALL_PERMISSIONS,
               descriptor: int | None = None, method: int = 0, fmt: int = 2, expires_ms: int = 0,
               created_ms: int = 0) -> bytes:
    """A 104-byte capability (OSD-2 4.11.2.2) for the NOSEC security method."""
    if descriptor is None:
        descriptor = DESC_OBJECT if otype in (USER, COLLECTION) else DESC_PARTITION
    raw = bytearray(104)
    raw[0], raw[2] = fmt, method
    raw[4:10] = expires_ms.to_bytes(6, "big")
    raw[42:48] = created_ms.to_bytes(6, "big")  # OBJECT CREATED TIME
    raw[48] = otype
    raw[49:51] = permissions.to_bytes(2, "big")
    raw[55] = descriptor << 4
    struct.pack_into(">QQ", raw, 72, pid, oid)
    return bytes(raw)


def cdb(action: int, pid: int = 0, oid: int = 0, *, length: int = 0, start: int = 0, list_id: int = 0,
        specific: int = 0, attrs: bytes = bytes(28), cap: bytes | None = None,
        otype: int | None = None) -> bytes:
    """The 236-byte OSD CDB (OSD-2 5.2.1); the capability defaults to one for exactly this object."""
    if cap is None:
        if otype is None:
            otype = ROOT if not pid else PARTITION if not oid else USER
        cap = capability(pid, oid, otype)
    head = struct.pack(">BB5xBHBBB3xQQQQI", 0x7F, 0, 228, action, 0, specific, 0, pid, oid, length, start,
                       list_id)
    raw = head + attrs + cap + bytes(52)
    assert len(raw) == 236
    return raw


def list_attrs(get_len: int = 0, get_off: int = 0xFFFFFFFF, alloc: int = 0, got_off: int = 0xFFFFFFFF,
               set_len: int = 0, set_off: int = 0xFFFFFFFF) -> bytes:
    """The attribute parameters of GET/SET CDBFMT 3 (OSD-2 5.2.4.4), bytes 52..79."""
    return struct.pack(">IIIIII4x", get_len, get_off, alloc, got_off, set_len, set_off)


def get_list(pairs: Iterable[tuple[int, int]]) -> bytes:
    body = b"".join(struct.pack(">II", p, n) for p, n in pairs)
    return struct.pack(">B3xI", 0x01, len(body)) + body


def value_list(entries: Iterable[tuple[int, int, bytes]]) -> bytes:
    body = b""
    for page, number, value in entries:
        entry = struct.pack(">II6xH", page, number, len(value)) + value
        body += entry + bytes(-len(entry) & 7)
    return struct.pack(">B3xI", 0x09, len(body)) + body


def parse_values(raw: bytes) -> dict[tuple[int, int], bytes | None]:
    """A retrieved value list (09h): {(page, number): value, None when undefined}."""
    kind, length = struct.unpack_from(">B3xI", raw)
    assert kind & 0xF == 0x09, raw[:8].hex()
    body, out, off = raw[8:8 + length], {}, 0
    while off + 16 <= len(body):
        page, number, n = struct.unpack_from(">II6xH", body, off)
        if n == UNDEFINED:
            out[(page, number)] = None
            off += 16
            continue
        out[(page, number)] = body[off + 16:off + 16 + n]
        off += (16 + n + 7) & ~7
    return out


@dataclass
class Reply:
    status: int
    sense: bytes
    data: bytes

    @property
    def key_asc(self) -> tuple[int, int, int]:
        """Sense key, ASC, ASCQ of descriptor-format (or fixed-format) sense data."""
        s = self.sense
        if len(s) >= 4 and s[0] & 0x7F == 0x72:
            return s[1] & 0xF, s[2], s[3]
        return (s[2] & 0xF, s[12], s[13]) if len(s) >= 14 else (0, 0, 0)

    def descriptor(self, kind: int) -> bytes | None:
        """A sense data descriptor of type ``kind`` (descriptor format)."""
        s, off = self.sense, 8
        while off + 2 <= len(s):
            if s[off] == kind:
                return s[off:off + 2 + s[off + 1]]
            off += 2 + s[off + 1]
        return None


Transport = Callable[[bytes, bytes, int], Reply]


class OsdError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(f"status {reply.status:#x} sense {reply.key_asc}")
        self.reply = reply


class OsdClient:
    """OSD-2 commands over a transport; every method checks GOOD status (or raises OsdError)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def send(self, raw_cdb: bytes, out: bytes = b"", read: int = 0) -> Reply:
        return self.transport(raw_cdb, out, read)

    def ok(self, raw_cdb: bytes, out: bytes = b"", read: int = 0) -> Reply:
        reply = self.send(raw_cdb, out, read)
        if reply.status != 0:
            raise OsdError(reply)
        return reply

    def _with_attrs(self, action: int, pid: int, oid: int, data: bytes = b"", read: int = 0,
                    sets: Iterable[tuple[int, int, bytes]] = (), gets: Iterable[tuple[int, int]] = (),
                    alloc: int = 4096, **kw: Any) -> tuple[Reply, dict[tuple[int, int], bytes | None]]:
        """A command with attribute lists: the set list and the get list go in the Data-Out buffer at
        ATTRS_AT and ATTRS_AT + 64 KiB, the retrieved list comes back in the Data-In buffer at
        ATTRS_AT (a bidirectional command when both buffers are used)."""
        sets, gets = list(sets), list(gets)
        out = bytearray(data)
        params = dict(get_len=0, get_off=0xFFFFFFFF, alloc=0, got_off=0xFFFFFFFF, set_len=0,
                      set_off=0xFFFFFFFF)
        base = max(len(data), read)
        at = (base + 4095) & ~4095 if base else 0
        if sets:
            raw = value_list(sets)
            out = out.ljust(at, b"\0") + raw
            params.update(set_len=len(raw), set_off=encode_offset(at))
            at = (len(out) + 4095) & ~4095
        got = 0
        if gets:
            raw = get_list(gets)
            out = out.ljust(at, b"\0") + raw
            got = (read + 4095) & ~4095 if read else 0
            params.update(get_len=len(raw), get_off=encode_offset(at), alloc=alloc,
                          got_off=encode_offset(got))
            read = got + alloc
        reply = self.ok(cdb(action, pid, oid, specific=LIST_MODE, attrs=list_attrs(**params), **kw),
                        bytes(out), read)
        values = parse_values(reply.data[got:]) if gets else {}
        return reply, values

    # -- the tree
    def format_osd(self, capacity: int = 0) -> None:
        self.ok(cdb(FORMAT_OSD, length=capacity))

    def create_partition(self, pid: int = 0) -> int:
        _, values = self._with_attrs(CREATE_PARTITION, pid, 0, gets=[(CURRENT_COMMAND, 3)],
                                     cap=capability(pid, 0, PARTITION if pid else ROOT))
        return int.from_bytes(values[(CURRENT_COMMAND, 3)] or b"", "big")

    def remove_partition(self, pid: int) -> None:
        self.ok(cdb(REMOVE_PARTITION, pid))

    def create(self, pid: int, oid: int = 0, sets: Iterable[tuple[int, int, bytes]] = (),
               collection: bool = False) -> int:
        """CREATE (or CREATE COLLECTION) of one object; its id from the current command page."""
        action = CREATE_COLLECTION if collection else CREATE
        otype = (COLLECTION if collection else USER) if oid else PARTITION
        _, values = self._with_attrs(action, pid, oid, sets=sets, gets=[(CURRENT_COMMAND, 4)],
                                     cap=capability(pid, oid, otype))
        return int.from_bytes(values[(CURRENT_COMMAND, 4)] or b"", "big")

    def remove(self, pid: int, oid: int) -> None:
        self.ok(cdb(REMOVE, pid, oid))

    def remove_collection(self, pid: int, cid: int, force: bool = False) -> None:
        self.ok(cdb(REMOVE_COLLECTION, pid, cid, specific=1 if force else 0, otype=COLLECTION))

    # -- data
    def write(self, pid: int, oid: int, data: bytes, offset: int = 0) -> None:
        self.ok(cdb(WRITE, pid, oid, length=len(data), start=offset), data)

    def append(self, pid: int, oid: int, data: bytes) -> int:
        """APPEND; the offset it wrote at (current command page, attribute 5)."""
        _, values = self._with_attrs(APPEND, pid, oid, data, gets=[(CURRENT_COMMAND, 5)], length=len(data))
        return int.from_bytes(values[(CURRENT_COMMAND, 5)] or b"", "big")

    def create_and_write(self, pid: int, data: bytes, oid: int = 0) -> int:
        _, values = self._with_attrs(CREATE_AND_WRITE, pid, oid, data, gets=[(CURRENT_COMMAND, 4)],
                                     length=len(data), cap=capability(pid, oid, USER if oid else PARTITION))
        return int.from_bytes(values[(CURRENT_COMMAND, 4)] or b"", "big")

    def read(self, pid: int, oid: int, length: int, offset: int = 0) -> bytes:
        return self.ok(cdb(READ, pid, oid, length=length, start=offset), read=length).data

    def read_with_length(self, pid: int, oid: int, length: int) -> tuple[bytes, int]:
        """READ and, in the same command, the logical length (a bidirectional command)."""
        reply, values = self._with_attrs(READ, pid, oid, read=length, gets=[(USER_INFO, 0x82)], length=length)
        return reply.data[:length], int.from_bytes(values[(USER_INFO, 0x82)] or b"", "big")

    # -- lists
    def _list(self, raw_cdb: bytes, alloc: int) -> tuple[list[int], int, int]:
        data = self.ok(raw_cdb, read=alloc).data
        additional, cont, _list_id, flags = struct.unpack_from(">QQI3xB", data)
        ids = [int.from_bytes(data[i:i + 8], "big") for i in range(24, 8 + additional, 8)]
        return ids, cont, flags >> 2

    def list(self, pid: int, start: int = 0, alloc: int = 4096) -> tuple[list[int], int, int]:
        """(ids, continuation id, OBJECT DESCRIPTOR FORMAT) of LIST: partition ids (01h) when ``pid`` is 0,
        else user object ids (21h)."""
        return self._list(cdb(LIST, pid, length=alloc, start=start, list_id=7), alloc)

    def list_collection(self, pid: int, cid: int, alloc: int = 4096) -> list[int]:
        return self._list(cdb(LIST_COLLECTION, pid, cid, length=alloc, otype=COLLECTION), alloc)[0]

    # -- attributes
    def get_attrs(self, pid: int, oid: int, pairs: Iterable[tuple[int, int]], otype: int | None = None
                  ) -> dict[tuple[int, int], bytes | None]:
        return self._with_attrs(GET_ATTRIBUTES, pid, oid, gets=pairs, otype=otype)[1]

    def set_attrs(self, pid: int, oid: int, entries: Iterable[tuple[int, int, bytes]],
                  otype: int | None = None) -> None:
        self._with_attrs(SET_ATTRIBUTES, pid, oid, sets=entries, otype=otype)

    def flush(self, action: int, pid: int = 0, oid: int = 0, otype: int | None = None) -> None:
        self.ok(cdb(action, pid, oid, otype=otype))
