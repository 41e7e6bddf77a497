"""iSCSI text codec: key=value pairs, binary and numerical encodings (RFC 7143 6.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpt.iscsi.errors import INITIATOR_ERROR, TextError
from hpt.iscsi.text import (
    MAX_BINARY_BYTES,
    decode_binary,
    decode_number,
    encode_binary,
    encode_text,
    parse_text,
    split_list,
)

KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-+@_#"
keys = st.text(alphabet=KEY_CHARS, min_size=1, max_size=63)
# text values: no NUL, no surrogates, each comma-separated element at most 255 bytes
elements = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0,"), max_size=60)
values = st.lists(elements, min_size=1, max_size=5).map(",".join).filter(
    lambda v: v[:2].lower() not in ("0x", "0b"))
pair_lists = st.dictionaries(keys, values, max_size=12).map(lambda d: list(d.items()))


def test_parse_in_order() -> None:
    data = b"InitiatorName=iqn.2000-01.com.example:a\0AuthMethod=CHAP,None\0X-com.example.k=\0"
    assert parse_text(data) == [
        ("InitiatorName", "iqn.2000-01.com.example:a"),
        ("AuthMethod", "CHAP,None"),
        ("X-com.example.k", ""),
    ]


def test_parse_value_keeps_later_equal_signs() -> None:
    assert parse_text(b"TargetAlias=a=b\0") == [("TargetAlias", "a=b")]


def test_parse_empty_and_padding() -> None:
    assert parse_text(b"") == []
    assert parse_text(memoryview(b"A=1\0\0\0\0")) == [("A", "1")]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"NoEqualSign\0", "no '='"),
        (b"=value\0", "empty key"),
        (b"A=1", "does not end with NUL"),
        (b"A=\xff\xfe\0", "not UTF-8"),
        (b"A=1\0B=2\0A=3\0", "given twice"),
        (b"K" * 64 + b"=1\0", "longer than 63"),
        (b"A=" + b"v" * 256 + b"\0", "longer than 255"),
        (b"Bad Key=1\0", "characters outside"),
        (b"A=0x" + b"0" * (2 * MAX_BINARY_BYTES + 1) + b"\0", "binary value longer"),
    ],
)
def test_parse_errors(data: bytes, why: str) -> None:
    with pytest.raises(TextError, match=why) as err:
        parse_text(data)
    assert err.value.status == INITIATOR_ERROR
    assert isinstance(err.value, ValueError)


def test_long_values_allowed_where_rfc_allows() -> None:
    hex_value = "0x" + "ab" * MAX_BINARY_BYTES  # a 1024-byte large-binary-value
    lists = ",".join(["x" * 255] * 3)  # each list element may be 255 bytes
    assert parse_text(f"CHAP_C={hex_value}\0L={lists}\0".encode()) == [("CHAP_C", hex_value), ("L", lists)]
    assert parse_text(("A=" + "é" * 127 + "\0").encode()) == [("A", "é" * 127)]  # 254 bytes


@pytest.mark.parametrize("pair", [("A", "x\0y"), ("", "1"), ("A B", "1"), ("A", "y" * 256)])
def test_encode_rejects_bad_pairs(pair: tuple[str, str]) -> None:
    with pytest.raises(TextError):
        encode_text([pair])


def test_encode_format() -> None:
    assert encode_text([("A", "1"), ("B", "")]) == b"A=1\0B=\0"
    assert encode_text([]) == b""


@given(pair_lists)
def test_text_round_trip(pairs: list[tuple[str, str]]) -> None:
    assert parse_text(encode_text(pairs)) == pairs


@given(st.binary(min_size=1, max_size=MAX_BINARY_BYTES), st.booleans())
def test_binary_round_trip(data: bytes, base64: bool) -> None:
    encoded = encode_binary(data, base64=base64)
    assert encoded.startswith("0b" if base64 else "0x")
    assert decode_binary(encoded) == data
    assert parse_text(encode_text([("CHAP_R", encoded)])) == [("CHAP_R", encoded)]


def test_decode_binary_forms() -> None:
    assert decode_binary("0xABcd") == b"\xab\xcd"
    assert decode_binary("0X0102") == b"\x01\x02"
    assert decode_binary("0x123") == b"\x01\x23"  # odd digit count: implicit leading zero
    assert decode_binary("0bAQID") == b"\x01\x02\x03"
    assert decode_binary("0BAQI=") == b"\x01\x02"


@pytest.mark.parametrize("value", ["0x", "0xg1", "0b", "0bAQI", "0b!!!!", "AQID", "12", "0bAQID\u00e9"])
def test_decode_binary_errors(value: str) -> None:
    with pytest.raises(TextError):
        decode_binary(value)


def test_encode_binary_needs_data() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        encode_binary(b"")


def test_decode_number() -> None:
    assert decode_number("0") == 0
    assert decode_number("262144") == 262144
    assert decode_number("0x40000") == 262144
    assert decode_number("0bAAQAAA==") == 262144
    assert decode_number(str(2**64 - 1)) == 2**64 - 1


@pytest.mark.parametrize("value", ["", "007", "-1", "1.5", "12a", " 1", str(2**64), "0x"])
def test_decode_number_errors(value: str) -> None:
    with pytest.raises(TextError):
        decode_number(value)


def test_decode_number_maximum() -> None:
    assert decode_number("255", maximum=255) == 255
    with pytest.raises(TextError, match="exceeds 255"):
        decode_number("256", maximum=255)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_number_encodings_agree(number: int) -> None:
    raw = number.to_bytes(8, "big")
    assert decode_number(str(number)) == number
    assert decode_number(hex(number)) == number
    assert decode_number(encode_binary(raw, base64=True)) == number


def test_split_list() -> None:
    assert split_list("CRC32C,None") == ["CRC32C", "None"]
    with pytest.raises(TextError, match="empty element"):
        split_list("CRC32C,,None")
    with pytest.raises(TextError):
        split_list("")
