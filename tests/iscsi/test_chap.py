"""CHAP, target side (RFC 7143 12.1.3, RFC 1994), including libiscsi's iSCSICHAP cases."""

from __future__ import annotations

import hashlib

import pytest

from hpt.iscsi.chap import AuthPolicy, ChapAlgorithm, ChapServer, chap_digest, select_algorithm
from hpt.iscsi.errors import AUTH_FAILED, LoginError
from hpt.iscsi.negotiation import LoginNegotiator, TargetPolicy
from hpt.iscsi.text import decode_binary, encode_binary

SECRETS = {"alice": b"alice-secret-1", "0xabcd": b"hex-name-secret", "0bYWJj": b"b64-name-secret"}
TARGET = ("iqn.2026-11.org.hpt:t", b"target-secret-1")


def policy(mutual: tuple[str, bytes] | None = None, algorithms: tuple[int, ...] | None = None) -> AuthPolicy:
    extra = {} if algorithms is None else {"algorithms": algorithms}
    return AuthPolicy(chap_required=True, secret_for=SECRETS.get, mutual=mutual, **extra)


def challenge_of(server: ChapServer, offer: str) -> tuple[int, int, bytes]:
    """Run the CHAP_A step; return the chosen algorithm, identifier and challenge."""
    answer = dict(server.step({"CHAP_A": offer}))
    return int(answer["CHAP_A"]), int(answer["CHAP_I"]), decode_binary(answer["CHAP_C"])


def respond(server: ChapServer, user: str, secret: bytes, offer: str = "5", *, base64: bool = False,
            extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    algorithm, identifier, challenge = challenge_of(server, offer)
    response = encode_binary(chap_digest(algorithm, identifier, secret, challenge), base64=base64)
    return server.step({"CHAP_N": user, "CHAP_R": response, **(extra or {})})


def assert_auth_failed(err: pytest.ExceptionInfo[LoginError]) -> None:
    assert err.value.status == AUTH_FAILED


# ----------------------------------------------------------------------------------------- primitives
@pytest.mark.parametrize(("algorithm", "name"), [(5, "md5"), (6, "sha1"), (7, "sha256"), (8, "sha3_256")])
def test_digest_is_rfc1994(algorithm: int, name: str) -> None:
    challenge = bytes(range(16))
    expected = hashlib.new(name, b"\x07" + b"secret" + challenge).digest()
    assert chap_digest(algorithm, 7, b"secret", challenge) == expected
    assert ChapAlgorithm(algorithm).digest_size == len(expected)


def test_select_follows_initiator_order() -> None:
    everything = (8, 7, 6, 5)
    assert select_algorithm("5,6,7,8", everything) is ChapAlgorithm.MD5  # libiscsi iSCSICHAP.Simple
    assert select_algorithm("7,5", everything) is ChapAlgorithm.SHA256
    assert select_algorithm("99,x,0x6", everything) is ChapAlgorithm.SHA1  # unknown items are skipped
    assert select_algorithm("5,7", (7,)) is ChapAlgorithm.SHA256


@pytest.mark.parametrize("offer", ["56", "", "5,,6", "4", "6"])  # iSCSICHAP.Invalid: 56 and empty
def test_select_rejects(offer: str) -> None:
    with pytest.raises(LoginError) as err:
        select_algorithm(offer, (5, 7))
    assert_auth_failed(err)


def test_policy_validates_algorithms() -> None:
    with pytest.raises(ValueError, match="unknown CHAP algorithm 9"):
        AuthPolicy(True, SECRETS.get, algorithms=(9,))
    with pytest.raises(ValueError, match="empty"):
        AuthPolicy(True, SECRETS.get, algorithms=())


# ----------------------------------------------------------------------------------------- exchange
@pytest.mark.parametrize("algorithm", [5, 6, 7, 8])
@pytest.mark.parametrize("base64", [False, True])
def test_one_way_chap(algorithm: int, base64: bool) -> None:
    server = ChapServer(policy())
    assert respond(server, "alice", SECRETS["alice"], str(algorithm), base64=base64) == []
    assert server.done and server.user == "alice"


def test_challenge_is_fresh_and_long_enough() -> None:
    challenges = set()
    for algorithm in (5, 6, 7, 8):
        for _ in range(4):
            chosen, identifier, challenge = challenge_of(ChapServer(policy()), str(algorithm))
            assert chosen == algorithm and 0 <= identifier <= 255
            assert len(challenge) >= max(16, ChapAlgorithm(algorithm).digest_size)
            challenges.add(challenge)
    assert len(challenges) == 16


@pytest.mark.parametrize("user", ["0xabcd", "0bYWJj"])  # iSCSICHAP.HexName / Base64Name: N is text
def test_name_with_encoding_prefix_is_not_decoded(user: str) -> None:
    server = ChapServer(policy())
    respond(server, user, SECRETS[user])
    assert server.user == user


def test_wrong_secret() -> None:
    with pytest.raises(LoginError, match="wrong CHAP response") as err:
        respond(ChapServer(policy()), "alice", b"not-the-secret")
    assert_auth_failed(err)


def test_unknown_user() -> None:
    with pytest.raises(LoginError, match="unknown CHAP user") as err:
        respond(ChapServer(policy()), "mallory", b"whatever")
    assert_auth_failed(err)


def test_base64_oversize_response_fails() -> None:
    """iSCSICHAP.Base64Oversize: a valid base64 CHAP_R with extra leading bytes."""
    server = ChapServer(policy())
    algorithm, identifier, challenge = challenge_of(server, "5")
    good = chap_digest(algorithm, identifier, SECRETS["alice"], challenge)
    with pytest.raises(LoginError) as err:
        server.step({"CHAP_N": "alice", "CHAP_R": encode_binary(b"oversize\n" + good, base64=True)})
    assert_auth_failed(err)


@pytest.mark.parametrize("value", ["0x", "0xzz", "0bAAA", "abcd", "0x" + "00" * 1025])
def test_malformed_response_fails_cleanly(value: str) -> None:
    server = ChapServer(policy())
    challenge_of(server, "5")
    with pytest.raises(LoginError) as err:
        server.step({"CHAP_N": "alice", "CHAP_R": value})
    assert_auth_failed(err)


@pytest.mark.parametrize("keys", [{"CHAP_N": "alice"}, {"CHAP_R": "0x00"}, {"CHAP_A": "5"},
                                  {"CHAP_N": "alice", "CHAP_R": "0x00", "CHAP_X": "1"}])
def test_incomplete_or_unexpected_keys(keys: dict[str, str]) -> None:
    server = ChapServer(policy())
    challenge_of(server, "5")
    with pytest.raises(LoginError) as err:
        server.step(keys)
    assert_auth_failed(err)


def test_first_step_must_be_chap_a() -> None:
    with pytest.raises(LoginError, match="expected CHAP_A") as err:
        ChapServer(policy()).step({"CHAP_N": "alice", "CHAP_R": "0x00"})
    assert_auth_failed(err)


def test_no_keys_after_success() -> None:
    server = ChapServer(policy())
    respond(server, "alice", SECRETS["alice"])
    with pytest.raises(LoginError, match="after authentication"):
        server.step({"CHAP_A": "5"})


# ----------------------------------------------------------------------------------------- mutual
@pytest.mark.parametrize("algorithm", [5, 6, 7, 8])
def test_mutual_chap(algorithm: int) -> None:
    server = ChapServer(policy(mutual=TARGET))
    my_challenge = bytes(range(1, 33))
    answer = dict(respond(server, "alice", SECRETS["alice"], str(algorithm),
                          extra={"CHAP_I": "201", "CHAP_C": encode_binary(my_challenge)}))
    assert answer["CHAP_N"] == TARGET[0]
    assert decode_binary(answer["CHAP_R"]) == chap_digest(algorithm, 201, TARGET[1], my_challenge)


def test_mutual_base64_challenge() -> None:
    server = ChapServer(policy(mutual=TARGET))
    mutual = {"CHAP_I": "0x10", "CHAP_C": "0bAQIDBA=="}
    answer = dict(respond(server, "alice", SECRETS["alice"], extra=mutual))
    assert decode_binary(answer["CHAP_R"]) == chap_digest(5, 16, TARGET[1], b"\x01\x02\x03\x04")


def test_mutual_without_target_credentials() -> None:
    with pytest.raises(LoginError, match="no credentials") as err:
        respond(ChapServer(policy()), "alice", SECRETS["alice"], extra={"CHAP_I": "1", "CHAP_C": "0x0102"})
    assert_auth_failed(err)


@pytest.mark.parametrize("extra", [{"CHAP_I": "1"}, {"CHAP_C": "0x0102"}, {"CHAP_I": "256", "CHAP_C": "0x01"},
                                   {"CHAP_I": "1", "CHAP_C": "0x" + "00" * 1025}])
def test_mutual_malformed(extra: dict[str, str]) -> None:
    with pytest.raises(LoginError) as err:
        respond(ChapServer(policy(mutual=TARGET)), "alice", SECRETS["alice"], extra=extra)
    assert_auth_failed(err)


def test_reflected_challenge_is_refused() -> None:
    server = ChapServer(policy(mutual=TARGET))
    algorithm, identifier, challenge = challenge_of(server, "5")
    response = encode_binary(chap_digest(algorithm, identifier, SECRETS["alice"], challenge))
    with pytest.raises(LoginError, match="reflection") as err:
        server.step({"CHAP_N": "alice", "CHAP_R": response, "CHAP_I": str(identifier),
                     "CHAP_C": encode_binary(challenge)})
    assert_auth_failed(err)


def test_same_secret_both_ways_is_refused() -> None:
    server = ChapServer(policy(mutual=("tgt", SECRETS["alice"])))
    with pytest.raises(LoginError, match="same CHAP secret"):
        respond(server, "alice", SECRETS["alice"], extra={"CHAP_I": "1", "CHAP_C": "0x0102"})


def test_wrong_initiator_response_fails_before_mutual_answer() -> None:
    with pytest.raises(LoginError, match="wrong CHAP response"):
        respond(ChapServer(policy(mutual=TARGET)), "alice", b"bad", extra={"CHAP_I": "1", "CHAP_C": "0x0102"})


# ----------------------------------------------------------------------------------------- in a login
INITIATOR = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2"


def login(auth: AuthPolicy) -> LoginNegotiator:
    negotiator = LoginNegotiator(lambda *_: (TargetPolicy(), auth), leading=True, portal_group_tag=1)
    answer, done = negotiator.security_step([("InitiatorName", INITIATOR), ("TargetName", TARGET[0]),
                                             ("SessionType", "Normal"), ("AuthMethod", "CHAP,None")])
    assert dict(answer)["AuthMethod"] == "CHAP" and not done
    return negotiator


def test_login_with_libiscsi_chap_flow() -> None:
    negotiator = login(policy(mutual=TARGET))
    answer, done = negotiator.security_step([("CHAP_A", "5,6,7,8")])
    got = dict(answer)
    assert got["CHAP_A"] == "5" and not done and not negotiator.may_transit_to_ffp()
    response = chap_digest(5, int(got["CHAP_I"]), SECRETS["alice"], decode_binary(got["CHAP_C"]))
    answer, done = negotiator.security_step([("CHAP_N", "alice"), ("CHAP_R", encode_binary(response, True)),
                                             ("CHAP_I", "9"), ("CHAP_C", "0x" + "5a" * 16)])
    assert done and negotiator.chap_user == "alice"
    assert dict(answer)["CHAP_N"] == TARGET[0]
    negotiator.operational_step([("HeaderDigest", "None"), ("InitialR2T", "No"), ("MaxBurstLength", "262144"),
                                 ("FirstBurstLength", "262144")])
    assert negotiator.may_transit_to_ffp()


def test_login_fails_on_bad_chap_a() -> None:
    negotiator = login(policy())
    with pytest.raises(LoginError) as err:
        negotiator.security_step([("CHAP_A", "56")])
    assert_auth_failed(err)
