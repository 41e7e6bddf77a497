"""iSCSI text: NUL-separated key=value pairs and their value encodings (RFC 7143 6.1).

A key is at most 63 bytes. A value (each comma-separated element of a list) is at most 255 bytes,
except a value in binary form (``0x`` hex or ``0b`` base64), which may encode a large-binary-value
of up to 1024 bytes (RFC 7143 6.1, 12.1.3). Numbers are decimal, hex or base64 constants.
"""

from __future__ import annotations

import base64 as _b64
import binascii
import re
from collections.abc import Iterable

from hpt.iscsi.errors import TextError

MAX_KEY_BYTES = 63
MAX_VALUE_BYTES = 255
MAX_BINARY_BYTES = 1024  # large-binary-value (RFC 7143 6.1; CHAP_C/CHAP_R, 12.1.3)
MAX_BINARY_FORM = 2 + 2 * MAX_BINARY_BYTES  # "0x" + two hex digits a byte (base64 is shorter)

_KEY = re.compile(r"[A-Za-z0-9.\-+@_#]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX = re.compile(r"[0-9A-Fa-f]+")


def is_binary_form(value: str) -> bool:
    """True for a value written as a hex-constant (0x) or base64-constant (0b) (RFC 7143 6.1)."""
    return value[:2] in ("0x", "0X", "0b", "0B")


def split_list(value: str) -> list[str]:
    """The elements of a list-of-values (RFC 7143 6.1); an empty element is malformed."""
    items = value.split(",")
    if any(not item for item in items):
        raise TextError(f"empty element in list {value!r}")
    return items


def _check_key(key: str) -> None:
    if not key:
        raise TextError("empty key name")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise TextError(f"key name longer than {MAX_KEY_BYTES} bytes: {key[:64]!r}...")
    if not _KEY.fullmatch(key):
        raise TextError(f"key name {key!r} has characters outside letters, digits and . - + @ _ #")


def _check_value(key: str, value: str) -> None:
    if "\0" in value:
        raise TextError(f"{key}: value contains NUL")
    if is_binary_form(value):
        if len(value) > MAX_BINARY_FORM:
            raise TextError(f"{key}: binary value longer than {MAX_BINARY_BYTES} bytes")
        return
    for item in value.split(","):
        if len(item.encode()) > MAX_VALUE_BYTES:
            raise TextError(f"{key}: value longer than {MAX_VALUE_BYTES} bytes")


def parse_text(data: bytes | bytearray | memoryview) -> list[tuple[str, str]]:
    """Split one logical text data segment into (key, value) pairs, in order (RFC 7143 6.1).

    Every pair must end with NUL; extra NULs (padding) are ignored. A key given twice is an error.
    """
    raw = bytes(data)
    if not raw:
        return []
    items = raw.split(b"\0")
    if items[-1]:
        raise TextError("text does not end with NUL")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in items:
        if not item:
            continue
        try:
            text = item.decode("utf-8")
        except UnicodeDecodeError as err:
            raise TextError(f"text is not UTF-8 at {item[:32]!r}: {err.reason}") from None
        key, sep, value = text.partition("=")
        if not sep:
            raise TextError(f"no '=' in {text[:64]!r}")
        _check_key(key)
        _check_value(key, value)
        if key in seen:
            raise TextError(f"key {key} given twice")
        seen.add(key)
        pairs.append((key, value))
    return pairs


def encode_text(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Encode (key, value) pairs as key=value NUL ... (RFC 7143 6.1); raises TextError on bad pairs."""
    out = bytearray()
    for key, value in pairs:
        _check_key(key)
        _check_value(key, value)
        out += f"{key}={value}".encode()
        out += b"\0"
    return bytes(out)


def decode_binary(value: str) -> bytes:
    """Bytes of a hex-constant (``0x``) or base64-constant (``0b``) (RFC 7143 6.1, RFC 4648).

    A hex constant with an odd number of digits has an implicit leading zero digit.
    """
    prefix, body = value[:2], value[2:]
    if prefix in ("0x", "0X"):
        if not _HEX.fullmatch(body):
            raise TextError(f"bad hex constant {value[:40]!r}")
        if len(body) % 2:
            body = "0" + body
        return bytes.fromhex(body)
    if prefix in ("0b", "0B"):
        try:
            data = binascii.a2b_base64(body.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raise TextError(f"bad base64 constant {value[:40]!r}") from None
        if not data:
            raise TextError(f"empty base64 constant {value!r}")
        return data
    raise TextError(f"binary value {value[:40]!r} does not start with 0x or 0b")


def encode_binary(data: bytes, base64: bool = False) -> str:
    """A binary value as ``0x`` + lowercase hex, or ``0b`` + base64 (RFC 7143 6.1)."""
    if not data:
        raise ValueError("a binary value has at least one byte")
    if base64:
        return "0b" + _b64.b64encode(data).decode("ascii")
    return "0x" + data.hex()


def decode_number(value: str, maximum: int = 2**64 - 1) -> int:
    """A numerical value: decimal-constant, hex-constant or base64-constant (RFC 7143 6.1).

    Decimal constants have no leading zeros; the result must not exceed ``maximum``.
    """
    if is_binary_form(value):
        number = int.from_bytes(decode_binary(value), "big")
    elif _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise TextError(f"{value[:40]!r} is not a number")
    if number > maximum:
        raise TextError(f"{value[:40]} exceeds {maximum}")
    return number
