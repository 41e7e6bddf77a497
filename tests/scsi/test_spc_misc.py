"""TEST UNIT READY, REQUEST SENSE, SEND DIAGNOSTIC and RECEIVE DIAGNOSTIC RESULTS (SPC-5 6.47, 6.39,
6.42, 6.29); REPORT TARGET PORT GROUPS is test_spc_alua's."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    MEDIUM_NOT_PRESENT,
    MODE_PARAMETERS_CHANGED,
    NO_ADDITIONAL_SENSE,
    PARAMETER_LIST_LENGTH_ERROR,
    DeviceType,
)
from hpt.scsi.core.sense import SenseError, parse_sense
from hpt.scsi.lu import LogicalUnit

from .conftest import TUR, Initiator, make_lu, other_profile


def test_test_unit_ready(a: Initiator) -> None:
    assert a.run(TUR).good


def test_ready_check_is_the_profiles(a: Initiator) -> None:
    """TEST UNIT READY asks the LU's device profile (SPC-5 6.47): here a profile whose state says unloaded."""

    def no_medium(unit: LogicalUnit) -> None:
        if unit.state["unloaded"]:
            raise SenseError(MEDIUM_NOT_PRESENT)

    profile = other_profile(DeviceType.TAPE, ready=no_medium, state=lambda params: {"unloaded": False})
    unit = make_lu(5, profile=profile)
    a.target.add_lu(unit)
    a.clear_ua()
    assert a.run(TUR, lun=5).good
    unit.state["unloaded"] = True
    assert a.run(TUR, lun=5).asc == MEDIUM_NOT_PRESENT


def request_sense(desc: bool = False, alloc: int = 252) -> bytes:
    return bytes((0x03, 1 if desc else 0, 0, 0, alloc, 0))


def test_request_sense_reports_unit_attention_once(a: Initiator, lu: LogicalUnit) -> None:
    lu.ua.establish(MODE_PARAMETERS_CHANGED, only=a.port)
    r = a.run(request_sense())
    assert r.good and len(r.data) == 18 and parse_sense(r.data) == MODE_PARAMETERS_CHANGED
    r = a.run(request_sense())
    assert r.good and parse_sense(r.data) == NO_ADDITIONAL_SENSE
    assert a.run(TUR).good


def test_request_sense_descriptor_format_and_allocation(a: Initiator) -> None:
    r = a.run(request_sense(desc=True))
    assert r.data[0] == 0x72 and parse_sense(r.data) == NO_ADDITIONAL_SENSE
    assert len(a.run(request_sense(alloc=8)).data) == 8


def diag(selftest: bool = False, pf: bool = False, code: int = 0, length: int = 0) -> bytes:
    b1 = code << 5 | (0x10 if pf else 0) | (0x04 if selftest else 0)
    return struct.pack(">BBxHB", 0x1D, b1, length, 0)


def test_send_diagnostic(a: Initiator) -> None:
    assert a.run(diag(selftest=True)).good
    assert a.run(diag()).good
    page0 = bytes(4)
    assert a.run(diag(pf=True, length=4), page0).good


@pytest.mark.parametrize(("cdb", "sks"), [
    (diag(selftest=True, code=1), (1, 7, True)),
    (diag(code=5), (1, 7, True)),
    (diag(selftest=True, length=4), (3, None, True)),
    (diag(length=4), (1, 4, True)),
])
def test_send_diagnostic_bad_cdb(a: Initiator, cdb: bytes, sks: tuple[int, int | None, bool]) -> None:
    r = a.run(cdb, bytes(4))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == sks


def test_send_diagnostic_bad_parameters(a: Initiator) -> None:
    r = a.run(diag(pf=True, length=4), bytes((0x80, 0, 0, 0)))
    assert r.asc == INVALID_FIELD_IN_PARAMETER_LIST and r.sks == (0, None, False)
    assert a.run(diag(pf=True, length=4), bytes((0, 0, 0, 4))).asc == PARAMETER_LIST_LENGTH_ERROR
    assert a.run(diag(pf=True, length=2), bytes(2)).asc == PARAMETER_LIST_LENGTH_ERROR
    assert a.run(diag(pf=True, length=8), bytes(4)).asc == PARAMETER_LIST_LENGTH_ERROR


def test_receive_diagnostic_results(a: Initiator) -> None:
    assert a.run(bytes((0x1C, 1, 0, 0, 255, 0))).data == bytes((0, 0, 0, 1, 0))
    assert a.run(bytes((0x1C, 0, 0, 0, 255, 0))).data == bytes((0, 0, 0, 1, 0))
    r = a.run(bytes((0x1C, 1, 0x80, 0, 255, 0)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == 2
