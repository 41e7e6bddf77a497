"""The key table (RFC 7143 12.1, 13; RFC 7145 6): one consistent row a key."""

from __future__ import annotations

from dataclasses import fields

import pytest

from hpt.iscsi.errors import TextError
from hpt.iscsi.keys import BY_FIELD, KEYS, Kind, Scope, Sender, Stage, Use, is_iscsi_name
from hpt.iscsi.negotiation import ConnParams, SessionParams, TargetPolicy

RFC7143_OPERATIONAL = {
    "HeaderDigest", "DataDigest", "MaxConnections", "SendTargets", "TargetName", "InitiatorName",
    "TargetAlias", "InitiatorAlias", "TargetAddress", "TargetPortalGroupTag", "InitialR2T", "ImmediateData",
    "MaxRecvDataSegmentLength", "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait",
    "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder",
    "ErrorRecoveryLevel", "SessionType", "TaskReporting", "iSCSIProtocolLevel",
    "IFMarker", "OFMarker", "IFMarkInt", "OFMarkInt",
}
ISER = {"RDMAExtensions", "TargetRecvDataSegmentLength", "InitiatorRecvDataSegmentLength",
        "MaxOutstandingUnexpectedPDUs"}
CHAP = {"CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R"}


def test_every_rfc_key_is_in_the_table() -> None:
    assert RFC7143_OPERATIONAL | ISER | CHAP | {"AuthMethod"} <= set(KEYS)
    assert all(KEYS[k].stage is Stage.SECURITY for k in CHAP | {"AuthMethod"})
    assert all(k.section.startswith(("RFC 7143", "RFC 7145")) for k in KEYS.values())


def test_rfc_defaults_and_ranges() -> None:
    expect = {
        "MaxConnections": (Kind.MIN, 1, 1, 65535), "MaxBurstLength": (Kind.MIN, 262144, 512, 2**24 - 1),
        "FirstBurstLength": (Kind.MIN, 65536, 512, 2**24 - 1), "DefaultTime2Wait": (Kind.MAX, 2, 0, 3600),
        "DefaultTime2Retain": (Kind.MIN, 20, 0, 3600), "MaxOutstandingR2T": (Kind.MIN, 1, 1, 65535),
        "ErrorRecoveryLevel": (Kind.MIN, 0, 0, 2), "iSCSIProtocolLevel": (Kind.MIN, 0, 0, 31),
        "MaxRecvDataSegmentLength": (Kind.DECLARATIVE, 8192, 512, 2**24 - 1),
        "TargetRecvDataSegmentLength": (Kind.MIN, 8192, 512, 2**24 - 1),
        "MaxOutstandingUnexpectedPDUs": (Kind.MIN_OR_ZERO, 0, 2, 2**32 - 1),
    }
    for name, (kind, default, lo, hi) in expect.items():
        kd = KEYS[name]
        assert (kd.kind, kd.default, kd.lo, kd.hi) == (kind, default, lo, hi), name
    booleans = {"InitialR2T": Kind.OR, "ImmediateData": Kind.AND, "DataPDUInOrder": Kind.OR,
                "DataSequenceInOrder": Kind.OR, "RDMAExtensions": Kind.AND}
    for name, kind in booleans.items():
        assert KEYS[name].kind is kind and KEYS[name].default is (name != "RDMAExtensions"), name


def test_scope_use_and_senders() -> None:
    assert KEYS["HeaderDigest"].scope is Scope.CO and KEYS["HeaderDigest"].use is Use.IO
    mrdsl = KEYS["MaxRecvDataSegmentLength"]
    assert mrdsl.scope is Scope.CO and mrdsl.use is Use.ALL
    assert KEYS["MaxBurstLength"].scope is Scope.SW and KEYS["MaxBurstLength"].use is Use.LO
    assert KEYS["SendTargets"].use is Use.FFPO
    assert {k for k, d in KEYS.items() if d.senders is Sender.TARGET} == {
        "TargetAlias", "TargetAddress", "TargetPortalGroupTag"}
    assert {k for k, d in KEYS.items() if d.senders is Sender.INITIATOR} == {
        "SendTargets", "InitiatorName", "InitiatorAlias", "SessionType"}


def test_discovery_irrelevant_keys() -> None:
    irrelevant = {k for k, d in KEYS.items() if d.discovery_irrelevant}
    rfc = {"MaxConnections", "InitialR2T", "ImmediateData", "MaxBurstLength", "FirstBurstLength",
           "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder", "TaskReporting"}
    assert irrelevant == rfc | ISER


def test_list_defaults_are_legal_values() -> None:
    for kd in KEYS.values():
        if kd.kind is Kind.LIST:
            assert kd.default in kd.values, kd.name
        if kd.numeric and kd.default is not None:
            assert kd.lo <= kd.default <= kd.hi or kd.kind is Kind.MIN_OR_ZERO, kd.name


def test_fields_name_result_attributes() -> None:
    results = {f.name for f in fields(SessionParams)} | {f.name for f in fields(ConnParams)}
    policy = {f.name for f in fields(TargetPolicy)}
    for name, kd in BY_FIELD.items():
        assert kd.field == name
        assert name in results | policy, name
    negotiated = [kd for kd in KEYS.values() if kd.kind in (Kind.MIN, Kind.MAX, Kind.AND, Kind.OR, Kind.LIST)
                  and kd.stage is Stage.OPERATIONAL]
    assert all(kd.field in policy for kd in negotiated)


def test_parse_values() -> None:
    assert KEYS["MaxBurstLength"].parse("0x100000") == 1048576
    assert KEYS["ImmediateData"].parse("No") is False
    assert KEYS["HeaderDigest"].parse("CRC32C,None") == ["CRC32C", "None"]
    assert KEYS["MaxOutstandingUnexpectedPDUs"].parse("0") == 0
    for name, bad in [("MaxBurstLength", "511"), ("MaxBurstLength", "16777216"), ("ImmediateData", "yes"),
                      ("MaxOutstandingUnexpectedPDUs", "1"), ("ErrorRecoveryLevel", "3")]:
        with pytest.raises(TextError):
            KEYS[name].parse(bad)
    assert KEYS["InitialR2T"].format(False) == "No" and KEYS["MaxBurstLength"].format(512) == "512"


@pytest.mark.parametrize(("name", "ok"), [
    ("iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test", True),
    ("eui.02004567A425678D", True),
    ("naa.52004567BA64678D", True),
    ("IQN.1991-05.COM.MICROSOFT:HOST", True),
    ("Alle", False), ("A", False), ("iqn.", False), ("iqn.a b", False), ("iqn." + "a" * 220, False),
])
def test_is_iscsi_name(name: str, ok: bool) -> None:
    assert is_iscsi_name(name) is ok
