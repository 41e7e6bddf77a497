"""Login key negotiation (RFC 7143 6.2-6.6, 13; RFC 7145 6)."""

from __future__ import annotations

import pytest

from hpt.iscsi.errors import (
    AUTH_FAILED,
    FORBIDDEN,
    INITIATOR_ERROR,
    MISSING_PARAMETER,
    SESSION_TYPE_UNSUPPORTED,
    TARGET_ERROR,
    LoginError,
    LoginStatus,
    TextError,
)
from hpt.iscsi.negotiation import AuthPolicy, LoginNegotiator, TargetPolicy
from hpt.iscsi.text import encode_text, parse_text

INI = "iqn.2000-01.com.example:host"
TGT = "iqn.2026-11.org.hpt:disk"
NAMES = [("InitiatorName", INI), ("TargetName", TGT), ("SessionType", "Normal")]
DISCOVERY = [("InitiatorName", INI), ("SessionType", "Discovery")]
# what open-iscsi sends in the operational stage of a Normal session
OPEN_ISCSI = [("HeaderDigest", "None"), ("DataDigest", "None"), ("DefaultTime2Wait", "2"),
              ("DefaultTime2Retain", "0"), ("IFMarker", "No"), ("OFMarker", "No"),
              ("ErrorRecoveryLevel", "0"), ("InitialR2T", "No"), ("ImmediateData", "Yes"),
              ("MaxBurstLength", "16776192"), ("FirstBurstLength", "262144"), ("MaxOutstandingR2T", "1"),
              ("MaxConnections", "1"), ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes"),
              ("MaxRecvDataSegmentLength", "262144")]


def make(target: TargetPolicy | None = None, *, chap: bool = False, leading: bool = True,
         transport: str = "tcp", calls: list[tuple[str, str, str]] | None = None) -> LoginNegotiator:
    def lookup(session_type: str, initiator: str, target_name: str) -> tuple[TargetPolicy, AuthPolicy]:
        if calls is not None:
            calls.append((session_type, initiator, target_name))
        return target or TargetPolicy(), AuthPolicy(chap_required=chap, secret_for=lambda user: None)

    return LoginNegotiator(lookup, leading=leading, portal_group_tag=3, transport=transport)


def operational(pairs: list[tuple[str, str]], names: list[tuple[str, str]] = NAMES,
                **kwargs: object) -> tuple[LoginNegotiator, dict[str, str]]:
    negotiator = make(**kwargs)  # type: ignore[arg-type]
    return negotiator, dict(negotiator.operational_step(names + pairs))


def answer(key: str, value: str, **kwargs: object) -> str | None:
    """The target's answer to one offered key in a Normal session."""
    return operational([(key, value)], **kwargs)[1].get(key)  # type: ignore[arg-type]


def fails(status: LoginStatus, call: object, *args: object) -> LoginError:
    with pytest.raises(LoginError) as err:
        call(*args)  # type: ignore[operator]
    assert err.value.status == status, err.value
    return err.value


# ------------------------------------------------------------------------------------ first request
def test_lookup_once_and_first_response() -> None:
    calls: list[tuple[str, str, str]] = []
    negotiator = make(TargetPolicy(target_alias="fast disk"), calls=calls)
    first, _ = negotiator.security_step(NAMES + [("AuthMethod", "None")])
    assert first[:2] == [("TargetPortalGroupTag", "3"), ("TargetAlias", "fast disk")]
    assert ("AuthMethod", "None") in first
    second = dict(negotiator.operational_step(OPEN_ISCSI))
    assert "TargetPortalGroupTag" not in second and "TargetAlias" not in second
    assert calls == [("Normal", INI, TGT)]
    names = (negotiator.initiator_name, negotiator.target_name, negotiator.session_type)
    assert names == (INI, TGT, "Normal")


def test_discovery_lookup_and_no_portal_group_tag() -> None:
    calls: list[tuple[str, str, str]] = []
    negotiator = make(calls=calls)
    reply, done = negotiator.security_step(DISCOVERY + [("TargetName", TGT), ("AuthMethod", "None")])
    assert done and reply == [("AuthMethod", "None")]
    assert calls == [("Discovery", INI, "")]
    assert negotiator.target_name is None


def test_first_request_checks() -> None:
    negotiator = make()
    fails(MISSING_PARAMETER, negotiator.security_step, [("TargetName", TGT)])
    fails(MISSING_PARAMETER, make().operational_step, [("InitiatorName", INI)])
    fails(SESSION_TYPE_UNSUPPORTED, make().operational_step, NAMES[:2] + [("SessionType", "Boot")])
    fails(INITIATOR_ERROR, make().operational_step, [("InitiatorName", "host1"), ("TargetName", TGT)])


def test_lookup_refusal_ends_login() -> None:
    def refuse(*_: str) -> tuple[TargetPolicy, AuthPolicy]:
        raise LoginError(*FORBIDDEN, "not in the ACL")

    negotiator = LoginNegotiator(refuse, leading=True, portal_group_tag=1)
    fails(FORBIDDEN, negotiator.security_step, NAMES)


def test_bad_target_configuration_is_a_target_error() -> None:
    def misconfigured(*_: str) -> tuple[TargetPolicy, AuthPolicy]:
        return TargetPolicy.from_overrides({"ErrorRecoveryLevel": 2}), AuthPolicy(False, dict().get)

    negotiator = LoginNegotiator(misconfigured, leading=True, portal_group_tag=1)
    error = fails(TARGET_ERROR, negotiator.operational_step, NAMES)
    assert "ErrorRecoveryLevel" in str(error)


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="transport"):
        make(transport="fc")
    with pytest.raises(ValueError, match="portal group tag"):
        LoginNegotiator(lambda *_: (TargetPolicy(), AuthPolicy(False, dict().get)), leading=True,
                        portal_group_tag=70000)


# ------------------------------------------------------------------------------------ authentication
def test_auth_method_none_when_not_required() -> None:
    negotiator = make()
    reply, done = negotiator.security_step(NAMES + [("AuthMethod", "CHAP,None")])
    assert dict(reply)["AuthMethod"] == "None" and done


def test_auth_required() -> None:
    fails(AUTH_FAILED, make(chap=True).security_step, NAMES + [("AuthMethod", "None")])
    fails(AUTH_FAILED, make(chap=True).security_step, NAMES)  # no AuthMethod at all
    fails(AUTH_FAILED, make(chap=True).operational_step, NAMES + OPEN_ISCSI)  # security stage skipped
    negotiator = make(chap=True)
    _, done = negotiator.security_step(NAMES + [("AuthMethod", "CHAP")])
    assert not done and not negotiator.may_transit_to_ffp()
    fails(AUTH_FAILED, negotiator.operational_step, OPEN_ISCSI)


def test_chap_keys_need_auth_method_chap() -> None:
    fails(AUTH_FAILED, make().security_step, NAMES + [("CHAP_A", "5")])
    negotiator = make()
    negotiator.security_step(NAMES + [("AuthMethod", "None")])
    fails(AUTH_FAILED, negotiator.security_step, [("CHAP_A", "5")])
    fails(AUTH_FAILED, make(chap=True).security_step, NAMES + [("AuthMethod", "CHAP"), ("SRP_U", "x")])


def test_no_authentication_needed_without_security_stage() -> None:
    negotiator, reply = operational(OPEN_ISCSI)
    assert negotiator.authenticated and negotiator.may_transit_to_ffp()
    assert reply["TargetPortalGroupTag"] == "3"


def test_operational_keys_in_security_stage() -> None:
    negotiator = make()
    reply, _ = negotiator.security_step(NAMES + [("AuthMethod", "None"), ("HeaderDigest", "CRC32C,None")])
    assert dict(reply)["HeaderDigest"] == "CRC32C"
    assert negotiator.result()[1].header_digest


def test_security_keys_in_operational_stage() -> None:
    negotiator = make()
    negotiator.security_step(NAMES + [("AuthMethod", "None")])
    fails(INITIATOR_ERROR, negotiator.operational_step, [("CHAP_A", "5")])
    fails(INITIATOR_ERROR, make().operational_step, NAMES + [("AuthMethod", "None")])


# ------------------------------------------------------------------------------------ result functions
@pytest.mark.parametrize(("key", "offer", "result"), [
    ("MaxBurstLength", "512", "512"),
    ("MaxBurstLength", "16777215", "1048576"),
    ("MaxBurstLength", "0x200", "512"),
    ("MaxBurstLength", "511", "Reject"),
    ("MaxBurstLength", "16777216", "Reject"),
    ("MaxBurstLength", "lots", "Reject"),
    ("MaxBurstLength", "0512", "Reject"),
    ("FirstBurstLength", "4096", "4096"),
    ("MaxConnections", "8", "1"),
    ("MaxConnections", "0", "Reject"),
    ("MaxOutstandingR2T", "16", "1"),
    ("ErrorRecoveryLevel", "2", "0"),
    ("ErrorRecoveryLevel", "3", "Reject"),
    ("DefaultTime2Retain", "0", "0"),
    ("DefaultTime2Retain", "3600", "20"),
    ("DefaultTime2Wait", "0", "2"),
    ("DefaultTime2Wait", "3600", "3600"),
    ("DefaultTime2Wait", "3601", "Reject"),
    ("iSCSIProtocolLevel", "2", "1"),
    ("iSCSIProtocolLevel", "0", "0"),
    ("InitialR2T", "Yes", "Yes"),
    ("InitialR2T", "No", "No"),
    ("ImmediateData", "No", "No"),
    ("ImmediateData", "Yes", "Yes"),
    ("DataPDUInOrder", "No", "Yes"),
    ("DataSequenceInOrder", "No", "Yes"),
    ("InitialR2T", "yes", "Reject"),
    ("HeaderDigest", "None,CRC32C", "None"),
    ("HeaderDigest", "CRC32C,None", "CRC32C"),
    ("HeaderDigest", "MD5,CRC32C", "CRC32C"),
    ("HeaderDigest", "MD5", "Reject"),
    ("DataDigest", "CRC32C,,None", "Reject"),
    ("TaskReporting", "FastAbort,RFC3720", "RFC3720"),
    ("TaskReporting", "ResponseFence", "Reject"),
])
def test_result_functions(key: str, offer: str, result: str) -> None:
    assert answer(key, offer) == result


def test_policy_changes_results() -> None:
    strict = TargetPolicy(header_digest=("CRC32C",), immediate_data=False, initial_r2t=True,
                          max_burst_length=65536, first_burst_length=65536, default_time2wait=10)
    assert answer("HeaderDigest", "None", target=strict) == "Reject"
    assert answer("ImmediateData", "Yes", target=strict) == "No"
    assert answer("InitialR2T", "No", target=strict) == "Yes"
    assert answer("MaxBurstLength", "262144", target=strict) == "65536"
    assert answer("DefaultTime2Wait", "2", target=strict) == "10"


def test_rejected_key_keeps_default() -> None:
    negotiator, reply = operational([("MaxBurstLength", "100"), ("HeaderDigest", "MD5")] + OPEN_ISCSI[1:3])
    assert reply["MaxBurstLength"] == reply["HeaderDigest"] == "Reject"
    session, conn = negotiator.result()
    assert session.max_burst_length == 262144 and not conn.header_digest


def test_open_iscsi_normal_login() -> None:
    negotiator, reply = operational(OPEN_ISCSI)
    assert reply["MaxBurstLength"] == "1048576" and reply["FirstBurstLength"] == "262144"
    assert reply["IFMarker"] == reply["OFMarker"] == "Reject"  # obsoleted keys (RFC 7143 13.25)
    assert reply["MaxRecvDataSegmentLength"] == "262144"  # the target's declaration
    assert negotiator.may_transit_to_ffp()
    session, conn = negotiator.result()
    assert (session.initial_r2t, session.immediate_data) == (False, True)
    assert (session.max_burst_length, session.first_burst_length) == (1048576, 262144)
    assert (session.default_time2wait, session.default_time2retain, session.error_recovery_level) == (2, 0, 0)
    assert (conn.max_recv_data_segment_length, conn.max_xmit_data_segment_length) == (262144, 262144)
    assert not conn.header_digest and not conn.data_digest and not conn.rdma_extensions


def test_response_encodes() -> None:
    negotiator = make()
    reply = negotiator.operational_step(parse_text(encode_text(NAMES + OPEN_ISCSI)))
    assert parse_text(encode_text(reply)) == reply


# ------------------------------------------------------------------------------------ declarations
def test_max_recv_data_segment_length_per_direction() -> None:
    negotiator, reply = operational([("MaxRecvDataSegmentLength", "65536")] + OPEN_ISCSI[:-1])
    assert "MaxRecvDataSegmentLength" in reply
    conn = negotiator.result()[1]
    assert (conn.max_recv_data_segment_length, conn.max_xmit_data_segment_length) == (262144, 65536)
    assert "MaxRecvDataSegmentLength" not in dict(negotiator.operational_step([("X-a", "1")]))


def test_undeclared_lengths_default_to_8192() -> None:
    negotiator = make()
    negotiator.security_step(NAMES + [("AuthMethod", "None")])  # straight to FFP: nothing declared
    conn = negotiator.result()[1]
    assert (conn.max_recv_data_segment_length, conn.max_xmit_data_segment_length) == (8192, 8192)


def test_bad_declaration_is_rejected() -> None:
    negotiator, reply = operational([("MaxRecvDataSegmentLength", "100")] + OPEN_ISCSI[:-1])
    assert reply["MaxRecvDataSegmentLength"] == "Reject"
    assert negotiator.result()[1].max_xmit_data_segment_length == 8192
    assert negotiator.result()[1].max_recv_data_segment_length == 8192  # not declared yet
    later = negotiator.operational_step([])  # the target's own declaration follows in the next response
    assert later == [("MaxRecvDataSegmentLength", "262144")]
    assert negotiator.result()[1].max_recv_data_segment_length == 262144


def test_initiator_alias() -> None:
    negotiator, reply = operational([("InitiatorAlias", "web server 4")] + OPEN_ISCSI)
    assert "InitiatorAlias" not in reply and negotiator.initiator_alias == "web server 4"
    assert negotiator.result()[0].initiator_alias == "web server 4"


# ------------------------------------------------------------------------------------ Irrelevant etc.
def test_discovery_session_keys() -> None:
    offered = [("MaxBurstLength", "262144"), ("InitialR2T", "No"), ("DataSequenceInOrder", "Yes"),
               ("MaxConnections", "1"), ("HeaderDigest", "CRC32C,None"), ("DefaultTime2Wait", "2"),
               ("ErrorRecoveryLevel", "0"), ("MaxRecvDataSegmentLength", "32768")]
    negotiator, reply = operational(offered, names=DISCOVERY)
    for key in ("MaxBurstLength", "InitialR2T", "DataSequenceInOrder", "MaxConnections"):
        assert reply[key] == "Irrelevant"
    negotiated = (reply["HeaderDigest"], reply["DefaultTime2Wait"], reply["ErrorRecoveryLevel"])
    assert negotiated == ("CRC32C", "2", "0")
    assert "TargetPortalGroupTag" not in reply
    assert reply["MaxRecvDataSegmentLength"] == "262144"
    assert set(reply) == {k for k, _ in offered}  # no offers of session keys in Discovery
    session, conn = negotiator.result()
    assert session.session_type == "Discovery" and session.target_name is None
    assert conn.max_xmit_data_segment_length == 32768 and negotiator.may_transit_to_ffp()


def test_iser_keys_irrelevant_on_tcp() -> None:
    for key, value in [("TargetRecvDataSegmentLength", "65536"), ("MaxOutstandingUnexpectedPDUs", "4")]:
        assert answer(key, value) == "Irrelevant"
    assert answer("RDMAExtensions", "Yes") == "No"


def test_first_burst_irrelevant_without_unsolicited_data() -> None:
    reply = operational([("InitialR2T", "Yes"), ("ImmediateData", "No"), ("FirstBurstLength", "65536")])[1]
    assert reply["FirstBurstLength"] == "Irrelevant"


def test_first_burst_never_above_max_burst() -> None:
    negotiator, reply = operational([("MaxBurstLength", "8192"), ("FirstBurstLength", "65536")])
    assert reply["FirstBurstLength"] == "8192"
    assert negotiator.result()[0].first_burst_length == 8192


@pytest.mark.parametrize("key", ["X-com.example.Feature", "X#NodeArchitecture", "NewKey", "sENDtARGETS"])
def test_unknown_keys_not_understood(key: str) -> None:
    assert answer(key, "1") == "NotUnderstood"


@pytest.mark.parametrize(("key", "value"), [("OFMarkInt", "2048~8192"), ("IFMarkInt", "2048"),
                                            ("IFMarker", "Yes"), ("SendTargets", "All")])
def test_obsolete_and_full_feature_keys_rejected(key: str, value: str) -> None:
    assert answer(key, value) == "Reject"


# ------------------------------------------------------------------------------------ login failures
def test_negotiation_reset() -> None:
    negotiator = make()
    negotiator.operational_step(NAMES + [("MaxBurstLength", "65536")])
    error = fails(INITIATOR_ERROR, negotiator.operational_step, [("MaxBurstLength", "65536")])
    assert "6.3" in str(error)
    negotiator = make()
    negotiator.operational_step(NAMES + [("X-vendor.key", "1")])
    fails(INITIATOR_ERROR, negotiator.operational_step, [("X-vendor.key", "1")])


def test_redeclarations() -> None:
    negotiator = make()
    negotiator.operational_step(NAMES + [("MaxRecvDataSegmentLength", "8192")])
    negotiator.operational_step(NAMES + [("MaxRecvDataSegmentLength", "16384")])  # same names again: harmless
    assert negotiator.result()[1].max_xmit_data_segment_length == 16384
    fails(INITIATOR_ERROR, negotiator.operational_step, [("TargetName", "iqn.2026-11.org.hpt:other")])
    twice = NAMES + [("X-a", "1"), ("SessionType", "Discovery")]
    fails(INITIATOR_ERROR, make().operational_step, twice)


def test_late_session_type_must_match() -> None:
    negotiator = make()
    negotiator.operational_step(NAMES[:2])
    fails(INITIATOR_ERROR, negotiator.operational_step, [("SessionType", "Discovery")])


def test_duplicate_key_in_one_request() -> None:
    with pytest.raises(TextError) as err:
        parse_text(b"MaxBurstLength=512\0MaxBurstLength=1024\0")
    assert err.value.status == INITIATOR_ERROR


def test_leading_only_keys_on_other_connections() -> None:
    fails(INITIATOR_ERROR, make(leading=False).operational_step, NAMES[:2] + [("MaxBurstLength", "65536")])
    negotiator, reply = operational([("HeaderDigest", "CRC32C")], leading=False)
    assert reply["HeaderDigest"] == "CRC32C"
    assert "MaxBurstLength" not in reply  # nothing leading-only is offered either


def test_target_keys_from_initiator() -> None:
    for key, value in [("TargetPortalGroupTag", "1"), ("TargetAlias", "x"), ("TargetAddress", "10.0.0.1")]:
        fails(INITIATOR_ERROR, make().operational_step, NAMES + [(key, value)])


def test_reserved_values_cannot_be_offered() -> None:
    for value in ("Reject", "Irrelevant", "NotUnderstood"):
        fails(INITIATOR_ERROR, make().operational_step, NAMES + [("MaxBurstLength", value)])


# ------------------------------------------------------------------------------------ target offers
def test_target_offers_what_the_initiator_left_out() -> None:
    negotiator, reply = operational([])
    offers = {k: reply[k] for k in ("MaxBurstLength", "FirstBurstLength", "InitialR2T")}
    assert offers == {"MaxBurstLength": "1048576", "FirstBurstLength": "262144", "InitialR2T": "No"}
    assert "ImmediateData" not in reply and "HeaderDigest" not in reply  # policy equals the default
    assert not negotiator.may_transit_to_ffp()
    assert negotiator.operational_step([("MaxBurstLength", "524288"), ("InitialR2T", "Yes")]) == []
    assert not negotiator.may_transit_to_ffp()
    assert negotiator.operational_step([("FirstBurstLength", "Reject")]) == []  # keeps the default
    assert negotiator.may_transit_to_ffp()
    session = negotiator.result()[0]
    results = (session.max_burst_length, session.first_burst_length, session.initial_r2t)
    assert results == (524288, 65536, True)


@pytest.mark.parametrize(("key", "bad"), [("MaxBurstLength", "2097152"), ("InitialR2T", "Maybe"),
                                          ("MaxBurstLength", "NaN")])
def test_inadmissible_answers_end_login(key: str, bad: str) -> None:
    negotiator = operational([])[0]
    fails(INITIATOR_ERROR, negotiator.operational_step, [(key, bad)])


def test_offer_of_required_digest() -> None:
    policy = TargetPolicy(header_digest=("CRC32C",), data_digest=("CRC32C", "None"))
    negotiator, reply = operational(OPEN_ISCSI[2:], target=policy)
    assert reply["HeaderDigest"] == "CRC32C" and "DataDigest" not in reply
    negotiator.operational_step([("HeaderDigest", "CRC32C")])
    assert negotiator.may_transit_to_ffp() and negotiator.result()[1].header_digest
    for bad in ("None", "Reject"):
        negotiator = operational(OPEN_ISCSI[2:], target=policy)[0]
        fails(INITIATOR_ERROR, negotiator.operational_step, [("HeaderDigest", bad)])


def test_boolean_answers() -> None:
    policy = TargetPolicy(immediate_data=False)
    negotiator = operational([("InitialR2T", "No")], target=policy)[0]
    fails(INITIATOR_ERROR, negotiator.operational_step, [("ImmediateData", "Yes")])  # AND: No must stay No
    negotiator = operational([("InitialR2T", "No")], target=policy)[0]
    negotiator.operational_step([("ImmediateData", "No"), ("MaxBurstLength", "65536"),
                                 ("FirstBurstLength", "65536")])
    assert negotiator.may_transit_to_ffp() and not negotiator.result()[0].immediate_data


# ------------------------------------------------------------------------------------ iSER
ISER_KEYS = [("RDMAExtensions", "Yes"), ("TargetRecvDataSegmentLength", "65536"),
             ("InitiatorRecvDataSegmentLength", "1048576")]


def test_iser_login() -> None:
    negotiator, reply = operational(ISER_KEYS + OPEN_ISCSI[2:-1] + [("HeaderDigest", "CRC32C,None"),
                                                                     ("MaxRecvDataSegmentLength", "8192")],
                                    transport="iser")
    assert reply["RDMAExtensions"] == "Yes" and reply["HeaderDigest"] == "None"
    assert reply["TargetRecvDataSegmentLength"] == "65536"
    assert reply["InitiatorRecvDataSegmentLength"] == "262144"
    assert reply["MaxRecvDataSegmentLength"] == "Irrelevant"
    assert negotiator.may_transit_to_ffp()
    session, conn = negotiator.result()
    assert session.rdma_extensions and conn.rdma_extensions
    assert (conn.target_recv_dsl, conn.initiator_recv_dsl) == (65536, 262144)
    assert (conn.max_recv_data_segment_length, conn.max_xmit_data_segment_length) == (65536, 262144)


def test_iser_needs_rdma_extensions() -> None:
    fails(INITIATOR_ERROR, make(transport="iser").operational_step, NAMES + [("RDMAExtensions", "No")])
    negotiator, reply = operational(OPEN_ISCSI, transport="iser")
    assert reply["RDMAExtensions"] == "Yes" and not negotiator.may_transit_to_ffp()
    assert reply["TargetRecvDataSegmentLength"] == reply["InitiatorRecvDataSegmentLength"] == "262144"
    fails(INITIATOR_ERROR, negotiator.operational_step, [("RDMAExtensions", "No")])
    negotiator = operational(OPEN_ISCSI, transport="iser")[0]
    negotiator.operational_step([("RDMAExtensions", "Yes"), ("TargetRecvDataSegmentLength", "8192"),
                                 ("InitiatorRecvDataSegmentLength", "Reject")])
    assert negotiator.may_transit_to_ffp()
    assert negotiator.result()[1].initiator_recv_dsl == 8192


@pytest.mark.parametrize(("offer", "policy", "result"), [("0", 0, "0"), ("10", 0, "10"), ("0", 20, "20"),
                                                         ("10", 20, "10"), ("1", 0, "Reject")])
def test_max_outstanding_unexpected_pdus(offer: str, policy: int, result: str) -> None:
    target = TargetPolicy(max_outstanding_unexpected_pdus=policy)
    assert answer("MaxOutstandingUnexpectedPDUs", offer, target=target, transport="iser") == result


def test_iser_discovery_stays_plain() -> None:
    negotiator, reply = operational([("RDMAExtensions", "Yes"), ("MaxRecvDataSegmentLength", "8192")],
                                    names=DISCOVERY, transport="iser")
    assert reply["RDMAExtensions"] == "Irrelevant" and reply["MaxRecvDataSegmentLength"] == "262144"
    assert not negotiator.result()[1].rdma_extensions


# ------------------------------------------------------------------------------------ policy
def test_policy_defaults_are_fast() -> None:
    policy = TargetPolicy()
    assert (policy.max_recv_data_segment_length, policy.max_burst_length, policy.first_burst_length) == (
        262144, 1048576, 262144)
    assert not policy.initial_r2t and policy.immediate_data and policy.header_digest == ("CRC32C", "None")


def test_policy_overrides_by_key_name() -> None:
    policy = TargetPolicy.from_overrides({"MaxBurstLength": 262144, "HeaderDigest": "CRC32C",
                                          "InitialR2T": "Yes", "ImmediateData": False,
                                          "TargetAlias": "disk 1", "FirstBurstLength": "0x10000",
                                          "DataDigest": ["None"]})
    assert (policy.max_burst_length, policy.header_digest, policy.initial_r2t) == (262144, ("CRC32C",), True)
    assert (policy.immediate_data, policy.target_alias, policy.first_burst_length) == (False, "disk 1", 65536)
    assert policy.data_digest == ("None",)
    assert TargetPolicy.from_overrides({"MaxBurstLength": 65536}, base=policy).header_digest == ("CRC32C",)


@pytest.mark.parametrize(("overrides", "named"), [
    ({"MaxBurstLenght": 1}, "MaxBurstLenght"),
    ({"InitiatorName": "iqn.x"}, "InitiatorName"),
    ({"AuthMethod": "CHAP"}, "AuthMethod"),
    ({"MaxBurstLength": 100}, "MaxBurstLength"),
    ({"MaxBurstLength": "big"}, "MaxBurstLength"),
    ({"MaxBurstLength": True}, "MaxBurstLength"),
    ({"InitialR2T": "yes"}, "InitialR2T"),
    ({"HeaderDigest": "MD5"}, "HeaderDigest"),
    ({"HeaderDigest": ""}, "HeaderDigest"),
    ({"ErrorRecoveryLevel": 1}, "ErrorRecoveryLevel"),
    ({"MaxConnections": 4}, "MaxConnections"),
    ({"TaskReporting": "FastAbort"}, "TaskReporting"),
    ({"FirstBurstLength": 2097152}, "FirstBurstLength"),
    ({"TargetAlias": "x" * 256}, "TargetAlias"),
    ({"TargetAlias": 5}, "TargetAlias"),
])
def test_policy_override_errors(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        TargetPolicy.from_overrides(overrides)
