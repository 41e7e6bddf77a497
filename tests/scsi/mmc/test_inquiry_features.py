"""INQUIRY, GET CONFIGURATION and GET EVENT STATUS NOTIFICATION of the DVD drive (MMC-6)."""

from __future__ import annotations

import struct

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MEDIUM_CHANGED
from hpt.scsi.mmc.sense import MEDIUM_NOT_PRESENT_TRAY_CLOSED
from tests.scsi.conftest import Initiator

from .conftest import cdb

GET_CONFIGURATION, GESN = 0x46, 0x4A


def get_configuration(ini: Initiator, rt: int = 0, start: int = 0, alloc: int = 4096) -> tuple[int, dict]:
    r = ini.run(cdb(GET_CONFIGURATION, 10, rt=(1, ">B", rt), start=(2, ">H", start), alloc=(7, ">H", alloc)))
    assert r.good, r.result
    length, profile = struct.unpack_from(">I2xH", r.data)
    assert length == len(r.data) - 4 or alloc < length + 4
    features, off = {}, 8
    while off + 4 <= len(r.data):
        code, flags, size = struct.unpack_from(">HBB", r.data, off)
        features[code] = (flags, r.data[off + 4:off + 4 + size])
        off += 4 + size
    return profile, features


def profiles(data: bytes) -> list[tuple[int, bool]]:
    return [(struct.unpack_from(">H", data, i)[0], bool(data[i + 2] & 1)) for i in range(0, len(data), 4)]


def test_inquiry_is_a_removable_cdrom(a: Initiator) -> None:
    r = a.run(bytes((0x12, 0, 0, 0, 96, 0)))
    assert r.data[0] == 0x05 and r.data[1] & 0x80 and r.data[16:27] == b"VIRTUAL-DVD"
    assert b"\x05\x80" in r.data[58:74]  # the MMC-6 version descriptor


def test_dvd_rom_profile_and_features(a: Initiator) -> None:
    profile, features = get_configuration(a)
    assert profile == 0x0010
    assert profiles(features[0x0000][1]) == [(0x001B, False), (0x0010, True)]
    for code in (0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001F, 0x0107):
        assert features[code][0] & 0x01, f"feature {code:04x} is current"
    assert not features[0x002B][0] & 0x01 and not features[0x0021][0] & 0x01  # a ROM is not writable
    assert struct.unpack_from(">IH", features[0x0010][1]) == (2048, 16)
    assert features[0x0003][1][0] >> 5 == 1  # tray loading mechanism
    assert features[0x0002][1][0] == 0  # events by polling; no operational change class


def test_dvd_plus_r_profile(w: Initiator) -> None:
    profile, features = get_configuration(w)
    assert profile == 0x001B
    assert profiles(features[0x0000][1]) == [(0x001B, True), (0x0010, False)]
    assert features[0x002B][0] & 0x01 and features[0x002B][1][0] & 0x01  # DVD+R, Write
    assert features[0x0021][0] & 0x01


def test_no_medium_has_no_current_profile(e: Initiator) -> None:
    profile, features = get_configuration(e)
    assert profile == 0 and not features[0x0010][0] & 0x01
    assert e.run(bytes(6)).asc == MEDIUM_NOT_PRESENT_TRAY_CLOSED


def test_rt_current_and_one(a: Initiator) -> None:
    _, current = get_configuration(a, rt=1)
    assert 0x002B not in current and 0x0010 in current
    _, one = get_configuration(a, rt=2, start=0x001F)
    assert list(one) == [0x001F]
    _, later = get_configuration(a, start=0x0100)
    assert list(later) == [0x0107]


def test_cdrom_id_reads_the_header_first(a: Initiator) -> None:
    r = a.run(cdb(GET_CONFIGURATION, 10, alloc=(7, ">H", 8)))
    assert len(r.data) == 8 and struct.unpack_from(">I", r.data)[0] > 8


def test_get_configuration_rt_11_is_invalid(a: Initiator) -> None:
    r = a.run(cdb(GET_CONFIGURATION, 10, rt=(1, ">B", 3), alloc=(7, ">H", 8)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 1, True)


def gesn(ini: Initiator, classes: int = 0x10, polled: int = 1) -> bytes:
    r = ini.run(cdb(GESN, 10, polled=(1, ">B", polled), classes=(4, ">B", classes), alloc=(7, ">H", 8)))
    assert r.good, r.result
    return r.data


def test_media_events(a: Initiator, b: Initiator) -> None:
    assert gesn(a) == bytes((0, 6, 4, 0x10, 0, 0x02, 0, 0))  # no change, media present
    assert a.run(bytes((0x1B, 0, 0, 0, 0x02, 0))).good  # eject
    assert gesn(a)[4:6] == bytes((3, 0x01))  # media removal, tray open
    assert gesn(a)[4:6] == bytes((0, 0x01))  # reported once
    assert a.run(bytes((0x1B, 0, 0, 0, 0x03, 0))).good  # load
    assert gesn(b)[4:6] == bytes((2, 0x02))  # new media, with b's unit attention still pending
    assert b.run(bytes(6)).asc == MEDIUM_CHANGED


def test_gesn_without_media_class_and_async(a: Initiator) -> None:
    assert gesn(a, classes=0x02) == bytes((0, 2, 0x80, 0x10))  # NEA: no class asked for is supported
    r = a.run(cdb(GESN, 10, classes=(4, ">B", 0x10), alloc=(7, ">H", 8)))
    assert r.asc == INVALID_FIELD_IN_CDB and r.sks == (1, 0, True)
