"""The OSD opcode table: SPC's shared commands plus one row per OSD service action of the
variable-length CDB 7Fh (OSD-2 6, service action codes 8880h + n): its handler, the object types its
capability may name and the permissions it needs (OSD-2 4.11.2.2), and its reservation access (a WRITE
row changes the store: refused on a read-only LU; the FLUSH commands change nothing). Every row is store
work, run off the transport's thread."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from hpt.media.objects import Kind
from hpt.scsi.core.opcodes import VARIABLE_LENGTH, Access, OpcodeEntry, OpcodeTable
from hpt.scsi.osd import data, flush, listing, tree
from hpt.scsi.osd.capability import Permission as P
from hpt.scsi.osd.cdb import CDB_LEN
from hpt.scsi.osd.command import Action, Handler, run
from hpt.scsi.spc.commands import SPC_ENTRIES
from hpt.scsi.spc.rsoc import usage

if TYPE_CHECKING:
    from hpt.scsi.lu import LuParams

R, W = Access.READ, Access.WRITE
ROOT, PART, COLL, USER = Kind.ROOT, Kind.PARTITION, Kind.COLLECTION, Kind.USER
ANY = (ROOT, PART, COLL, USER)
_NONE = P.NONE

#: (service action, name, handler, capability object types, permissions, reservation access)
ACTIONS: tuple[tuple[int, str, Handler, tuple[Kind, ...], P, Access], ...] = (
    (0x8881, "FORMAT OSD", tree.format_osd, (ROOT,), P.DEV_MGMT, W),
    (0x8882, "CREATE", tree.create, (PART, USER), P.CREATE, W),
    (0x8883, "LIST", listing.list_objects, (ROOT, PART), P.READ, R),
    (0x8885, "READ", data.read, (USER,), P.READ, R),
    (0x8886, "WRITE", data.write, (USER,), P.WRITE, W),
    (0x8887, "APPEND", data.append, (USER,), P.APPEND, W),
    (0x8888, "FLUSH", flush.flush, (USER,), _NONE, R),
    (0x888A, "REMOVE", tree.remove, (USER,), P.REMOVE, W),
    (0x888B, "CREATE PARTITION", tree.create_partition, (ROOT, PART), P.CREATE, W),
    (0x888C, "REMOVE PARTITION", tree.remove_partition, (PART,), P.REMOVE, W),
    (0x888E, "GET ATTRIBUTES", tree.exists, ANY, _NONE, R),
    (0x888F, "SET ATTRIBUTES", tree.exists, ANY, _NONE, W),
    (0x8892, "CREATE AND WRITE", data.create_and_write, (PART, USER), P.CREATE | P.WRITE, W),
    (0x8895, "CREATE COLLECTION", tree.create_collection, (PART, COLL), P.CREATE, W),
    (0x8896, "REMOVE COLLECTION", tree.remove_collection, (COLL,), P.REMOVE, W),
    (0x8897, "LIST COLLECTION", listing.list_collection, (COLL,), P.READ, R),
    (0x889A, "FLUSH COLLECTION", flush.flush_collection, (COLL,), _NONE, R),
    (0x889B, "FLUSH PARTITION", flush.flush_partition, (PART,), _NONE, R),
    (0x889C, "FLUSH OSD", flush.flush_osd, (ROOT,), _NONE, R),
)

# CDB usage data: the header's bytes the device server reads, then the capability (OSD-2 5.2.1)
_MASKS = (0x00, *bytes(5), 0xFF) + (0, 0) + (0x18, 0x33, 0xFF, 0, 0, 0) + (0xFF,) * 64 + (0xFF,) * 104


def _entry(sa: int, name: str, handler: Handler, types: tuple[Kind, ...], permissions: P,
           access: Access) -> OpcodeEntry:
    action = Action(handler, types, permissions, access == W)
    data = usage(VARIABLE_LENGTH, *_MASKS, *bytes(CDB_LEN - 1 - len(_MASKS)), sa=sa)
    return OpcodeEntry(VARIABLE_LENGTH, name, partial(run, action), CDB_LEN, access, sa, data,
                       store_work=True)


OSD_ENTRIES = [_entry(*row) for row in ACTIONS]


def osd_table(params: LuParams) -> OpcodeTable:
    """SPC's shared commands plus the OSD service actions."""
    return OpcodeTable(SPC_ENTRIES).extend(OSD_ENTRIES)
