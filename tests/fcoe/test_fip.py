"""FIP codec (FC-BB-6 7.8) against the reference capture, crafted frames and hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.lab.pcap import Frame
from hpt.fcoe import fip
from hpt.fcoe.fip import VnId, decode_fip, encode_fip
from hpt.fcoe.frame import FrameError, parse_mac
from hpt.fcoe.vn2vn import Vn2vn
from tests.fcoe.conftest import TARGET_MAC, TARGET_WWNN, TARGET_WWPN

TARGET = parse_mac(TARGET_MAC)
# The FCP features nibble: after Ethernet, FIP header, MAC/NAME/VN_ID, FC-4 header, TYPE bitmap.
FEATURES = 14 + 10 + 40 + 4 + 32 + 7
CT_TYPE = 14 + 10 + 40 + 4 + 7  # word 1, bit 0 of the TYPE bitmap: TYPE 20h


def test_every_fip_frame_of_the_capture_decodes(capture: list[Frame]) -> None:
    frames = [f for f in capture if f.ethertype == 0x8914]
    assert len(frames) == 15
    for f in frames:
        frame = decode_fip(f.data)
        assert (frame.op, frame.subcode) == f.fip()
        if frame.op == fip.OP_VN2VN:
            vn = frame.vn_id()
            assert vn is not None and (vn.mac.hex(":"), vn.port_id, f"{vn.wwpn:016x}") == (
                f.fip_vn_port()[0],
                f.fip_vn_port()[1],
                f.fip_vn_port()[2].replace(":", ""),
            )  # type: ignore[index]


def _as_hpt(linux: bytes, features: int) -> bytes:
    """A Linux claim as hpt sends it: Linux lists FC-4 TYPEs FCP and CT (20h) with its own features
    (``features``); hpt lists FCP alone, as a target."""
    raw = bytearray(linux)
    assert raw[CT_TYPE] == 0x01 and raw[FEATURES] == features
    raw[CT_TYPE], raw[FEATURES] = 0, fip.FC4_FEATURE_TARGET
    return bytes(raw)


def _sent_by_target(capture: list[Frame], number: int) -> bytes:
    return capture[number - 1].data


def test_probe_and_beacon_match_linux_byte_for_byte(capture: list[Frame]) -> None:
    vn = Vn2vn(TARGET, TARGET_WWNN, TARGET_WWPN, 2158)
    vn.start(0.0)
    assert vn.port_id == 1
    assert vn.out[0] == _sent_by_target(capture, 3)  # probe request
    vn.tick(1.0)
    vn.tick(2.0)
    vn.tick(3.0)
    claim, beacon = vn.out[2], vn.out[3]
    assert beacon == _sent_by_target(capture, 9)
    assert claim == _as_hpt(_sent_by_target(capture, 6), 0x3)  # LIO: FCP initiator and target


def test_claim_response_matches_linux_apart_from_features(capture: list[Frame]) -> None:
    # The initiator's Claim Response (frame 7) padded to the largest FCoE frame, from the initiator's view.
    ini = parse_mac("52:54:00:bb:00:02")
    vn = Vn2vn(ini, 0x1000525400BB0002, 0x2000525400BB0002, 2158)
    vn.start(0.0)
    vn.tick(1.0)
    vn.tick(2.0)
    vn.out.clear()
    vn.receive(decode_fip(_sent_by_target(capture, 6)), 2.1)
    assert vn.out == [_as_hpt(capture[6].data, 0x2)]


descriptor_values = st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=60)), max_size=8)


@given(descriptor_values, st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 0xFFFF))
def test_descriptor_roundtrip(values: list[tuple[int, bytes]], op: int, subcode: int, flags: int) -> None:
    raw = encode_fip(bytes(6), TARGET, op, subcode, [fip.descriptor(k, v) for k, v in values], flags)
    frame = decode_fip(raw)
    assert (frame.op, frame.subcode, frame.flags, frame.src_mac) == (op, subcode, flags, TARGET)
    for kind in {k for k, _ in values}:
        first = next(v for k, v in values if k == kind)  # the first descriptor of a type wins
        assert frame.descriptors[kind][: len(first)] == first
        assert len(frame.descriptors[kind]) % 4 == 2


@given(st.integers(1, 0xFEFFFF), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_vn2vn_descriptors(port_id: int, wwpn: int, wwnn: int) -> None:
    descs = [
        fip.mac_desc(TARGET),
        fip.name_desc(wwnn),
        fip.vn_id_desc(VnId(fip.vn_mac(port_id), port_id, wwpn)),
        fip.size_desc(2158),
        fip.vlan_desc(100),
    ]
    frame = decode_fip(encode_fip(fip.ALL_VN2VN_MACS, TARGET, 5, 1, descs))
    assert (
        frame.mac() == TARGET and frame.wwnn() == wwnn and frame.max_size() == 2158 and frame.vlans == [100]
    )
    assert frame.vn_id() == VnId(fip.vn_mac(port_id), port_id, wwpn)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_frame_error_only(raw: bytes) -> None:
    try:
        decode_fip(bytes(12) + b"\x89\x14" + raw)
    except FrameError as err:
        assert err.reason in {"truncated", "bad_version", "bad_descriptor"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes(12) + b"\x89\x14" + b"\x10\x00", "truncated"),
        (bytes(12) + b"\x89\x14" + b"\x20" + bytes(9), "bad_version"),
        (bytes(12) + b"\x89\x14" + bytes.fromhex("1000 0005 0001 0010 0000") + bytes(8), "truncated"),
        (
            bytes(12) + b"\x89\x14" + bytes.fromhex("1000 0005 0001 0002 0000 0200 0000 0000 0000"),
            "bad_descriptor",
        ),
        (bytes(12) + b"\x89\x14" + bytes.fromhex("1000 0005 0001 0001 0000 0209 0000"), "bad_descriptor"),
    ],
)
def test_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_fip(raw)
    assert err.value.reason == reason


def test_fc4_features_bitmap() -> None:
    value = fip.fc4_features_desc()[2:]
    assert value[2 + 2] == 0x01 and value[2 + 32 + 7] == fip.FC4_FEATURE_TARGET
