"""Persistent reservations: PERSISTENT RESERVE IN/OUT (SPC-5 5.13, 6.16, 6.17) with two and three nexuses."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from hpt.scsi.core.command import ScsiCommand
from hpt.scsi.core.constants import (
    INSUFFICIENT_REGISTRATION_RESOURCES,
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    INVALID_RELEASE_OF_PR,
    PARAMETER_LIST_LENGTH_ERROR,
    REGISTRATIONS_PREEMPTED,
    RESERVATIONS_PREEMPTED,
    RESERVATIONS_RELEASED,
    Status,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.pr.persistent import PrType
from hpt.scsi.pr.persistent_in import persistent_reserve_in
from hpt.scsi.pr.persistent_out import MAX_REGISTRATIONS
from hpt.scsi.pr.transport_id import encode as transport_id
from hpt.scsi.target import ScsiTarget

from .conftest import (
    HOST_B,
    HOST_C,
    READ10,
    TARGET_NAME,
    WRITE10,
    Initiator,
    MemStore,
    Reply,
    make_lu,
    make_nexus,
)

REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT_AND_ABORT, REGISTER_IGNORE, REGISTER_AND_MOVE = range(8)
READ_KEYS, READ_RESERVATION, REPORT_CAPABILITIES, READ_FULL_STATUS = range(4)
WE, EA, WE_RO, EA_RO, WE_AR, EA_AR = 1, 3, 5, 6, 7, 8
SPEC_I_PT, ALL_TG_PT, APTPL = 0x08, 0x04, 0x01
CONFLICT = Status.RESERVATION_CONFLICT
K1, K2, K3 = 0x1111111111111111, 0x2222222222222222, 0x3333333333333333


def prout(ini: Initiator, sa: int, key: int = 0, sa_key: int = 0, pr_type: int = 0, *, scope: int = 0,
          flags: int = 0, extra: bytes = b"", length: int | None = None, lun: int = 0) -> Reply:
    data = struct.pack(">QQ4xB3x", key, sa_key, flags) + extra
    n = len(data) if length is None else length
    return ini.run(struct.pack(">BBBxxIB", 0x5F, sa, scope << 4 | pr_type, n, 0), data, lun=lun)


def prin(ini: Initiator, sa: int, alloc: int = 4096, lun: int = 0) -> Reply:
    return ini.run(struct.pack(">BBxxxxxHB", 0x5E, sa, alloc, 0), alloc=alloc, lun=lun)


def register(ini: Initiator, key: int, flags: int = 0, lun: int = 0) -> Reply:
    return prout(ini, REGISTER_IGNORE, 0, key, flags=flags, lun=lun)


def read_keys(ini: Initiator) -> tuple[int, list[int]]:
    d = prin(ini, READ_KEYS).data
    gen, n = struct.unpack_from(">II", d)
    return gen, [struct.unpack_from(">Q", d, 8 + i)[0] for i in range(0, n, 8)]


def reservation(ini: Initiator) -> tuple[int, int] | None:
    d = prin(ini, READ_RESERVATION).data
    if struct.unpack_from(">I", d, 4)[0] == 0:
        return None
    key, scope_type = struct.unpack_from(">Q4xxB", d, 8)
    return key, scope_type


def ua(lu: LogicalUnit, ini: Initiator) -> object:
    return lu.ua.peek(ini.port)


# -- REGISTER ----------------------------------------------------------------------------------
def test_register_and_unregister(a: Initiator) -> None:
    gen0, keys = read_keys(a)
    assert keys == []
    assert prout(a, REGISTER, 0, K1).good
    assert read_keys(a) == (gen0 + 1, [K1])
    assert prout(a, REGISTER, K1 + 1, K2).status == CONFLICT  # wrong key
    assert prout(a, REGISTER, 0, K2).status == CONFLICT  # libiscsi: re-register must fail
    assert prout(a, REGISTER, K1, K2).good  # change the key
    assert read_keys(a) == (gen0 + 2, [K2])
    assert prout(a, REGISTER, K2, 0).good
    assert read_keys(a) == (gen0 + 3, [])


def test_register_unregistered_edge_cases(a: Initiator) -> None:
    assert prout(a, REGISTER, K1, K2).status == CONFLICT  # unregistered with a RESERVATION KEY
    assert prout(a, REGISTER, 0, 0).good
    assert read_keys(a) == (0, [])  # nothing happened, no generation change


def test_register_and_ignore_existing_key(a: Initiator) -> None:
    assert register(a, K1).good
    assert prout(a, REGISTER_IGNORE, 0xDEAD, K2).good
    assert read_keys(a)[1] == [K2]
    assert register(a, 0).good and read_keys(a)[1] == []


def test_parameter_list_length(a: Initiator) -> None:
    assert prout(a, REGISTER, 0, K1, extra=bytes(4)).asc == PARAMETER_LIST_LENGTH_ERROR
    assert prout(a, REGISTER, 0, K1, length=20).asc == PARAMETER_LIST_LENGTH_ERROR
    assert prout(a, REGISTER, 0, K1, length=32).asc == PARAMETER_LIST_LENGTH_ERROR  # longer than data-out


def test_registration_limit(a: Initiator, lu: LogicalUnit) -> None:
    for i in range(MAX_REGISTRATIONS):
        other = Initiator(a.target, make_nexus(f"iqn.h{i}", i + 1))
        other.clear_ua()
        assert register(other, i + 1).good
    assert register(a, K1).asc == INSUFFICIENT_REGISTRATION_RESOURCES
    assert len(lu.pr.registrations) == MAX_REGISTRATIONS


def test_unknown_service_actions(a: Initiator, lu: LogicalUnit) -> None:
    """libiscsi PrinServiceactionRange: SA 0..3 work, 4..1Fh fail with INVALID FIELD IN CDB (not
    INVALID COMMAND OPERATION CODE, which would read as "PERSISTENT RESERVE IN not implemented")."""
    for sa in range(4):
        assert prin(a, sa).good
    for sa in range(4, 0x20):
        r = prin(a, sa)
        assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 4, True)
    r = prout(a, 8)  # REPLACE LOST RESERVATION is not offered
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 4, True)
    cmd = ScsiCommand(0, bytes((0x5E, 7, 0, 0, 0, 0, 0, 0, 8, 0)), a.nexus, data_in=memoryview(bytearray(8)),
                      expected_in=8)
    with pytest.raises(SenseError) as err:  # the handler itself, as another table could reach it
        persistent_reserve_in(lu, cmd)
    assert err.value.asc == INVALID_FIELD_IN_CDB and err.value.field == 1


# -- RESERVE / READ RESERVATION ----------------------------------------------------------------
@pytest.mark.parametrize("pr_type", [WE, EA, WE_RO, EA_RO, WE_AR, EA_AR])
def test_reserve_each_type(a: Initiator, pr_type: int) -> None:
    assert register(a, K1).good
    gen = read_keys(a)[0]
    assert prout(a, RESERVE, K1, 0, pr_type).good
    expected_key = 0 if PrType(pr_type).all_registrants else K1
    assert reservation(a) == (expected_key, pr_type)
    assert prout(a, RESERVE, K1, 0, pr_type).good  # the holder repeats it
    other = EA if pr_type != EA else WE
    assert prout(a, RESERVE, K1, 0, other).status == CONFLICT
    assert prout(a, RELEASE, K1, 0, pr_type).good
    assert reservation(a) is None
    assert read_keys(a)[0] == gen  # RESERVE and RELEASE leave PRGENERATION alone


def test_reserve_checks(a: Initiator, b: Initiator) -> None:
    assert prout(a, RESERVE, K1, 0, WE).status == CONFLICT  # not registered
    assert register(a, K1).good
    assert prout(a, RESERVE, K2, 0, WE).status == CONFLICT  # wrong key
    r = prout(a, RESERVE, K1, 0, 2)
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (2, 3, True)
    r = prout(a, RESERVE, K1, 0, WE, scope=1)
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (2, 7, True)
    assert prout(a, RESERVE, K1, 0, WE).good
    assert register(b, K2).good
    assert prout(b, RESERVE, K2, 0, WE).status == CONFLICT


def test_read_keys_truncated(a: Initiator) -> None:
    assert register(a, K1).good
    d = prin(a, READ_KEYS, alloc=8).data
    assert len(d) == 8 and struct.unpack_from(">I", d, 4)[0] == 8  # ADDITIONAL LENGTH not cut


def test_report_capabilities(a: Initiator) -> None:
    d = prin(a, REPORT_CAPABILITIES).data
    assert len(d) == 8 and struct.unpack_from(">H", d)[0] == 8
    assert d[2] == 0x1C  # CRH SIP_C ATP_C, no PTPL_C without a state file
    assert d[3] & 0x80 and (d[3] >> 4) & 7 <= 5 and not d[3] & 1
    assert struct.unpack_from(">H", d, 4)[0] == 0xEA01


def test_read_full_status(a: Initiator, b: Initiator) -> None:
    assert register(a, K1, ALL_TG_PT).good
    assert register(b, K2).good
    assert prout(a, RESERVE, K1, 0, WE_RO).good
    d = prin(a, READ_FULL_STATUS).data
    gen, n = struct.unpack_from(">II", d)
    assert n == len(d) - 8
    off, seen = 8, []
    while off < len(d):
        key, flags, scope_type, rtpi, tid_len = struct.unpack_from(">Q4xBB4xHI", d, off)
        tid = d[off + 24 : off + 24 + tid_len]
        seen.append((key, flags, scope_type, rtpi, tid))
        off += 24 + tid_len
    assert seen[0][:4] == (K1, 0x03, WE_RO, 1)  # ALL_TG_PT, R_HOLDER
    assert seen[1][:4] == (K2, 0x00, 0, 1)
    assert seen[1][4] == transport_id(5, HOST_B, b.nexus.isid)
    assert b",i,0x23d000000002\0" in seen[1][4]


# -- access rules (libiscsi ProutReserve.Access*) ----------------------------------------------
@pytest.mark.parametrize(("pr_type", "reg_read", "reg_write", "unreg_read", "unreg_write"), [
    (EA, False, False, False, False),
    (WE, True, False, True, False),
    (EA_RO, True, True, False, False),
    (WE_RO, True, True, True, False),
    (EA_AR, True, True, False, False),
    (WE_AR, True, True, True, False),
])
def test_access(a: Initiator, b: Initiator, pr_type: int, reg_read: bool, reg_write: bool,
                unreg_read: bool, unreg_write: bool) -> None:
    assert register(a, K1).good and register(b, K2).good
    assert prout(a, RESERVE, K1, 0, pr_type).good
    assert a.run(READ10).good and a.run(WRITE10).good
    assert b.run(READ10).good is reg_read and b.run(WRITE10).good is reg_write
    assert b.run(bytes(6)).good  # TEST UNIT READY passes every persistent reservation
    assert prout(b, REGISTER, K2, 0).good
    assert b.run(READ10).good is unreg_read and b.run(WRITE10).good is unreg_write
    assert prout(a, RELEASE, K1, 0, pr_type).good
    assert b.run(WRITE10).good


# -- ownership (libiscsi ProutReserve.Ownership*): no unit attention for the releasing nexus ---
@pytest.mark.parametrize("pr_type", [WE, EA, WE_RO, EA_RO, WE_AR, EA_AR])
def test_holder_unregisters(a: Initiator, b: Initiator, lu: LogicalUnit, pr_type: int) -> None:
    assert register(a, K1).good and register(b, K2).good
    assert prout(a, RESERVE, K1, 0, pr_type).good
    assert prout(a, REGISTER, K1, 0).good
    assert ua(lu, a) is None
    if PrType(pr_type).all_registrants:
        assert reservation(a) == (0, pr_type)
        assert ua(lu, b) is None
        assert prout(b, RELEASE, K2, 0, pr_type).good
    else:
        assert reservation(a) is None
        expected = RESERVATIONS_RELEASED if PrType(pr_type).registrants_only else None
        assert ua(lu, b) == expected
    assert ua(lu, a) is None


def test_last_all_registrants_registration_ends_reservation(a: Initiator) -> None:
    assert register(a, K1).good and prout(a, RESERVE, K1, 0, EA_AR).good
    assert register(a, 0).good
    assert reservation(a) is None


# -- RELEASE -----------------------------------------------------------------------------------
def test_release_rules(a: Initiator, b: Initiator, c: Initiator, lu: LogicalUnit) -> None:
    assert prout(a, RELEASE, K1, 0, WE).status == CONFLICT  # not registered
    for ini, key in ((a, K1), (b, K2), (c, K3)):
        assert register(ini, key).good
    assert prout(a, RELEASE, K1, 0, WE).good  # nothing reserved
    assert prout(a, RESERVE, K1, 0, WE_RO).good
    assert prout(b, RELEASE, K2, 0, WE_RO).good and reservation(a) == (K1, WE_RO)  # non-holder: no effect
    assert prout(a, RELEASE, K2, 0, WE_RO).status == CONFLICT
    assert prout(a, RELEASE, K1, 0, EA_RO).asc == INVALID_RELEASE_OF_PR
    assert prout(a, RELEASE, K1, 0, WE_RO).good
    assert ua(lu, a) is None and ua(lu, b) == RESERVATIONS_RELEASED and ua(lu, c) == RESERVATIONS_RELEASED


def test_release_write_exclusive_sends_no_unit_attention(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert register(a, K1).good and register(b, K2).good
    assert prout(a, RESERVE, K1, 0, WE).good and prout(a, RELEASE, K1, 0, WE).good
    assert ua(lu, b) is None


# -- CLEAR -------------------------------------------------------------------------------------
def test_clear(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert register(a, K1).good and register(b, K2).good
    gen = read_keys(a)[0]
    assert prout(a, RESERVE, K1, 0, EA).good
    assert prout(a, CLEAR, K2).status == CONFLICT
    assert prout(a, CLEAR, K1).good
    assert reservation(a) is None and read_keys(a) == (gen + 1, [])
    assert ua(lu, b) == RESERVATIONS_PREEMPTED and ua(lu, a) is None


# -- PREEMPT -----------------------------------------------------------------------------------
def test_preempt_registration(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    """libiscsi ProutPreempt.RemoveRegistration: no reservation, remove the other key."""
    assert register(a, K1).good and register(b, K2).good
    gen = read_keys(a)[0]
    assert prout(b, PREEMPT, K2, K1, EA).good
    assert read_keys(b) == (gen + 1, [K2])
    assert ua(lu, a) == REGISTRATIONS_PREEMPTED and ua(lu, b) is None
    assert reservation(b) is None


def test_preempt_holder(a: Initiator, b: Initiator, c: Initiator, lu: LogicalUnit) -> None:
    for ini, key in ((a, K1), (b, K2), (c, K3)):
        assert register(ini, key).good
    assert prout(a, RESERVE, K1, 0, WE).good
    assert prout(b, PREEMPT, K2, K1, EA).good
    assert reservation(b) == (K2, EA)
    assert read_keys(b)[1] == [K2, K3]
    assert ua(lu, a) == REGISTRATIONS_PREEMPTED
    assert ua(lu, c) == RESERVATIONS_RELEASED  # type changed
    assert ua(lu, b) is None


def test_preempt_errors(a: Initiator, b: Initiator) -> None:
    assert prout(a, PREEMPT, K1, K2, WE).status == CONFLICT  # not registered
    assert register(a, K1).good and register(b, K2).good
    assert prout(a, PREEMPT, K1, K3, WE).status == CONFLICT  # nobody holds K3
    assert prout(a, PREEMPT, K1, K1, WE).status == CONFLICT  # only itself holds K1
    r = prout(a, PREEMPT, K1, 0, WE)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (8, None, False)
    assert prout(a, RESERVE, K1, 0, WE).good
    assert prout(b, PREEMPT, K2, 0, WE).asc == INVALID_FIELD_IN_PARAMETER_LIST


def test_preempt_self_changes_type(a: Initiator, b: Initiator, lu: LogicalUnit) -> None:
    assert register(a, K1).good and register(b, K2).good
    assert prout(a, RESERVE, K1, 0, WE).good
    assert prout(a, PREEMPT, K1, K1, EA).good
    assert reservation(a) == (K1, EA)
    assert read_keys(a)[1] == [K1, K2]
    assert ua(lu, b) == RESERVATIONS_RELEASED


def test_preempt_all_registrants(a: Initiator, b: Initiator, c: Initiator, lu: LogicalUnit) -> None:
    for ini, key in ((a, K1), (b, K2), (c, K3)):
        assert register(ini, key).good
    assert prout(a, RESERVE, K1, 0, WE_AR).good
    assert prout(b, PREEMPT, K2, 0, EA).good
    assert reservation(b) == (K2, EA) and read_keys(b)[1] == [K2]
    assert ua(lu, a) == REGISTRATIONS_PREEMPTED and ua(lu, c) == REGISTRATIONS_PREEMPTED


def test_preempt_and_abort_tells_the_transport(a: Initiator, b: Initiator) -> None:
    aborted: list[tuple[int, set[str]]] = []
    a.target.abort_hook = lambda lun, ports: aborted.append((lun, ports))
    assert register(a, K1).good and register(b, K2).good
    assert prout(a, RESERVE, K1, 0, WE).good
    assert prout(b, PREEMPT_AND_ABORT, K2, K1, WE).good
    assert aborted == [(0, {a.port})]
    assert reservation(b) == (K2, WE)


# -- REGISTER AND MOVE -------------------------------------------------------------------------
def move(ini: Initiator, key: int, sa_key: int, pr_type: int, tid: bytes, rtpi: int = 1, unreg: bool = False,
         length: int | None = None) -> Reply:
    data = struct.pack(">QQxBHI", key, sa_key, 0x02 if unreg else 0, rtpi, len(tid)) + tid
    n = len(data) if length is None else length
    return ini.run(struct.pack(">BBBxxIB", 0x5F, REGISTER_AND_MOVE, pr_type, n, 0), data)


def test_register_and_move(a: Initiator, b: Initiator, c: Initiator) -> None:
    assert register(a, K1).good and prout(a, RESERVE, K1, 0, WE).good
    gen = read_keys(a)[0]
    assert move(a, K1, K3, EA, transport_id(5, HOST_C, c.nexus.isid), unreg=True).good
    assert reservation(c) == (K3, EA)
    assert read_keys(c) == (gen + 1, [K3])
    assert c.run(WRITE10).good and b.run(READ10).status == CONFLICT


def test_register_and_move_keeps_existing_registration(a: Initiator, b: Initiator) -> None:
    assert register(a, K1).good and register(b, K2).good and prout(a, RESERVE, K1, 0, WE).good
    assert move(a, K1, K3, WE, transport_id(5, HOST_B, b.nexus.isid)).good
    assert reservation(a) == (K2, WE) and read_keys(a)[1] == [K1, K2]


def test_register_and_move_errors(a: Initiator, b: Initiator) -> None:
    tid_b = transport_id(5, HOST_B, b.nexus.isid)
    assert register(a, K1).good and register(b, K2).good
    assert move(a, K1, K3, WE, tid_b).status == CONFLICT  # no reservation
    assert prout(a, RESERVE, K1, 0, WE).good
    assert move(b, K2, K3, WE, tid_b).status == CONFLICT  # not the holder
    assert move(a, K1, 0, WE, tid_b).asc == INVALID_FIELD_IN_PARAMETER_LIST
    r = move(a, K1, K3, WE, tid_b, rtpi=9)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 18
    r = move(a, K1, K3, WE, transport_id(5, a.nexus.initiator_name, a.nexus.isid))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 24
    assert move(a, K1, K3, WE, tid_b, length=24 + len(tid_b) - 4).asc == PARAMETER_LIST_LENGTH_ERROR
    assert move(a, K1, K3, WE, tid_b, length=30).asc == PARAMETER_LIST_LENGTH_ERROR
    assert reservation(a) == (K1, WE)


def test_register_and_move_all_registrants_conflicts(a: Initiator, b: Initiator) -> None:
    assert register(a, K1).good and prout(a, RESERVE, K1, 0, WE_AR).good
    assert move(a, K1, K3, WE, transport_id(5, HOST_B, b.nexus.isid)).status == CONFLICT


# -- SPEC_I_PT and ALL_TG_PT -------------------------------------------------------------------
def tid_list(*tids: bytes) -> bytes:
    body = b"".join(tids)
    return struct.pack(">I", len(body)) + body


def test_spec_i_pt(a: Initiator, b: Initiator, c: Initiator) -> None:
    extra = tid_list(transport_id(5, HOST_B, b.nexus.isid), transport_id(5, HOST_C, None))
    assert prout(a, REGISTER, 0, K1, flags=SPEC_I_PT, extra=extra).good
    assert read_keys(a)[1] == [K1, K1, K1]
    assert prout(b, RESERVE, K1, 0, EA_RO).good  # B is registered through A's command
    other_c = Initiator(a.target, make_nexus(HOST_C, 0x99))
    stranger = Initiator(a.target, make_nexus("iqn.1994-05.com.example:d", 4))
    for ini in (other_c, stranger):
        ini.clear_ua()
    assert c.run(WRITE10).good and other_c.run(WRITE10).good  # a name-only TransportID: every port of C
    assert stranger.run(READ10).status == CONFLICT


def test_spec_i_pt_errors(a: Initiator, b: Initiator) -> None:
    tid_b = transport_id(5, HOST_B, b.nexus.isid)
    r = prout(a, REGISTER, 0, K1, flags=SPEC_I_PT, extra=tid_list(tid_b, tid_b))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks[0] == 28 + len(tid_b)
    tid_a = transport_id(5, a.nexus.initiator_name, None)
    r = prout(a, REGISTER, 0, K1, flags=SPEC_I_PT, extra=tid_list(tid_a))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST  # names the issuer itself
    assert prout(a, REGISTER, 0, K1, flags=SPEC_I_PT, extra=struct.pack(">I", 40) + tid_b).asc == \
        PARAMETER_LIST_LENGTH_ERROR
    assert prout(a, REGISTER, 0, K1, flags=SPEC_I_PT).asc == PARAMETER_LIST_LENGTH_ERROR
    assert read_keys(a)[1] == []  # all or nothing
    r = prout(a, RESERVE, 0, 0, WE, flags=SPEC_I_PT, extra=tid_list(tid_b))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (20, 3, False)
    assert register(a, K1).good
    assert prout(a, REGISTER, K1, K2, flags=SPEC_I_PT, extra=tid_list(tid_b)).asc == INVALID_FIELD_IN_CDB
    assert register(b, K2).good
    c5 = Initiator(a.target, make_nexus(HOST_C, 5))
    c5.clear_ua()
    r = prout(c5, REGISTER, 0, K3, flags=SPEC_I_PT, extra=tid_list(tid_b))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST  # B is registered already


def test_all_target_ports(a: Initiator) -> None:
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(1, 2))
    t.add_lu(make_lu(0))
    port1 = Initiator(t, make_nexus(HOST_B, 1, rtpi=1))
    port2 = Initiator(t, make_nexus(HOST_B, 1, rtpi=2))
    for ini in (port1, port2):
        ini.clear_ua()
    assert register(port1, K1).good
    assert prout(port2, RESERVE, K1, 0, WE).status == CONFLICT  # registered through port 1 only
    assert register(port1, 0).good
    assert register(port1, K1, ALL_TG_PT).good
    assert prout(port2, RESERVE, K1, 0, WE).good


# -- APTPL -------------------------------------------------------------------------------------
def test_aptpl_needs_a_state_file(a: Initiator) -> None:
    r = register(a, K1, APTPL)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (20, 0, False)


def test_aptpl_survives_restart(tmp_path: Path, a: Initiator, b: Initiator) -> None:
    disk = str(tmp_path / "disk.img")
    a.target.add_lu(make_lu(1, store=MemStore(path=disk)))
    a.clear_ua()
    b.clear_ua()
    state = Path(disk + ".pr")
    assert prin(a, REPORT_CAPABILITIES, lun=1).data[2] & 0x01  # PTPL_C
    assert register(a, K1, APTPL, lun=1).good and register(b, K2, APTPL, lun=1).good
    assert prout(a, RESERVE, K1, 0, WE_RO, lun=1).good
    saved = json.loads(state.read_text())
    assert [r["key"] for r in saved["registrations"]] == [K1, K2]
    again = make_lu(1, store=MemStore(path=disk))
    assert again.pr.aptpl and [r.key for r in again.pr.registrations] == [K1, K2]
    assert again.pr.reservation is not None and again.pr.reservation.holder is again.pr.registrations[0]
    assert again.pr.reservation.type == WE_RO
    assert prin(a, REPORT_CAPABILITIES, lun=1).data[3] & 0x01  # PTPL_A
    assert register(b, K3, lun=1).good
    assert not state.exists()  # APTPL 0 in the last REGISTER: nothing persists


def test_damaged_state_file_is_ignored(tmp_path: Path) -> None:
    disk = str(tmp_path / "disk.img")
    Path(disk + ".pr").write_text("{not json")
    lu = make_lu(0, store=MemStore(path=disk))
    assert lu.pr.registrations == [] and not lu.pr.aptpl


# -- resets ------------------------------------------------------------------------------------
def test_resets_keep_persistent_reservations(a: Initiator, lu: LogicalUnit) -> None:
    assert register(a, K1).good and prout(a, RESERVE, K1, 0, EA).good
    a.target.lu_reset(0)
    a.target.target_reset(cold=True)
    a.target.nexus_lost(a.nexus)
    assert lu.pr.reservation is not None and [r.key for r in lu.pr.registrations] == [K1]
