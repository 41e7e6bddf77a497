"""READ TOC/PMA/ATIP, READ DISC INFORMATION, READ TRACK INFORMATION, READ DVD STRUCTURE, SEND DVD
STRUCTURE, READ CAPACITY and READ FORMAT CAPACITIES (MMC-6) on a DVD-ROM, a blank
DVD+R and an empty drive."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.mmc.sense import CANNOT_FORMAT_INCOMPATIBLE_MEDIUM, MEDIUM_NOT_PRESENT_TRAY_CLOSED
from tests.scsi.conftest import Initiator

from .conftest import cdb

READ_TOC, DISC_INFO, TRACK_INFO, READ_STRUCTURE, SEND_STRUCTURE = 0x43, 0x51, 0x52, 0xAD, 0xBF


def toc(ini: Initiator, fmt: int = 0, track: int = 0, msf: bool = False, control: int = 0):  # noqa: ANN201
    return ini.run(cdb(READ_TOC, 10, msf=(1, ">B", 0x02 if msf else 0), fmt=(2, ">B", fmt),
                       track=(6, ">B", track), alloc=(7, ">H", 1024), control=(9, ">B", control)))


def iso_blocks(iso: Path) -> int:
    return os.path.getsize(iso) // 2048


def test_toc_of_a_rom(a: Initiator, iso: Path) -> None:
    r = toc(a)
    assert r.data[:4] == struct.pack(">HBB", 18, 1, 1)
    assert r.data[4:12] == bytes((0, 0x14, 1, 0, 0, 0, 0, 0))
    assert r.data[12:16] == bytes((0, 0x14, 0xAA, 0))
    assert struct.unpack_from(">I", r.data, 16)[0] == iso_blocks(iso)
    msf = toc(a, msf=True).data
    assert msf[8:12] == bytes((0, 0, 2, 0))  # LBA 0 is 00:02:00
    assert toc(a, track=0xAA).data[4:8] == bytes((0, 0x14, 0xAA, 0))  # the lead-out alone
    assert toc(a, control=0x40).data[:4] == struct.pack(">HBB", 10, 1, 1)  # old-style format 1


def test_toc_session_format(a: Initiator) -> None:
    assert toc(a, fmt=1).data == struct.pack(">HBB", 10, 1, 1) + bytes((0, 0x14, 1, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(("fmt", "track", "field"), [(2, 0, 2), (4, 0, 2), (0, 5, 6)])
def test_toc_bad_fields(a: Initiator, fmt: int, track: int, field: int) -> None:
    r = toc(a, fmt=fmt, track=track)
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == field


def test_blank_disc_has_no_toc(w: Initiator, e: Initiator) -> None:
    assert toc(w).asc == INVALID_FIELD_IN_CDB
    assert toc(e).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def disc_info(ini: Initiator, kind: int = 0) -> tuple[int, dict[str, int]]:
    r = ini.run(cdb(DISC_INFO, 10, kind=(1, ">B", kind), alloc=(7, ">H", 64)))
    if not r.good:
        return r.status, {}
    d = r.data
    return r.status, {"length": struct.unpack_from(">H", d)[0], "status": d[2] & 0x03, "last": d[2] >> 2 & 3,
                      "sessions": d[4], "first": d[5], "last_track": d[6],
                      "lead_out": struct.unpack_from(">I", d, 20)[0]}


def test_disc_information(a: Initiator, w: Initiator) -> None:
    _, rom = disc_info(a)
    assert rom == {"length": 32, "status": 2, "last": 3, "sessions": 1, "first": 1, "last_track": 1,
                   "lead_out": 0xFFFFFFFF}
    _, blank = disc_info(w)
    assert blank == {"length": 32, "status": 0, "last": 0, "sessions": 1, "first": 1, "last_track": 1,
                     "lead_out": 4096}


def test_disc_information_other_types(a: Initiator, e: Initiator) -> None:
    r = a.run(cdb(DISC_INFO, 10, kind=(1, ">B", 1), alloc=(7, ">H", 64)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 2, True)
    assert e.run(cdb(DISC_INFO, 10, alloc=(7, ">H", 64))).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def track_info(ini: Initiator, kind: int, value: int) -> dict[str, int] | object:
    r = ini.run(cdb(TRACK_INFO, 10, kind=(1, ">B", kind), value=(2, ">I", value), alloc=(7, ">H", 48)))
    if not r.good:
        return r
    d = r.data
    start, nwa, free, blocking, size, lra = struct.unpack_from(">6I", d, 8)
    return {"track": d[2], "session": d[3], "flags": d[6] & 0xF0, "valid": d[7] & 0x03, "start": start,
            "nwa": nwa, "free": free, "size": size, "lra": lra, "blocking": blocking}


def test_track_information(a: Initiator, w: Initiator, iso: Path) -> None:
    n = iso_blocks(iso)
    rom = track_info(a, 1, 1)
    assert rom == {"track": 1, "session": 1, "flags": 0x80, "valid": 0x02, "start": 0, "nwa": 0, "free": 0,
                   "size": n, "lra": n - 1, "blocking": 16}
    assert track_info(a, 0, 5) == rom and track_info(a, 2, 1) == rom
    invisible = track_info(w, 1, 0xFF)
    assert invisible == {"track": 1, "session": 1, "flags": 0x40, "valid": 0x01, "start": 0, "nwa": 0,
                         "free": 4096, "size": 4096, "lra": 0, "blocking": 16}


@pytest.mark.parametrize(("kind", "value", "field"), [(1, 2, 5), (2, 3, 5), (0, 1 << 30, 2), (3, 0, 1)])
def test_track_information_bad(a: Initiator, kind: int, value: int, field: int) -> None:
    r = track_info(a, kind, value)
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == field  # type: ignore[attr-defined]


def structure(ini: Initiator, fmt: int, layer: int = 0, media: int = 0, alloc: int = 4096):  # noqa: ANN201
    return ini.run(cdb(READ_STRUCTURE, 12, media=(1, ">B", media), layer=(6, ">B", layer),
                       fmt=(7, ">B", fmt), alloc=(8, ">H", alloc)), alloc=alloc)


def test_physical_format(a: Initiator, w: Initiator, iso: Path) -> None:
    r = structure(a, 0)
    assert struct.unpack_from(">H", r.data)[0] == 2050 and len(r.data) == 2052
    book, _, layer, _, start, end = struct.unpack_from(">BBBBII", r.data, 4)
    assert (book >> 4, layer & 0x0F, start, end) == (0, 1, 0x30000, 0x30000 + iso_blocks(iso) - 1)
    plus = structure(w, 0).data
    assert plus[4] >> 4 == 0xA and plus[6] & 0x0F == 2
    assert struct.unpack_from(">I", plus, 12)[0] == 0x30000 + 4095


def test_other_structures(a: Initiator, w: Initiator) -> None:
    assert structure(a, 1).data == struct.pack(">HH", 6, 0) + bytes(4)
    assert len(structure(a, 4).data) == 2052
    assert structure(w, 0x11).data[23:26] == b"HPT"
    listed = structure(w, 0xFF).data
    codes = [listed[i] for i in range(4, len(listed), 4)]
    assert codes == [0x00, 0x01, 0x04, 0x11, 0x0F]
    assert 0x11 not in [structure(a, 0xFF).data[i] for i in range(4, 20, 4)]


@pytest.mark.parametrize(("fmt", "layer", "media", "field"), [(0x11, 0, 0, 7), (0x03, 0, 0, 7), (0, 1, 0, 6),
                                                              (0, 0, 1, 1)])
def test_structure_bad_fields(a: Initiator, fmt: int, layer: int, media: int, field: int) -> None:
    r = structure(a, fmt, layer, media)
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks[0] == field


def test_send_dvd_structure(w: Initiator) -> None:
    stamp = struct.pack(">HH", 10, 0) + b"20261205"
    ok = w.run(cdb(SEND_STRUCTURE, 12, fmt=(7, ">B", 0x0F), length=(8, ">H", len(stamp))), stamp)
    assert ok.good
    short = w.run(cdb(SEND_STRUCTURE, 12, fmt=(7, ">B", 0x0F), length=(8, ">H", 12)), stamp[:8])
    assert short.asc == PARAMETER_LIST_LENGTH_ERROR
    boundary = w.run(cdb(SEND_STRUCTURE, 12, fmt=(7, ">B", 0x20), length=(8, ">H", 12)), bytes(12))
    assert boundary.asc == INVALID_FIELD_IN_CDB and boundary.sks[0] == 7


def test_read_capacity(a: Initiator, w: Initiator, e: Initiator, iso: Path) -> None:
    assert struct.unpack(">II", a.run(bytes((0x25,)) + bytes(9)).data) == (iso_blocks(iso) - 1, 2048)
    assert struct.unpack(">II", w.run(bytes((0x25,)) + bytes(9)).data) == (0, 2048)
    assert e.run(bytes((0x25,)) + bytes(9)).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def format_capacities(ini: Initiator) -> tuple[int, int, int]:
    d = ini.run(cdb(0x23, 10, alloc=(7, ">H", 252))).data
    assert d[3] == 8
    blocks, kind, block_length = struct.unpack_from(">IB", d, 4) + (int.from_bytes(d[9:12], "big"),)
    return blocks, kind & 0x03, block_length


def test_read_format_capacities(a: Initiator, w: Initiator, e: Initiator, iso: Path) -> None:
    assert format_capacities(a) == (iso_blocks(iso), 2, 2048)
    assert format_capacities(w) == (4096, 1, 2048)
    assert format_capacities(e)[1] == 3


def test_format_unit(w: Initiator, e: Initiator) -> None:
    params = struct.pack(">xBH", 0x02, 8) + struct.pack(">IBxH", 4096, 0x26 << 2, 0)
    assert w.run(bytes((0x04, 0x11, 0, 0, 0, 0)), params).asc == CANNOT_FORMAT_INCOMPATIBLE_MEDIUM
    assert w.run(bytes((0x04, 0x11, 0, 0, 0, 0)), params[:6]).asc == PARAMETER_LIST_LENGTH_ERROR
    r = w.run(bytes((0x04, 0x01, 0, 0, 0, 0)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 4, True)
    assert w.run(bytes((0x04, 0x12, 0, 0, 0, 0)), params).sks == (1, 2, True)
    assert e.run(bytes((0x04, 0x11, 0, 0, 0, 0)), params).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def test_track_of_an_address_in_the_free_space(w: Initiator) -> None:
    invisible = track_info(w, 0, 1000)  # an LBA nothing is written at yet: the invisible track's
    assert invisible["track"] == 1 and invisible["nwa"] == 0 and invisible["size"] == 4096
    r = track_info(w, 0, 4096)  # past the capacity
    assert r.asc == INVALID_FIELD_IN_CDB  # type: ignore[attr-defined]
