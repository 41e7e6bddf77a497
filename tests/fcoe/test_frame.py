"""FCoE encapsulation and FC header codec (FC-BB-6 7.2, FC-FS-4 9.1) against the reference capture
and hypothesis-generated frames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.lab.pcap import Frame
from hpt.fcoe.frame import (
    EOFS,
    SOFS,
    FcHeader,
    FrameError,
    decode_fcoe,
    encode_fcoe,
    parse_mac,
    parse_wwn,
    wwn_str,
)

MAC_A, MAC_B = parse_mac("0e:fd:00:00:00:01"), parse_mac("0e:fd:00:00:00:02")

headers = st.builds(
    FcHeader,
    r_ctl=st.integers(0, 255),
    d_id=st.integers(0, 0xFFFFFF),
    s_id=st.integers(0, 0xFFFFFF),
    type=st.integers(0, 255),
    f_ctl=st.integers(0, 0xFFFFFF),
    seq_id=st.integers(0, 255),
    seq_cnt=st.integers(0, 0xFFFF),
    ox_id=st.integers(0, 0xFFFF),
    rx_id=st.integers(0, 0xFFFF),
    parameter=st.integers(0, 0xFFFFFFFF),
    cs_ctl=st.integers(0, 255),
    df_ctl=st.integers(0, 255),
)


def test_every_fcoe_frame_of_the_capture_decodes(capture: list[Frame]) -> None:
    fcoe = [f for f in capture if f.ethertype == 0x8906]
    assert len(fcoe) > 3000
    for f in fcoe:
        frame = decode_fcoe(f.data)
        r_ctl, d_id, s_id, fc_type = f.fc_header()  # type: ignore[misc]
        assert (frame.header.r_ctl, frame.header.d_id, frame.header.s_id, frame.header.type) == (
            r_ctl,
            d_id,
            s_id,
            fc_type,
        )


def test_reencoding_a_captured_frame_gives_the_same_bytes(capture: list[Frame]) -> None:
    for f in capture:
        if f.ethertype != 0x8906:
            continue
        frame = decode_fcoe(f.data)
        parts = encode_fcoe(frame.dst_mac, frame.src_mac, frame.header, [frame.payload], frame.sof, frame.eof)
        assert b"".join(bytes(p) for p in parts) == f.data


@given(headers)
def test_header_roundtrip(header: FcHeader) -> None:
    assert FcHeader.unpack(header.pack()) == header


@given(
    headers,
    st.integers(0, 528).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    st.sampled_from(sorted(SOFS)),
    st.sampled_from(sorted(EOFS)),
)
def test_fcoe_roundtrip(header: FcHeader, payload: bytes, sof: int, eof: int) -> None:
    raw = b"".join(bytes(p) for p in encode_fcoe(MAC_A, MAC_B, header, [payload[:7], payload[7:]], sof, eof))
    frame = decode_fcoe(raw)
    assert (frame.header, bytes(frame.payload), frame.sof, frame.eof) == (header, payload, sof, eof)
    assert (frame.dst_mac, frame.src_mac) == (MAC_A, MAC_B)


@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_escape_as_other_errors(raw: bytes) -> None:
    try:
        decode_fcoe(b"\0" * 12 + b"\x89\x06" + raw)
    except FrameError as err:
        assert err.reason in {
            "truncated",
            "bad_version",
            "bad_sof",
            "bad_eof",
            "bad_crc",
            "oversized",
            "bad_length",
        }


def _frame(payload_len: int = 16) -> bytes:
    hdr = FcHeader(0x22, 1, 2, 1, 0x290000)
    return b"".join(bytes(p) for p in encode_fcoe(MAC_A, MAC_B, hdr, [bytes(payload_len)]))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_frame()[:59], "truncated"),
        (_frame()[:-8] + b"\0\0\0\0" + _frame()[-4:], "bad_crc"),
        (_frame()[:27] + b"\x2f" + _frame()[28:], "bad_sof"),
        (_frame()[:-4] + b"\x43" + _frame()[-3:], "bad_eof"),
        (_frame()[:14] + b"\x20" + _frame()[15:], "bad_version"),
        (_frame(2116), "oversized"),
        (_frame()[:-8] + b"\0\0" + _frame()[-8:], "bad_length"),
        (_frame()[:12] + b"\x08\x00" + _frame()[14:], "not_fcoe"),
    ],
)
def test_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_fcoe(raw)
    assert err.value.reason == reason


def test_largest_frame_is_accepted() -> None:
    assert len(decode_fcoe(_frame(2112)).payload) == 2112


def test_names() -> None:
    assert parse_wwn("20:00:52:54:00:aa:00:01") == parse_wwn("0x2000525400AA0001") == 0x2000525400AA0001
    assert wwn_str(0x2000525400AA0001) == "20:00:52:54:00:aa:00:01"
    for bad in ("20:00", "0xzz00525400aa0001", ""):
        with pytest.raises(ValueError):
            parse_wwn(bad)
    with pytest.raises(ValueError):
        parse_mac("52:54:00:aa:00")
