"""FLUSH, FLUSH COLLECTION, FLUSH PARTITION, FLUSH OSD (OSD-2 6.8): the object's (or the
partition's, or every) data and the tree and attributes made durable; FLUSH SCOPE (byte 11 bits 1..0)
may ask for attributes only, which a full flush covers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.media.objects import Kind

if TYPE_CHECKING:
    from hpt.scsi.osd.command import Ctx


def flush(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.USER,))
    ctx.store.flush(ctx.pid, ctx.oid)


def flush_collection(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.COLLECTION,))
    ctx.store.flush(ctx.pid)


def flush_partition(ctx: Ctx) -> None:
    ctx.require(ctx.pid, 0, (Kind.PARTITION,))
    ctx.store.flush(ctx.pid)


def flush_osd(ctx: Ctx) -> None:
    ctx.store.flush()

