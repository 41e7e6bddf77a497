"""Running one OSD command (OSD-2 4.7, 5.2): decode the CDB, check the capability, carry out the
command's function, then set and get the attributes its CDB names (OSD-2 5.2.4: the function first,
then the attributes set, then those retrieved, so a CREATE can set and read the attributes of the
object it made). Any failure becomes OSD sense data naming the partition and object.

The Data-Out buffer holds the function's data from offset 0 (WRITE, APPEND ...) and, at the offsets
the attribute parameters give, the set list and the get list; the Data-In buffer holds the function's
data from offset 0 (READ, LIST) and the retrieved attributes at the retrieved attributes offset
(OSD-2 4.14.5).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hpt.media.objects import Kind, ObjectStore
from hpt.scsi.core.command import ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    PARAMETER_LIST_LENGTH_ERROR,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.osd import attributes as A
from hpt.scsi.osd import capability
from hpt.scsi.osd.capability import Permission
from hpt.scsi.osd.cdb import ATTR_FIELD, OBJECT_FIELD, PARTITION_FIELD, GetSet, OsdCdb, decode_offset, parse
from hpt.scsi.osd.sense import osd_sense
from hpt.scsi.osd.values import get_values, set_values

if TYPE_CHECKING:
    from hpt.scsi.core.command import ScsiCommand
    from hpt.scsi.lu import LogicalUnit

_PAGE_MODE = struct.Struct(">IIIIIII")
_LIST_MODE = struct.Struct(">IIIIII4x")
_ONE_MODE = struct.Struct(">IIH18s")


@dataclass(slots=True)
class Ctx:
    """One command in progress: what the handlers read and what they leave for the attributes step.

    ``pid``/``oid`` name the object whose attributes are set and retrieved (a CREATE moves them to the
    object it made); ``kind`` is that object's type, ``append_at`` the offset an APPEND wrote at (both
    reported in the current command attributes page); ``in_len`` the Data-In bytes the function made;
    ``sense`` a non-fatal condition to report once the command is done (READ PAST END)."""

    lu: LogicalUnit
    cmd: ScsiCommand
    cdb: OsdCdb
    store: ObjectStore
    pid: int
    oid: int
    kind: Kind | None = None
    append_at: int | None = None
    in_len: int = 0
    sense: SenseError | None = None
    data_out: memoryview = field(default_factory=lambda: memoryview(b""))

    def data(self, offset: int, length: int) -> memoryview:
        """``length`` bytes of the Data-Out buffer at ``offset``, or PARAMETER LIST LENGTH ERROR."""
        if offset + length > len(self.data_out):
            raise SenseError(PARAMETER_LIST_LENGTH_ERROR, in_cdb=False)
        return self.data_out[offset:offset + length]

    def require(self, pid: int, oid: int, kinds: tuple[Kind, ...]) -> Kind:
        """The object's type if it exists and is one of ``kinds``; else INVALID FIELD IN CDB at the id."""
        if pid and self.store.kind(pid, 0) is None:
            raise SenseError(INVALID_FIELD_IN_CDB, field=PARTITION_FIELD)
        kind = self.store.kind(pid, oid)
        if kind is None or kind not in kinds:
            raise SenseError(INVALID_FIELD_IN_CDB, field=OBJECT_FIELD if oid else PARTITION_FIELD)
        return kind


Handler = Callable[[Ctx], None]


@dataclass(frozen=True, slots=True)
class Action:
    """One service action: its handler, the object types its capability may name, the permissions
    it needs (OSD-2 4.11.2.2) and whether it changes the store."""

    handler: Handler
    types: tuple[Kind, ...]
    permissions: Permission
    changes: bool = True


def run(action: Action, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """Carry out one OSD command; CHECK CONDITION with OSD sense data on failure."""
    try:
        cdb = parse(cmd.cdb)
    except SenseError as err:
        return ScsiResult(Status.CHECK_CONDITION, osd_sense(err, 0, 0))
    ctx = Ctx(lu, cmd, cdb, lu.state.store, cdb.partition, cdb.object,
              data_out=cmd.data_out if cmd.data_out is not None else memoryview(b""))
    try:
        gets, sets = _attribute_parameters(ctx)
        needed = action.permissions
        if gets is not None:
            needed |= Permission.GET_ATTR
        if sets:
            needed |= Permission.SET_ATTR
        capability.check(cdb.capability, cdb.partition, cdb.object, action.types, needed,
                         lambda: ctx.store.created(cdb.partition, cdb.object) // 1_000_000)
        if lu.params.readonly and (action.changes or sets):
            raise SenseError(WRITE_PROTECTED)
        # a command that changes the tree runs as one transaction: a refused attribute set undoes the
        # CREATE or REMOVE before it (object data already written stays: files are not transactional)
        scope = ctx.store.transaction() if action.changes or sets else ctx.store.lock
        with scope:
            action.handler(ctx)
            if ctx.kind is None:
                ctx.kind = ctx.store.kind(ctx.pid, ctx.oid)
            if sets:
                set_values(ctx, sets)
            if gets is not None:
                _retrieve(ctx, *gets)
    except SenseError as err:
        return ScsiResult(Status.CHECK_CONDITION, osd_sense(err, ctx.pid, ctx.oid))
    if ctx.sense is not None:
        return ScsiResult(Status.CHECK_CONDITION, osd_sense(ctx.sense, ctx.pid, ctx.oid), in_len=ctx.in_len)
    return ScsiResult(Status.GOOD, in_len=ctx.in_len)


Gets = tuple[list[tuple[int, int]], int, int, bool]  # (page, number) pairs, allocation, offset, page format
Sets = list[tuple[int, int, bytes]]


def _attribute_parameters(ctx: Ctx) -> tuple[Gets | None, Sets]:
    """The attributes to get and set, from the CDB's attribute parameters and the Data-Out buffer
    (OSD-2 5.2.4.2 one value in the CDB, 5.2.4.3 page, 5.2.4.4 lists)."""
    cdb = ctx.cdb
    mode = cdb.getset
    if mode == GetSet.SET_ONE:
        page, number, length, value = _ONE_MODE.unpack(cdb.attrs)
        if length > len(value):
            raise SenseError(INVALID_FIELD_IN_CDB, field=ATTR_FIELD + 8)
        return None, ([(page, number, value[:length])] if page else [])
    if mode == GetSet.PAGE:
        get_page, alloc, got_off, set_page, set_num, set_len, set_off = _PAGE_MODE.unpack(cdb.attrs)
        sets: Sets = []
        if set_page:
            where = _offset(set_off, ATTR_FIELD + 24)
            sets = [(set_page, set_num, bytes(ctx.data(where, set_len)))] if where is not None else []
        gets = None
        if get_page:
            where = _offset(got_off, ATTR_FIELD + 8)
            gets = ([(get_page, A.ALL)], alloc, where, True) if where is not None else None
        return gets, sets
    if mode == GetSet.LIST:
        get_len, get_off, alloc, got_off, set_len, set_off = _LIST_MODE.unpack(cdb.attrs)
        sets = []
        if set_len:
            where = _offset(set_off, ATTR_FIELD + 20)
            if where is None:
                raise SenseError(INVALID_FIELD_IN_CDB, field=ATTR_FIELD + 20)
            sets = A.parse_value_list(ctx.data(where, set_len))
        gets = None
        if get_len:
            where = _offset(get_off, ATTR_FIELD + 4)
            got = _offset(got_off, ATTR_FIELD + 12)
            if where is None or got is None:
                raise SenseError(INVALID_FIELD_IN_CDB, field=ATTR_FIELD + 12)
            gets = (A.parse_get_list(ctx.data(where, get_len)), alloc, got, False)
        return gets, sets
    return None, []


def _offset(raw: int, field_at: int) -> int | None:
    """A decoded buffer offset; a reserved exponent or an offset beyond 1 TiB is INVALID FIELD IN CDB."""
    try:
        offset = decode_offset(raw)
    except ValueError:
        raise SenseError(INVALID_FIELD_IN_CDB, field=field_at) from None
    if offset is not None and offset > 1 << 40:
        raise SenseError(INVALID_FIELD_IN_CDB, field=field_at)
    return offset


def _retrieve(ctx: Ctx, pairs: list[tuple[int, int]], alloc: int, offset: int, page_mode: bool) -> None:
    """Put the retrieved attributes in the Data-In buffer at ``offset``, cut to the allocation length
    (OSD-2 5.2.4): a value list, or in page format one page."""
    if offset < ctx.in_len:
        raise SenseError(INVALID_FIELD_IN_CDB, field=ATTR_FIELD + (8 if page_mode else 12))
    entries = get_values(ctx, pairs)
    if page_mode:
        page = pairs[0][0]
        raw = A.page_format(page, b"".join(A.value_entry(p, n, v) for p, n, v in entries if v is not None))
    else:
        raw = A.value_list(entries)
    raw = raw[:alloc]
    buf = ctx.cmd.data_in
    if buf is not None and offset < len(buf):
        n = min(len(raw), len(buf) - offset)
        buf[offset:offset + n] = raw[:n]
    ctx.in_len = max(ctx.in_len, offset + len(raw))
