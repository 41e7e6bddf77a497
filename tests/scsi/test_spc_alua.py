"""ALUA (SPC-5 5.16): target port groups per relative port, the states and what each allows, REPORT
TARGET PORT GROUPS (6.36), SET TARGET PORT GROUPS (6.46), ASYMMETRIC ACCESS STATE CHANGED, the TPGS
bits and VPD page 83h's port designators."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.alua import PortGroups, parse_state, refusal
from hpt.scsi.core.constants import (
    ASYMMETRIC_ACCESS_STATE_CHANGED,
    ASYMMETRIC_ACCESS_TRANSITION,
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    INVALID_OPCODE,
    PARAMETER_LIST_LENGTH_ERROR,
    TARGET_PORT_IN_STANDBY,
    TARGET_PORT_UNAVAILABLE,
)
from hpt.scsi.spc import vpd
from hpt.scsi.spc.alua import IMPLICIT_TRANSITION_TIME, TPGS_EXPLICIT, TPGS_IMPLICIT, AluaState
from hpt.scsi.target import ScsiTarget

from .conftest import HOST_A, HOST_B, READ10, TARGET_NAME, TUR, WRITE10, Initiator, make_lu, make_nexus
from .test_spc_inquiry import designators, inquiry

AO, AN, S, U, T = (AluaState.ACTIVE_OPTIMIZED, AluaState.ACTIVE_NON_OPTIMIZED, AluaState.STANDBY,
                   AluaState.UNAVAILABLE, AluaState.TRANSITIONING)
MODE_SENSE6 = bytes((0x1A, 0, 0x3F, 0, 255, 0))
REPORT_LUNS = struct.pack(">BxxxxxIxx", 0xA0, 64)
PR_IN_READ_KEYS = struct.pack(">BBxxxxxHx", 0x5E, 0, 64)


def rtpg(fmt: int = 0, alloc: int = 4096) -> bytes:
    return struct.pack(">BBxxxxIxB", 0xA3, fmt << 5 | 0x0A, alloc, 0)


def stpg(length: int) -> bytes:
    return struct.pack(">BBxxxxIxB", 0xA4, 0x0A, length, 0)


def stpg_list(*descriptors: tuple[int, int]) -> bytes:
    """A SET TARGET PORT GROUPS parameter list: 4 reserved bytes, then (state, group) descriptors."""
    return bytes(4) + b"".join(struct.pack(">BxH", state, group) for state, group in descriptors)


@pytest.fixture
def two() -> ScsiTarget:
    """A target served through relative ports 1 and 2: target port groups 1 and 2."""
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(1, 2))
    t.add_lu(make_lu(0))
    return t


def port(t: ScsiTarget, rtpi: int) -> Initiator:
    """An initiator port of its own through relative port ``rtpi``, its power-on UA cleared."""
    ini = Initiator(t, make_nexus(HOST_A if rtpi == 1 else HOST_B, 0x23D000000000 + rtpi, rtpi))
    ini.clear_ua()
    return ini


def groups(d: bytes, off: int = 4) -> list[tuple[int, int, int, list[int]]]:
    """(group, state, supported bits, ports) of each descriptor of REPORT TARGET PORT GROUPS data."""
    out = []
    while off < len(d):
        n = d[off + 7]
        ports = [struct.unpack_from(">H", d, off + 10 + 4 * i)[0] for i in range(n)]
        out.append((struct.unpack_from(">H", d, off + 2)[0], d[off] & 0x0F, d[off + 1], ports))
        off += 8 + 4 * n
    return out


# -- REPORT TARGET PORT GROUPS ---------------------------------------------------------------------
def test_report_lists_a_group_per_port(two: ScsiTarget) -> None:
    two.set_alua_states({2: S})
    d = port(two, 1).run(rtpg()).data
    assert struct.unpack_from(">I", d)[0] == len(d) - 4
    assert groups(d) == [(1, AO, 0x8F, [1]), (2, S, 0x8F, [2])]  # T_SUP U_SUP S_SUP AN_SUP AO_SUP


def test_report_one_group_for_all_ports() -> None:
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(1, 2), port_group_id=7)
    t.add_lu(make_lu(0))
    ini = port(t, 1)
    d = ini.run(rtpg(alloc=4)).data
    assert len(d) == 4 and struct.unpack_from(">I", d)[0] == 8 + 8
    assert groups(ini.run(rtpg()).data) == [(7, AO, 0x8F, [1, 2])]


def test_report_extended_header(two: ScsiTarget) -> None:
    d = port(two, 2).run(rtpg(fmt=1)).data
    assert struct.unpack_from(">I", d)[0] == len(d) - 4
    assert d[4] >> 4 & 7 == 1 and d[5] == IMPLICIT_TRANSITION_TIME
    assert [g[0] for g in groups(d, 8)] == [1, 2]


def test_report_bad_format(two: ScsiTarget) -> None:
    r = port(two, 1).run(rtpg(fmt=2))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 7, True)


# -- what each state allows (5.16.2.4) --------------------------------------------------------------
@pytest.mark.parametrize("state", [AO, AN])
def test_active_states_allow_everything(two: ScsiTarget, state: AluaState) -> None:
    two.set_alua_states({2: state})
    ini = port(two, 2)
    assert all(ini.run(cdb).good for cdb in (TUR, READ10, WRITE10, MODE_SENSE6))


@pytest.mark.parametrize(("state", "asc"), [(S, TARGET_PORT_IN_STANDBY), (U, TARGET_PORT_UNAVAILABLE),
                                            (T, ASYMMETRIC_ACCESS_TRANSITION)])
def test_inaccessible_states_refuse_media_access(two: ScsiTarget, state: AluaState, asc: object) -> None:
    two.set_alua_states({2: state})
    other, ini = port(two, 1), port(two, 2)
    for cdb in (TUR, READ10, WRITE10):
        assert ini.run(cdb).asc == asc
        assert other.run(cdb).good  # the check is by the nexus's port: group 1 stays active
    for cdb in (inquiry(), REPORT_LUNS, rtpg(), bytes((0x03, 0, 0, 0, 18, 0))):
        assert ini.run(cdb).good, cdb.hex()


def test_standby_allows_mode_log_pr_and_diagnostics(two: ScsiTarget) -> None:
    two.set_alua_states({2: S})
    ini = port(two, 2)
    for cdb in (MODE_SENSE6, PR_IN_READ_KEYS, bytes((0x1C, 0, 0, 0, 64, 0)), bytes((0x1D, 0x04, 0, 0, 0, 0))):
        assert ini.run(cdb).good, cdb.hex()


@pytest.mark.parametrize(("state", "asc"), [(U, TARGET_PORT_UNAVAILABLE), (T, ASYMMETRIC_ACCESS_TRANSITION)])
def test_unavailable_and_transitioning_refuse_more(two: ScsiTarget, state: AluaState, asc: object) -> None:
    two.set_alua_states({2: state})
    ini = port(two, 2)
    assert ini.run(MODE_SENSE6).asc == asc and ini.run(PR_IN_READ_KEYS).asc == asc


def test_refusal_table() -> None:
    assert refusal(AO, 0x28, None) is None and refusal(AN, 0x2A, None) is None
    assert refusal(S, 0xA4, 0x0A) is None and refusal(U, 0xA4, 0x0A) is None
    assert refusal(T, 0xA4, 0x0A) == ASYMMETRIC_ACCESS_TRANSITION
    assert refusal(S, 0xA3, 0x0C) is None and refusal(T, 0xA3, 0x0C) is None
    # READ CAPACITY in standby (vendor's choice, 5.16.2.4.5): Linux sizes a standby path's disk
    assert refusal(S, 0x25, None) is None and refusal(S, 0x9E, 0x10) is None
    assert refusal(S, 0x9E, 0x12) == TARGET_PORT_IN_STANDBY  # GET LBA STATUS is not
    assert refusal(U, 0x25, None) == TARGET_PORT_UNAVAILABLE and refusal(T, 0x9E, 0x10) is not None


def test_fast_lane_refused_on_an_inactive_port(two: ScsiTarget) -> None:
    lu = two.lu(0)
    assert lu is not None
    ini = port(two, 2)
    assert lu.enter_quick(ini.port, 2)
    lu.leave_quick(0)
    two.set_alua_states({2: S})
    port(two, 1).clear_ua()
    ini.clear_ua()
    assert lu.enter_quick(ini.port, 2) == 0
    assert lu.enter_quick(ini.port) == 0  # a lane that does not say its port: refused while any is inactive
    assert lu.enter_quick(port(two, 1).port, 1)
    lu.leave_quick(0)


# -- unit attentions (5.16.2.6) ----------------------------------------------------------------------
def test_administrator_change_raises_ua_on_every_nexus(two: ScsiTarget) -> None:
    one, ini = port(two, 1), port(two, 2)
    assert two.set_alua_states({2: U}) == [2]
    assert one.run(TUR).asc == ASYMMETRIC_ACCESS_STATE_CHANGED and one.run(TUR).good
    assert ini.run(rtpg()).asc == ASYMMETRIC_ACCESS_STATE_CHANGED  # not exempt: it reports the UA
    assert ini.run(rtpg()).good
    assert two.set_alua_states({2: U}) == []  # no change, no unit attention
    assert one.run(TUR).good


def test_unknown_group() -> None:
    with pytest.raises(KeyError):
        PortGroups((1, 2)).change({3: S})


def test_ports_change_keeps_states(two: ScsiTarget) -> None:
    two.set_alua_states({2: S})
    two.set_ports((2, 3))
    assert two.port_groups.states == {2: S, 3: AO} and two.port_groups.restricted == {2: S}
    assert two.port_groups.group_of(9) == 9 and two.port_groups.state_of(9) == AO


@pytest.mark.parametrize("name", ["active/optimized", "Active/Non-Optimized", "standby", "unavailable",
                                  "transitioning"])
def test_parse_state(name: str) -> None:
    assert parse_state(name).name.lower().replace("_", "/").replace("non/", "non-") == name.lower()


def test_parse_state_bad() -> None:
    with pytest.raises(ValueError, match="one of active/optimized"):
        parse_state("offline")


# -- SET TARGET PORT GROUPS (6.46) -------------------------------------------------------------------
def test_stpg_refused_without_explicit_alua(two: ScsiTarget) -> None:
    assert two.tpgs == TPGS_IMPLICIT
    data = stpg_list((S, 2))
    r = port(two, 1).run(stpg(len(data)), data)
    assert r.asc == INVALID_OPCODE and two.port_groups.states[2] == AO


def test_stpg_sets_states_and_raises_ua_on_other_nexuses(two: ScsiTarget) -> None:
    two.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    one, ini = port(two, 1), port(two, 2)
    data = stpg_list((S, 2), (AN, 1))
    assert one.run(stpg(len(data)), data).good
    assert two.port_groups.states == {1: AN, 2: S}
    assert one.run(TUR).good  # the nexus that asked gets no unit attention
    assert ini.run(TUR).asc == ASYMMETRIC_ACCESS_STATE_CHANGED
    assert ini.run(TUR).asc == TARGET_PORT_IN_STANDBY
    data = stpg_list((AO, 2))
    assert ini.run(stpg(len(data)), data).good  # allowed through a port in standby
    assert ini.run(TUR).good and one.run(TUR).asc == ASYMMETRIC_ACCESS_STATE_CHANGED


@pytest.mark.parametrize(("descriptors", "field", "bit"), [
    (((S, 2), (S, 9)), 10, None),  # no group 9: nothing changes, group 2 neither
    (((T, 2),), 4, 3),  # transitioning is the target's own state
    (((AluaState.OFFLINE, 2),), 4, 3),
    (((AluaState.LBA_DEPENDENT, 2),), 4, 3),
])
def test_stpg_bad_descriptor(two: ScsiTarget, descriptors: tuple[tuple[int, int], ...], field: int,
                             bit: int | None) -> None:
    two.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    data = stpg_list(*descriptors)
    r = port(two, 1).run(stpg(len(data)), data)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (field, bit, False)
    assert two.port_groups.states == {1: AO, 2: AO}


@pytest.mark.parametrize("length", [2, 6])
def test_stpg_bad_length(two: ScsiTarget, length: int) -> None:
    two.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    r = port(two, 1).run(stpg(length), bytes(length))
    assert r.asc == PARAMETER_LIST_LENGTH_ERROR


def test_stpg_empty_list(two: ScsiTarget) -> None:
    two.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    assert port(two, 1).run(stpg(0)).good and two.port_groups.states == {1: AO, 2: AO}


def rsoc_stpg() -> bytes:
    """REPORT SUPPORTED OPERATION CODES, one command: MAINTENANCE OUT / SET TARGET PORT GROUPS."""
    return struct.pack(">BBBBHIxB", 0xA3, 0x0C, 2, 0xA4, 0x0A, 64, 0)


def test_rsoc_reports_stpg_only_with_explicit_alua(two: ScsiTarget) -> None:
    ini = port(two, 1)
    assert ini.run(rsoc_stpg()).data[1] & 0x07 == 0b001  # not supported
    all_commands = ini.run(struct.pack(">BBBBHIxB", 0xA3, 0x0C, 0, 0, 0, 4096, 0)).data
    two.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    d = ini.run(rsoc_stpg()).data
    assert d[1] & 0x07 == 0b011 and d[4:6] == bytes((0xA4, 0x0A))
    more = ini.run(struct.pack(">BBBBHIxB", 0xA3, 0x0C, 0, 0, 0, 4096, 0)).data
    assert struct.unpack_from(">I", more)[0] == struct.unpack_from(">I", all_commands)[0] + 8


# -- INQUIRY (6.7.2) and VPD page 83h (7.7.6) --------------------------------------------------------
def test_tpgs_bits(two: ScsiTarget) -> None:
    assert port(two, 1).run(inquiry()).data[5] >> 4 & 3 == 0b01
    two.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    assert port(two, 1).run(inquiry()).data[5] >> 4 & 3 == 0b11


@pytest.mark.parametrize("rtpi", [1, 2])
def test_vpd_port_designators_follow_the_nexus(two: ScsiTarget, rtpi: int) -> None:
    ds = designators(port(two, rtpi).run(inquiry(evpd=1, page=0x83)).data)
    assert [d[5] for d in ds if d[4] == vpd.TYPE_RELATIVE_PORT] == [struct.pack(">I", rtpi)]
    assert [d[5] for d in ds if d[4] == vpd.TYPE_PORT_GROUP] == [struct.pack(">I", rtpi)]


def test_vpd_port_group_of_a_shared_group() -> None:
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(1, 2), port_group_id=7)
    t.add_lu(make_lu(0))
    ds = designators(port(t, 2).run(inquiry(evpd=1, page=0x83)).data)
    assert [d[5] for d in ds if d[4] == vpd.TYPE_PORT_GROUP] == [struct.pack(">I", 7)]


# -- scale-out: the groups of peer gateways (5.16.2.1) ----------------------------------------------
def gateway(rtpi: int, peer: int) -> ScsiTarget:
    """One gateway of two serving LU 0 under one target name: relative port ``rtpi`` here, ``peer``'s
    group on the other gateway."""
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(rtpi,))
    t.set_ports((rtpi,), (peer,))
    t.add_lu(make_lu(0))
    return t


def test_report_lists_the_peer_gateways_group() -> None:
    a, b = gateway(1, 2), gateway(2, 1)
    a.set_alua_states({2: AN})
    b.set_alua_states({2: AN})
    assert groups(port(a, 1).run(rtpg()).data) == [(1, AO, 0x8F, [1]), (2, AN, 0x8F, [2])]
    assert groups(port(b, 2).run(rtpg()).data) == [(1, AO, 0x8F, [1]), (2, AN, 0x8F, [2])]


def test_a_peer_group_restricts_no_port_here() -> None:
    a = gateway(1, 2)
    a.set_alua_states({2: S})
    assert a.port_groups.restricted == {} and port(a, 1).run(TUR).good
    a.set_ports((1, 3))  # portal groups change: the peer stays, with its state
    assert a.port_groups.members == {1: [1], 3: [3], 2: [2]} and a.port_groups.states[2] == S


def test_stpg_of_a_peer_group_is_refused() -> None:
    a = gateway(1, 2)
    a.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    data = stpg_list((AN, 1), (S, 2))
    r = port(a, 1).run(stpg(len(data)), data)
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (10, None, False)
    assert a.port_groups.states == {1: AO, 2: AO}


def test_both_gateways_identify_the_lu_alike() -> None:
    """Same target name and LUN: the same NAA, serial and LU designators; the target port ones differ
    by the relative port (7.7.6)."""
    paths = [port(gateway(1, 2), 1), port(gateway(2, 1), 2)]
    pages = [designators(ini.run(inquiry(evpd=1, page=0x83)).data) for ini in paths]
    lu_ids = [[d for d in page if d[3] == vpd.ASSOC_LU] for page in pages]
    assert lu_ids[0] == lu_ids[1] and any(d[4] == vpd.TYPE_NAA for d in lu_ids[0])
    ports = [[d[5] for d in page if d[4] == vpd.TYPE_RELATIVE_PORT] for page in pages]
    assert ports == [[struct.pack(">I", 1)], [struct.pack(">I", 2)]]
    serials = [ini.run(inquiry(evpd=1, page=0x80)).data for ini in paths]
    assert serials[0] == serials[1]
