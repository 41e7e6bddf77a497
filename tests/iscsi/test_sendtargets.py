"""SendTargets (RFC 7143 Appendix C, 13.3, 13.8) and full-feature-phase Text Request answers."""

from __future__ import annotations

import pytest

from hpt.iscsi.sendtargets import (
    TargetEntry,
    chunk_text,
    sendtargets_response,
    target_address,
    text_request_answers,
)
from hpt.iscsi.text import encode_text, parse_text

DISK = TargetEntry("iqn.2026-11.org.hpt:disk", [("192.0.2.10", 3260, 1), ("2001:db8::10", 3260, 2)])
TAPE = TargetEntry("iqn.2026-11.org.hpt:tape", [("192.0.2.10", 3261, 1)])
BARE = TargetEntry("iqn.2026-11.org.hpt:bare")
TARGETS = [DISK, TAPE, BARE]
DISK_PAIRS = [("TargetName", DISK.name), ("TargetAddress", "192.0.2.10:3260,1"),
              ("TargetAddress", "[2001:db8::10]:3260,2")]


def discovery(value: str) -> list[tuple[str, str]]:
    return sendtargets_response(value, TARGETS, session_type="Discovery", current_target=None)


def normal(value: str, current: str | None = DISK.name) -> list[tuple[str, str]]:
    return sendtargets_response(value, TARGETS, session_type="Normal", current_target=current)


def test_target_address_forms() -> None:
    assert target_address("192.0.2.1", 3260, 1) == "192.0.2.1:3260,1"
    assert target_address("fe80::1", 860, 65535) == "[fe80::1]:860,65535"
    assert target_address("[fe80::1]", 3260, 0) == "[fe80::1]:3260,0"
    assert target_address("san.example.com", 3260, 7) == "san.example.com:3260,7"


def test_discovery_all() -> None:
    tape = [("TargetName", TAPE.name), ("TargetAddress", "192.0.2.10:3261,1")]
    assert discovery("All") == DISK_PAIRS + tape + [("TargetName", BARE.name)]


def test_discovery_by_name() -> None:
    assert discovery(DISK.name) == DISK_PAIRS
    assert discovery(DISK.name.upper().replace("IQN", "iqn")) == DISK_PAIRS  # names compare caselessly
    assert discovery("iqn.2026-11.org.hpt:unknown") == []


def test_discovery_empty_value() -> None:
    assert discovery("") == []  # "the target to which the session is logged in": none


def test_normal_session_sees_only_its_target() -> None:
    assert normal("") == DISK_PAIRS
    assert normal(DISK.name) == DISK_PAIRS
    assert normal("All") == DISK_PAIRS  # libiscsi iSCSISendTargets.Simple sends All in a Normal session
    assert normal(TAPE.name) == []
    assert normal("All", current=None) == []


# libiscsi iSCSISendTargets.Invalid sends Alle and A
@pytest.mark.parametrize("value", ["Alle", "A", "aLL", "all", "iqn.", "Some Name"])
def test_invalid_values_rejected(value: str) -> None:
    assert discovery(value) == [("SendTargets", "Reject")]
    assert normal(value) == [("SendTargets", "Reject")]


def test_target_entry_checks() -> None:
    assert TargetEntry("iqn.x:y", [("h", 1, 2)]).portals == (("h", 1, 2),)
    for portal in [("", 3260, 1), ("h", 0, 1), ("h", 65536, 1), ("h", 3260, -1), ("h", 3260, 65536)]:
        with pytest.raises(ValueError, match="bad portal"):
            TargetEntry("iqn.x:y", [portal])


def test_text_request_answers() -> None:
    def send_targets(value: str) -> list[tuple[str, str]]:
        return discovery(value)

    pairs = parse_text(b"SendTargetsPlease=All\0sENDtARGETS=aLL\0X#Vendor=1\0")
    assert text_request_answers(pairs, send_targets) == [(k, "NotUnderstood") for k, _ in pairs]
    assert text_request_answers([("SendTargets", "All")], send_targets) == discovery("All")
    assert text_request_answers([("SendTargets", "Alle")], send_targets) == [("SendTargets", "Reject")]
    renegotiate = [("MaxBurstLength", "512"), ("HeaderDigest", "CRC32C"), ("InitiatorAlias", "host")]
    assert text_request_answers(renegotiate, send_targets) == [("MaxBurstLength", "Reject"),
                                                              ("HeaderDigest", "Reject")]


def test_chunk_text() -> None:
    data = encode_text(discovery("All"))
    pieces = chunk_text(data, 16)
    assert all(1 <= len(p) <= 16 for p in pieces) and b"".join(pieces) == data
    assert chunk_text(data, len(data)) == [data]
    assert chunk_text(b"", 8192) == [b""]
    with pytest.raises(ValueError, match="at least 1"):
        chunk_text(data, 0)
