"""hptd --demo osd driven by the test OSD-2 initiator over iSCSI/TCP: partitions, collections and user
objects created, 1 MiB objects written, appended and read back verified, lists, attributes set and got
(bidirectional commands), then hptd restarted on the same directory and everything found again. The
first session's traffic is written as a capture and decoded by Wireshark's OSD dissector (tshark)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.hptd import start_hptd

from .initiator import (
    APPEND,
    CREATE,
    CREATE_AND_WRITE,
    CREATE_COLLECTION,
    CREATE_PARTITION,
    FLUSH_OSD,
    GET_ATTRIBUTES,
    LIST,
    LIST_COLLECTION,
    READ,
    SET_ATTRIBUTES,
    USER_COLLECTIONS,
    USER_INFO,
    WRITE,
    OsdClient,
)
from .pcap import write_pcap
from .wire import OsdWire

IQN = "iqn.2026-11.org.hpt:osd"
MIB = 1 << 20
APP = 0x10000  # an application-defined user object page
WARNING = 0x00600000  # Wireshark's expert info severity (notes and chats are below it)


def _blob(seed: int, n: int = MIB) -> bytes:
    out = bytearray()
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{len(out)}".encode()).digest()
    return bytes(out[:n])


def _session(port: int) -> tuple[OsdWire, OsdClient]:
    wire = OsdWire(port, IQN)
    assert wire.login() == 0
    inquiry = wire.run(bytes([0x12, 0, 0, 0, 96, 0]), lun=1, read=96)
    assert inquiry.data[0] == 0x11  # object-based storage device
    wire.run(bytes(6), lun=1)  # TEST UNIT READY: takes the power-on unit attention
    return wire, OsdClient(wire.transport(lun=1))


def _build(osd: OsdClient) -> dict[str, int]:
    p1, p2 = osd.create_partition(), osd.create_partition(0x20000)
    cid = osd.create(p1, collection=True)
    o1 = osd.create(p1, sets=[(APP, 1, b"first"), (USER_COLLECTIONS, 1, cid.to_bytes(8, "big"))])
    osd.write(p1, o1, _blob(1))
    o2 = osd.create_and_write(p1, _blob(2))
    o3 = osd.create(p2, 0x30000)
    assert osd.append(p2, o3, _blob(3)[:MIB // 2]) == 0
    assert osd.append(p2, o3, _blob(3)[MIB // 2:]) == MIB // 2
    osd.set_attrs(p1, o2, [(APP, 1, b"second"), (APP, 2, b"x" * 100),
                           (USER_COLLECTIONS, 1, cid.to_bytes(8, "big"))])
    osd.flush(FLUSH_OSD)
    return {"p1": p1, "p2": p2, "cid": cid, "o1": o1, "o2": o2, "o3": o3}


def _check(osd: OsdClient, ids: dict[str, int]) -> None:
    p1, p2, cid = ids["p1"], ids["p2"], ids["cid"]
    assert osd.list(0)[0] == [p1, p2]
    assert osd.list(p1)[0] == [cid, ids["o1"], ids["o2"]]
    assert osd.list(p2)[0] == [ids["o3"]]
    assert osd.list_collection(p1, cid) == [ids["o1"], ids["o2"]]
    assert osd.read(p1, ids["o1"], MIB) == _blob(1)
    data, length = osd.read_with_length(p1, ids["o2"], MIB)  # bidirectional: get list out, data + list in
    assert (data, length) == (_blob(2), MIB)
    assert osd.read(p2, ids["o3"], MIB) == _blob(3)
    got = osd.get_attrs(p1, ids["o2"], [(APP, 1), (APP, 2), (APP, 3), (USER_INFO, 0x82)])
    assert got == {(APP, 1): b"second", (APP, 2): b"x" * 100, (APP, 3): None,
                   (USER_INFO, 0x82): MIB.to_bytes(8, "big")}
    assert osd.get_attrs(p1, ids["o1"], [(APP, 1)]) == {(APP, 1): b"first"}


def _tshark(capture: Path) -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed (Debian package tshark; ci/test.sh installs it)")
    return subprocess.run(
        [tshark, "-r", str(capture), "-o", "tcp.desegment_tcp_streams:TRUE",
         "-T", "fields", "-e", "scsi_osd.svcaction", "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
        capture_output=True, text=True, timeout=300, check=True).stdout


def test_osd_demo_objects_survive_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "objects"
    args = ("osd", "--path", str(store), "--control-socket", "")
    daemon = start_hptd(tmp_path, demo=True, demo_args=args)
    try:
        wire, osd = _session(daemon.port)
        osd.format_osd()
        ids = _build(osd)
        _check(osd, ids)
        wire.close()
    finally:
        assert daemon.stop() == 0
    capture = tmp_path / "osd.pcap"
    assert write_pcap(capture, wire.record) > 100

    again = start_hptd(tmp_path, demo=True, demo_args=args)
    try:
        wire2, osd = _session(again.port)
        _check(osd, ids)
        wire2.close()
    finally:
        assert again.stop() == 0

    rows = [line.split("\t") for line in _tshark(capture).splitlines()]
    actions = {int(a, 16) for row in rows for a in row[0].split(",") if a}
    assert {CREATE_PARTITION, CREATE, CREATE_COLLECTION, CREATE_AND_WRITE, WRITE, APPEND, READ, LIST,
            LIST_COLLECTION, GET_ATTRIBUTES, SET_ATTRIBUTES, FLUSH_OSD} <= actions, sorted(map(hex, actions))
    assert not [row for row in rows if len(row) > 1 and row[1]], "tshark found malformed packets"
    severities = {int(s) for row in rows if len(row) > 2 for s in row[2].split(",") if s}
    assert max(severities, default=0) < WARNING, "tshark's expert infos hold warnings or errors"
