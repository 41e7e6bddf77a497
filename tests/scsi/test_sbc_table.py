"""The SBC opcode table, the disk factory and the CDB decoders."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpt.scsi.core import cdb
from hpt.scsi.core.command import ScsiCommand
from hpt.scsi.core.constants import INVALID_OPCODE, Status
from hpt.scsi.core.opcodes import Access
from hpt.scsi.lu import LuParams
from hpt.scsi.sbc import table as sbc
from hpt.scsi.sbc.profile import make_disk
from hpt.scsi.spc.commands import SPC_ENTRIES
from hpt.store.ram import RamStore
from tests.scsi.sbc_support import BS, NEXUS, Disk, sa16

# tgt's SBC disk opcodes (reference tgt.md) minus the SPC ones, plus COMPARE AND WRITE, READ DEFECT DATA,
# SANITIZE, EXTENDED COPY, RECEIVE COPY RESULTS, WRITE ATOMIC(16), LOG SELECT and LOG SENSE, READ and
# WRITE BUFFER (echo buffer), REPORT and SET TIMESTAMP.
EXPECTED = {0x04, 0x08, 0x0A, 0x1B, 0x1E, 0x25, 0x28, 0x2A, 0x2E, 0x2F, 0x34, 0x35, 0x37, 0x3B, 0x3C, 0x41,
            0x42, 0x48, 0x4C, 0x4D, 0x83, 0x84, 0x88, 0x89, 0x8A, 0x8B, 0x8E, 0x8F, 0x90, 0x91, 0x93, 0x9C,
            0x9E, 0xA3, 0xA4, 0xA8, 0xAA, 0xAE, 0xAF, 0xB7}
READS = {0x08, 0x28, 0x2F, 0x34, 0x37, 0x88, 0x8F, 0x90, 0xA8, 0xAF, 0xB7}


def test_every_opcode_has_one_entry_with_a_consistent_usage_map() -> None:
    keys = [(e.opcode, e.service_action) for e in sbc.SBC_ENTRIES]
    assert len(keys) == len(set(keys))
    assert {e.opcode for e in sbc.SBC_ENTRIES} == EXPECTED
    for e in sbc.SBC_ENTRIES:
        assert e.usage[0] == e.opcode and len(e.usage) == e.cdb_len
        assert e.cdb_len == {0: 6, 1: 10, 2: 10, 4: 16, 5: 12}[e.opcode >> 5]
        if e.service_action is not None:
            assert e.usage[1] & 0x1F == e.service_action  # bits 7..5: IMMED, AUSE ... (SANITIZE)
        assert not e.ua_exempt


def test_access_classes() -> None:
    for e in sbc.SBC_ENTRIES:
        if e.opcode == 0x9E and e.service_action == 0x10 or e.opcode in (0x25, 0x4D, 0x84, 0xA3):
            assert e.access == Access.ALWAYS, e.name
        elif e.opcode in (0x3B, 0x3C):
            assert e.access == Access.CONFLICT, e.name
        elif e.opcode in READS or e.opcode == 0x9E:
            assert e.access == Access.READ, e.name
        else:
            assert e.access == Access.WRITE, e.name


@pytest.mark.parametrize("opcode", [0x28, 0x2A, 0x88, 0x8A, 0xA8, 0xAA, 0x89, 0x8B])
def test_usage_advertises_dpo_fua(opcode) -> None:
    entry = next(e for e in sbc.SBC_ENTRIES if e.opcode == opcode)
    assert entry.usage[1] & 0x18 == 0x18


def test_make_disk_offers_unmap_only_when_thin() -> None:
    thin = make_disk(1, LuParams(thin=True), RamStore(1 << 20))
    full = make_disk(1, LuParams(), RamStore(1 << 20))
    assert thin.table.get(0x42) is not None and full.table.get(0x42) is None
    assert full.table.get(0x9E, 0x12) is not None
    assert thin.lun == 1 and thin.nblocks == (1 << 20) // 512


def test_make_disk_includes_spc_entries() -> None:
    lu = make_disk(0, LuParams(), RamStore(1 << 20))
    for entry in SPC_ENTRIES:
        if entry.opcode not in EXPECTED:
            assert lu.table.get(entry.opcode, entry.service_action) is entry


@pytest.mark.parametrize("block_size", [0, 520, -512])
def test_make_disk_rejects_bad_block_sizes(block_size) -> None:
    with pytest.raises(ValueError, match="block size"):
        make_disk(0, LuParams(block_size=block_size), RamStore(1 << 20))


def test_unknown_service_action_is_invalid_opcode() -> None:
    reply = Disk().run(sa16(0x13, 0, 32), alloc=32)
    assert reply.asc == INVALID_OPCODE


def test_a_disk_lu_runs_through_execute() -> None:
    lu = make_disk(0, LuParams(), RamStore(1 << 20))
    lu.ua.clear(NEXUS.initiator_port)
    buf = bytearray(8)
    cmd = ScsiCommand(0, struct.pack(">B9x", 0x25), NEXUS, data_in=memoryview(buf), expected_in=8)
    result = lu.execute(cmd)
    assert result.status == Status.GOOD and struct.unpack(">II", buf) == (2047, BS)


# -- CDB decoders -----------------------------------------------------------------------------
@given(st.integers(0, 0x1FFFFF), st.integers(0, 255))
def test_lba_len6(lba, n) -> None:
    raw = struct.pack(">BBHBx", 0x08, lba >> 16, lba & 0xFFFF, n)
    assert cdb.lba_len6(raw) == (lba, n or 256)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1), st.integers(0, 255))
def test_lba_len10(lba, n, group) -> None:
    raw = memoryview(struct.pack(">BBIBHx", 0x28, 0xFF, lba, group, n))
    assert cdb.lba_len10(raw) == (lba, n)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_lba_len12(lba, n) -> None:
    assert cdb.lba_len12(struct.pack(">BBIIxx", 0xA8, 0, lba, n)) == (lba, n)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1))
def test_lba_len16(lba, n) -> None:
    assert cdb.lba_len16(struct.pack(">BBQIxx", 0x88, 0, lba, n)) == (lba, n)


@given(st.binary(min_size=16, max_size=16), st.integers(0, 8))
def test_field_readers(raw, offset) -> None:
    assert cdb.u16(raw, offset) == int.from_bytes(raw[offset:offset + 2], "big")
    assert cdb.u32(raw, offset) == int.from_bytes(raw[offset:offset + 4], "big")
    assert cdb.u64(raw, offset) == int.from_bytes(raw[offset:offset + 8], "big")


def test_a_disk_waits_as_its_store_does() -> None:
    """A disk's commands do no I/O beyond its store's: whether a transport's event loop may run them
    is the store's ``waits`` (memory never waits; a store that says nothing may)."""
    ram = RamStore(64 * BS)
    assert not Disk(ram).lu.waits

    class Plain(RamStore):
        waits = True

    assert Disk(Plain(64 * BS)).lu.waits
