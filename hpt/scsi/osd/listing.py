"""LIST and LIST COLLECTION (OSD-2 6.15 LIST, and LIST COLLECTION): the ids of a partition's objects (of
the root's partitions when the partition id is 0) or of a collection's members, from the INITIAL OBJECT ID
(bytes 40..47) up, as many as the ALLOCATION LENGTH (bytes 32..39) holds. The parameter data: ADDITIONAL
LENGTH (8 bytes), CONTINUATION OBJECT ID (the next id when not all fit, else 0), LIST IDENTIFIER, byte 23
(OBJECT DESCRIPTOR FORMAT in bits 7..2: 01h partition ids, 21h user object ids; LSTCHG in bit 1), then the
ids."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.media.objects import Kind
from hpt.scsi.osd.tree import members

if TYPE_CHECKING:
    from hpt.scsi.osd.command import Ctx

HEADER = 24
PARTITION_IDS, OBJECT_IDS = 0x01, 0x21  # OBJECT DESCRIPTOR FORMAT values
_HEAD = struct.Struct(">QQI3xB")


def _reply(ctx: Ctx, ids: list[int], descriptor_format: int) -> None:
    alloc = min(ctx.cdb.length, 1 << 30)
    fit = max(0, (alloc - HEADER) // 8)
    shown, more = ids[:fit], ids[fit:]
    body = b"".join(i.to_bytes(8, "big") for i in shown)
    raw = _HEAD.pack(16 + len(body), more[0] if more else 0, ctx.cdb.list_id, descriptor_format << 2) + body
    raw = raw[:alloc]
    buf = ctx.cmd.data_in
    if buf is not None:
        n = min(len(raw), len(buf))
        buf[:n] = raw[:n]
    ctx.in_len = len(raw)


def list_objects(ctx: Ctx) -> None:
    fit = max(0, (min(ctx.cdb.length, 1 << 30) - HEADER) // 8)
    if ctx.pid == 0:
        _reply(ctx, ctx.store.ids(0, ctx.cdb.start, limit=fit + 1), PARTITION_IDS)
        return
    ctx.require(ctx.pid, 0, (Kind.PARTITION,))
    _reply(ctx, ctx.store.ids(ctx.pid, ctx.cdb.start, limit=fit + 1), OBJECT_IDS)


def list_collection(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.COLLECTION,))
    _reply(ctx, [i for i in members(ctx, ctx.oid) if i >= ctx.cdb.start], OBJECT_IDS)
