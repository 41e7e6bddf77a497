"""User object data: WRITE, READ, APPEND, CREATE AND WRITE (OSD-2 clause 6, under each command's name).
LENGTH is CDB bytes 32..39, STARTING BYTE ADDRESS bytes 40..47; the data is at offset 0 of the Data-Out or
Data-In buffer. A READ past the logical length returns what there is, then CHECK CONDITION, RECOVERED
ERROR, READ PAST END OF USER OBJECT with the residual (OSD-2 clause 6, READ)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.media.objects import Kind
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.osd.cdb import LENGTH_FIELD, START_FIELD
from hpt.scsi.osd.sense import READ_PAST_END
from hpt.scsi.osd.tree import create_user

if TYPE_CHECKING:
    from hpt.scsi.osd.command import Ctx

MAX_IO = 1 << 30  # the largest transfer one command moves (the transports' buffer limit)
MAX_LENGTH = 1 << 44  # the largest logical length of a user object (16 TiB: what file systems hold)


def _length(ctx: Ctx) -> int:
    """LENGTH, at most MAX_IO, and a STARTING BYTE ADDRESS that keeps the object within MAX_LENGTH."""
    length = ctx.cdb.length
    if length > MAX_IO:
        raise SenseError(INVALID_FIELD_IN_CDB, field=LENGTH_FIELD)
    if ctx.cdb.start + length > MAX_LENGTH:
        raise SenseError(INVALID_FIELD_IN_CDB, field=START_FIELD)
    return length


def write(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.USER,))
    length = _length(ctx)
    ctx.store.write(ctx.pid, ctx.oid, ctx.cdb.start, ctx.data(0, length))


def read(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.USER,))
    length = _length(ctx)
    buf = ctx.cmd.data_in
    view = buf[:length] if buf is not None else memoryview(bytearray(0))
    got = ctx.store.read_into(ctx.pid, ctx.oid, ctx.cdb.start, view)
    end = ctx.store.length(ctx.pid, ctx.oid)
    if ctx.cdb.start + length > end:
        ctx.in_len = got
        ctx.sense = SenseError(READ_PAST_END, info=length - got)
    else:
        ctx.in_len = length


def append(ctx: Ctx) -> None:
    ctx.require(ctx.pid, ctx.oid, (Kind.USER,))
    length = _length(ctx)
    if ctx.store.length(ctx.pid, ctx.oid) + length > MAX_LENGTH:
        raise SenseError(INVALID_FIELD_IN_CDB, field=LENGTH_FIELD)
    ctx.append_at = ctx.store.append(ctx.pid, ctx.oid, ctx.data(0, length))


def create_and_write(ctx: Ctx) -> None:
    """CREATE AND WRITE: a new user object (the requested id or one chosen) and its data."""
    data = ctx.data(0, _length(ctx))
    create_user(ctx)
    ctx.store.write(ctx.pid, ctx.oid, ctx.cdb.start, data)
