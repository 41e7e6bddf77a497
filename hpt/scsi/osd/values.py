"""Attribute values by page (OSD-2 7.1.2): the information and timestamps pages of each object type
computed from the store (the username/OSD name stored, the user object's logical length settable: it
truncates or extends the object), the current command page, the user object collections page
(collection ids, checked), and application-defined pages stored as they are sent. Every set of one
command is one store transaction.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.media.objects import Kind
from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST
from hpt.scsi.osd import attributes as A
from hpt.scsi.osd.data import MAX_LENGTH
from hpt.scsi.osd.sense import AttrSenseError

if TYPE_CHECKING:
    from hpt.scsi.osd.command import Ctx

BASE = {Kind.USER: A.USER_PAGES, Kind.PARTITION: A.PARTITION_PAGES, Kind.COLLECTION: A.COLLECTION_PAGES,
        Kind.ROOT: A.ROOT_PAGES}
USERNAME = 0x9  # the username (OSD name in the root page): stored, settable
LOGICAL_LENGTH = 0x82  # user object information page: settable (truncates or extends)
_U64 = 8


def _u64(value: int) -> bytes:
    return value.to_bytes(_U64, "big")


def _ascii(text: str, size: int) -> bytes:
    return text.encode("ascii", "replace")[:size].ljust(size)


def _info(ctx: Ctx, kind: Kind, pid: int, oid: int) -> dict[int, Callable[[], bytes]]:
    """The computed attributes of an information page (OSD-2 7.1.2.8 root, 7.1.2.9 partition,
    7.1.2.10 collection, 7.1.2.11 user object), by attribute number."""
    store, params = ctx.store, ctx.lu.params
    if kind == Kind.ROOT:
        return {
            0x3: lambda: hashlib.sha1(str(store.path).encode() + _u64(store.meta("generation"))).digest(),
            0x4: lambda: _ascii(params.vendor, 8),
            0x5: lambda: _ascii(params.product, 16),
            0x7: lambda: _ascii(params.revision, 4),
            0x8: lambda: params.serial.encode("ascii", "replace"),
            0x80: lambda: _u64(store.meta("capacity") or shutil.disk_usage(store.path).total),
            0x81: lambda: _u64(sum(store.used(p, o) for p in store.ids(0) for o in store.ids(p))),
            0xC0: lambda: _u64(store.count(0)),
            0x100: lambda: int(time.time() * 1000).to_bytes(6, "big"),
        }
    common = {0x1: lambda: _u64(pid)}
    if kind == Kind.PARTITION:
        return common | {0x81: lambda: _u64(sum(store.used(pid, o) for o in store.ids(pid))),
                         0xC1: lambda: _u64(store.count(pid))}
    if kind == Kind.COLLECTION:
        return common | {0x2: lambda: _u64(oid)}
    return common | {0x2: lambda: _u64(oid), 0x81: lambda: _u64(store.used(pid, oid)),
                     LOGICAL_LENGTH: lambda: _u64(store.length(pid, oid))}


def _timestamps(ctx: Ctx) -> dict[int, Callable[[], bytes]]:
    """The timestamps page (page 3 of each range): attribute 1, when the object was created, in
    milliseconds since the epoch (6 bytes), the value a capability's OBJECT CREATED TIME names."""
    return {0x1: lambda: (ctx.store.created(ctx.pid, ctx.oid) // 1_000_000).to_bytes(6, "big")}


def _current(ctx: Ctx) -> dict[int, Callable[[], bytes]]:
    """The current command attributes page (OSD-2 7.1.2.24): object type, partition and object id of
    the object the command addressed or created, the offset an APPEND wrote at."""
    out = {0x2: lambda: bytes((int(ctx.kind or 0),)), 0x3: lambda: _u64(ctx.pid), 0x4: lambda: _u64(ctx.oid)}
    if ctx.append_at is not None:
        out[0x5] = lambda: _u64(ctx.append_at or 0)
    return out


def _page_values(ctx: Ctx, kind: Kind, page: int) -> list[tuple[int, bytes]]:
    """Every defined attribute of one page, by number."""
    if page == A.CURRENT_COMMAND:
        return [(n, f()) for n, f in sorted(_current(ctx).items())]
    stored = dict(ctx.store.page(ctx.pid, ctx.oid, page))
    computed = _computed(ctx, kind, page)
    if computed:
        stored |= {n: f() for n, f in computed.items()}
    return sorted(stored.items())


def _computed(ctx: Ctx, kind: Kind, page: int) -> dict[int, Callable[[], bytes]]:
    """The attributes of ``page`` that the store computes (information and timestamps pages)."""
    if page == BASE[kind] + A.INFORMATION:
        return _info(ctx, kind, ctx.pid, ctx.oid)
    if page == BASE[kind] + A.TIMESTAMPS:
        return _timestamps(ctx)
    return {}


def _one(ctx: Ctx, kind: Kind, page: int, number: int) -> bytes | None:
    if page == A.CURRENT_COMMAND:
        getter = _current(ctx).get(number)
        return getter() if getter is not None else None
    getter = _computed(ctx, kind, page).get(number)
    if getter is not None:
        return getter()
    return ctx.store.attr(ctx.pid, ctx.oid, page, number)


def get_values(ctx: Ctx, pairs: list[tuple[int, int]]) -> list[tuple[int, int, bytes | None]]:
    """The values of ``pairs`` for the command's object; number FFFFFFFFh: every attribute of the page,
    page FFFFFFFFh: every page (OSD-2 4.7.4). An attribute that is not defined has no value (None)."""
    kind = ctx.store.kind(ctx.pid, ctx.oid) or Kind.USER
    out: list[tuple[int, int, bytes | None]] = []
    for page, number in pairs:
        if page == A.ALL:
            pages = sorted({BASE[kind] + A.INFORMATION, BASE[kind] + A.TIMESTAMPS,
                            *ctx.store.pages(ctx.pid, ctx.oid)})
            out += [(p, n, v) for p in pages for n, v in _page_values(ctx, kind, p)]
        elif number == A.ALL:
            out += [(page, n, v) for n, v in _page_values(ctx, kind, page)]
        else:
            out.append((page, number, _one(ctx, kind, page, number)))
    return out


def _refuse(page: int, number: int) -> AttrSenseError:
    return AttrSenseError(INVALID_FIELD_IN_PARAMETER_LIST, ((page, number),), in_cdb=False)


def set_values(ctx: Ctx, sets: list[tuple[int, int, bytes]]) -> None:
    """Set attributes of the command's object, all or none (one transaction): an empty value deletes.
    Refused (INVALID FIELD IN PARAMETER LIST, the attribute named in the sense data): a page of another
    object type, the current command page, a computed information attribute, a value over FFFEh bytes,
    a collections entry that is not the id of a collection of the partition, any attribute of an object
    the command removed."""
    store = ctx.store
    kind = store.kind(ctx.pid, ctx.oid)
    if kind is None:  # the command removed it: no attributes of a gone object are kept
        raise _refuse(*sets[0][:2])
    base = BASE[kind]
    truncate: int | None = None
    rows: list[tuple[int, int, bytes | None]] = []
    for page, number, value in sets:
        if len(value) > A.MAX_VALUE or number == A.ALL or not base <= page < base + A.RANGE:
            raise _refuse(page, number)
        if page == base + A.INFORMATION:
            if kind == Kind.USER and number == LOGICAL_LENGTH and len(value) == _U64:
                truncate = int.from_bytes(value, "big")
                if truncate > MAX_LENGTH:
                    raise _refuse(page, number)
                continue
            if number != USERNAME:
                raise _refuse(page, number)
        elif kind == Kind.USER and page == A.USER_COLLECTIONS:
            if value and (len(value) != _U64
                          or store.kind(ctx.pid, int.from_bytes(value, "big")) != Kind.COLLECTION):
                raise _refuse(page, number)
        elif not A.application_defined(page):
            raise _refuse(page, number)
        rows.append((page, number, value or None))
    with store.transaction() as db:
        store.set_attrs(db, ctx.pid, ctx.oid, rows)
        if truncate is not None:
            store.truncate(ctx.pid, ctx.oid, truncate)
