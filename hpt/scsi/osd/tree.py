"""The object tree: FORMAT OSD, CREATE/REMOVE PARTITION, CREATE/REMOVE, CREATE/REMOVE COLLECTION
(OSD-2 clause 6, under each command's name). Ids below 10000h are reserved (OSD-2 4.6): a requested id
there, or one in use, is INVALID FIELD IN CDB pointing at the id; 0 asks the device server to choose one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.media.objects import Kind
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.osd import attributes as A
from hpt.scsi.osd.cdb import OBJECT_FIELD, PARTITION_FIELD
from hpt.scsi.osd.sense import NOT_EMPTY

if TYPE_CHECKING:
    from hpt.scsi.osd.command import Ctx

FIRST_ID = 0x10000
NUMBER_FIELD = 36  # CREATE: NUMBER OF USER OBJECTS, bytes 36..37
FCR = 0x01  # REMOVE COLLECTION byte 11: force collection removal


def format_osd(ctx: Ctx) -> None:
    """FORMAT OSD: every partition and object is gone; the root remains (FORMATTED CAPACITY: bytes 32..39)."""
    ctx.store.format(ctx.cdb.length)
    ctx.kind = Kind.ROOT


def _new_id(ctx: Ctx, pid: int, requested: int, field: int) -> int:
    if requested == 0:
        return ctx.store.next_id(pid, FIRST_ID)
    if requested < FIRST_ID:
        raise SenseError(INVALID_FIELD_IN_CDB, field=field)
    return requested


def create_partition(ctx: Ctx) -> None:
    pid = _new_id(ctx, 0, ctx.cdb.partition, PARTITION_FIELD)
    if ctx.store.kind(pid, 0) is not None:
        raise SenseError(INVALID_FIELD_IN_CDB, field=PARTITION_FIELD)
    ctx.store.create(pid, 0, Kind.PARTITION)
    ctx.pid, ctx.oid, ctx.kind = pid, 0, Kind.PARTITION


def remove_partition(ctx: Ctx) -> None:
    ctx.require(ctx.pid, 0, (Kind.PARTITION,))
    if ctx.store.count(ctx.pid):
        raise SenseError(NOT_EMPTY)
    ctx.store.remove(ctx.pid, 0)


def _create(ctx: Ctx, kind: Kind) -> None:
    ctx.require(ctx.pid, 0, (Kind.PARTITION,))
    oid = _new_id(ctx, ctx.pid, ctx.cdb.object, OBJECT_FIELD)
    if ctx.store.kind(ctx.pid, oid) is not None:
        raise SenseError(INVALID_FIELD_IN_CDB, field=OBJECT_FIELD)
    ctx.store.create(ctx.pid, oid, kind)
    ctx.oid, ctx.kind = oid, kind


def create(ctx: Ctx) -> None:
    """CREATE: one user object, the requested id or a new one (the current command page names it); or
    NUMBER OF USER OBJECTS (bytes 36..37) new ones with consecutive ids when no id is requested (the
    current command page names the first)."""
    count = (ctx.cdb.length >> 16) & 0xFFFF
    if count > 1 and ctx.cdb.object:
        raise SenseError(INVALID_FIELD_IN_CDB, field=NUMBER_FIELD)
    create_user(ctx)
    first = ctx.oid
    for _ in range(count - 1):
        create_user(ctx)
    ctx.oid = first


def create_user(ctx: Ctx) -> None:
    """One user object: the requested id or a new one."""
    _create(ctx, Kind.USER)


def create_collection(ctx: Ctx) -> None:
    _create(ctx, Kind.COLLECTION)


def remove(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.USER,))
    ctx.store.remove(ctx.pid, ctx.oid)


def members(ctx: Ctx, cid: int) -> list[int]:
    """The user objects whose collections page names collection ``cid``."""
    return ctx.store.holders(ctx.pid, A.USER_COLLECTIONS, cid.to_bytes(8, "big"))


def remove_collection(ctx: Ctx) -> None:
    """REMOVE COLLECTION: refused while it has members unless FCR is set; then they leave it."""
    ctx.require(ctx.pid, ctx.oid, (Kind.COLLECTION,))
    inside = members(ctx, ctx.oid)
    if inside and not ctx.cdb.specific & FCR:
        raise SenseError(NOT_EMPTY)
    value = ctx.oid.to_bytes(8, "big")
    with ctx.store.transaction() as db:
        for oid in inside:
            gone = [(A.USER_COLLECTIONS, n, None) for n, v in ctx.store.page(ctx.pid, oid, A.USER_COLLECTIONS)
                    if v == value]
            ctx.store.set_attrs(db, ctx.pid, oid, gone)
    ctx.store.remove(ctx.pid, ctx.oid)


def exists(ctx: Ctx) -> None:
    """GET ATTRIBUTES / SET ATTRIBUTES: no function beyond the attributes step, on an object that exists
    (the root, a partition, a collection or a user object)."""
    ctx.require(ctx.pid, ctx.oid, (Kind.ROOT, Kind.PARTITION, Kind.COLLECTION, Kind.USER))
