"""REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-5 6.35, 6.38)."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.opcodes import OpcodeEntry
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.spc.rsoc import reported, usage, usage_of

from .conftest import Initiator


def rsoc(option: int = 0, opcode: int = 0, sa: int = 0, rctd: bool = False, alloc: int = 65535) -> bytes:
    return struct.pack(">BBBBHIxB", 0xA3, 0x0C, (0x80 if rctd else 0) | option, opcode, sa, alloc, 0)


def descriptors(data: bytes) -> list[tuple[int, int, int, int, bytes]]:
    """(opcode, service action, flags, CDB length, timeouts descriptor) of an all-commands reply."""
    (n,) = struct.unpack_from(">I", data)
    assert n == len(data) - 4
    out, off = [], 4
    while off < len(data):
        op, sa, flags, cdb_len = struct.unpack_from(">BxHxBH", data, off)
        size = 20 if flags & 0x02 else 8
        out.append((op, sa, flags, cdb_len, data[off + 8 : off + size]))
        off += size
    return out


def test_all_commands_match_the_table(a: Initiator, lu: LogicalUnit) -> None:
    descs = descriptors(a.run(rsoc()).data)
    entries = reported(lu.table, lu)
    # the PERSISTENT RESERVE IN/OUT dispatch entries; SET TARGET PORT GROUPS without explicit ALUA
    assert len(entries) == len(list(lu.table)) - 3
    assert [(d[0], d[1]) for d in descs] == [(e.opcode, e.service_action or 0) for e in entries]
    for d, e in zip(descs, entries, strict=True):
        assert d[2] == (0x01 if e.service_action is not None else 0)
        assert d[3] == e.cdb_len == len(usage_of(e))


def test_timeout_descriptors(a: Initiator) -> None:
    for d in descriptors(a.run(rsoc(rctd=True)).data):
        assert d[2] & 0x02 and struct.unpack_from(">H", d[4])[0] == 0x0A


def test_one_command_each(a: Initiator, lu: LogicalUnit) -> None:
    """libiscsi ReportSupportedOpcodes.OneCommand: options 1 and 2 by SERVACTV, then 3 for all."""
    for e in reported(lu.table, lu):
        has_sa = e.service_action is not None
        sa = e.service_action or 0
        one, two = a.run(rsoc(1, e.opcode, sa)), a.run(rsoc(2, e.opcode, sa))
        assert (one.good, two.good) == (not has_sa, has_sa)
        bad = two if not has_sa else one
        assert bad.asc == INVALID_FIELD_IN_CDB
        d = a.run(rsoc(3, e.opcode, sa)).data
        assert d[1] & 0x07 == 0b011 and struct.unpack_from(">H", d, 2)[0] == e.cdb_len
        assert d[4 : 4 + e.cdb_len] == usage_of(e) and d[4] == e.opcode


def test_one_command_with_timeouts(a: Initiator) -> None:
    d = a.run(rsoc(1, 0x12, rctd=True)).data
    assert d[1] & 0x80 and d[4:10] == usage(0x12, 0x03, 0xFF, 0xFF, 0xFF, 0)
    assert struct.unpack_from(">H", d, 10)[0] == 0x0A and len(d) == 4 + 6 + 12


@pytest.mark.parametrize(("option", "opcode", "sa"), [(1, 0xEE, 0), (2, 0xA3, 0x1F), (3, 0xEE, 0)])
def test_not_supported(a: Initiator, option: int, opcode: int, sa: int) -> None:
    r = a.run(rsoc(option, opcode, sa))
    assert r.good and r.data == bytes((0, 0b001, 0, 0))


def test_reserved_reporting_option(a: Initiator) -> None:
    r = a.run(rsoc(4))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (2, 2, True)


def test_allocation_length_cuts(a: Initiator) -> None:
    full = a.run(rsoc()).data
    r = a.run(rsoc(alloc=10))
    assert r.result.in_len == 10 and r.data == full[:10]


def test_usage_places_service_actions() -> None:
    assert usage(0x9E, 0xE0, 0xFF, sa=0x10) == bytes((0x9E, 0xF0, 0xFF))
    cdb = usage(0x7F, *bytes(31), sa=0x1234)
    assert len(cdb) == 32 and cdb[8:10] == b"\x12\x34"


def test_usage_of_entry_without_usage() -> None:
    entry = OpcodeEntry(0xA3, "X", lambda lu, cmd: None, 12, service_action=0x05)  # type: ignore[arg-type,return-value]
    assert usage_of(entry) == bytes((0xA3, 0x05)) + bytes(10)


def rstmf(repd: bool = False, alloc: int = 16) -> bytes:
    return struct.pack(">BBBxxxIxB", 0xA3, 0x0D, 0x80 if repd else 0, alloc, 0)


def test_task_management_functions(a: Initiator) -> None:
    assert a.run(rstmf()).data == bytes((0xDA, 0, 0, 0))  # ATS ATSS CTSS LURS TRS
    d = a.run(rstmf(repd=True)).data
    assert len(d) == 16 and d[0] == 0xDA and d[3] == 0x0C
    r = a.run(rstmf(alloc=3))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == 6
