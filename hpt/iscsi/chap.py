"""CHAP, target side (RFC 7143 12.1.3, RFC 1994), with MD5, SHA-1, SHA-256 and SHA3-256.

Algorithm numbers are the PPP authentication algorithm numbers (IANA "PPP Numbers"): 5 MD5 (the one
RFC 7143 requires), 6 SHA-1, 7 SHA-256, 8 SHA3-256, as used by Linux LIO, open-iscsi and libiscsi.
The response is H(identifier || secret || challenge) (RFC 1994 4.1). CHAP_N is a text string, never
decoded (libiscsi iSCSICHAP.HexName/Base64Name); CHAP_C and CHAP_R are large-binary-values of at most
1024 bytes in hex or base64 form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum

from hpt.iscsi.errors import AUTH_FAILED, LoginError, TextError
from hpt.iscsi.text import MAX_BINARY_BYTES, decode_binary, decode_number, encode_binary, split_list


class ChapAlgorithm(IntEnum):
    MD5 = 5
    SHA1 = 6
    SHA256 = 7
    SHA3_256 = 8

    @property
    def hash_name(self) -> str:
        return _HASHES[self]

    @property
    def digest_size(self) -> int:
        return hashlib.new(self.hash_name).digest_size


_HASHES = {
    ChapAlgorithm.MD5: "md5",
    ChapAlgorithm.SHA1: "sha1",
    ChapAlgorithm.SHA256: "sha256",
    ChapAlgorithm.SHA3_256: "sha3_256",
}
MIN_CHALLENGE_BYTES = 16


@dataclass(frozen=True)
class AuthPolicy:
    """How one login must authenticate, as the target's configuration says.

    ``secret_for`` maps a CHAP_N user name to its secret (None: unknown user); ``mutual`` is the
    target's own (name, secret) for mutual CHAP. ``algorithms`` are the CHAP_A values the target
    accepts; the initiator's list order decides among them (RFC 7143 6.2.2 list negotiation).
    """

    chap_required: bool
    secret_for: Callable[[str], bytes | None]
    mutual: tuple[str, bytes] | None = None
    algorithms: tuple[int, ...] = (
        ChapAlgorithm.SHA3_256, ChapAlgorithm.SHA256, ChapAlgorithm.SHA1, ChapAlgorithm.MD5,
    )

    def __post_init__(self) -> None:
        if not self.algorithms:
            raise ValueError("AuthPolicy.algorithms is empty")
        for number in self.algorithms:
            if number not in _HASHES:
                raise ValueError(f"unknown CHAP algorithm {number} (5 MD5, 6 SHA-1, 7 SHA-256, 8 SHA3-256)")


def chap_digest(algorithm: int, identifier: int, secret: bytes, challenge: bytes) -> bytes:
    """The CHAP response H(identifier || secret || challenge) (RFC 1994 4.1)."""
    digest = hashlib.new(ChapAlgorithm(algorithm).hash_name)
    digest.update(bytes((identifier,)))
    digest.update(secret)
    digest.update(challenge)
    return digest.digest()


def _fail(message: str) -> LoginError:
    return LoginError(*AUTH_FAILED, message)


def select_algorithm(offer: str, accepted: tuple[int, ...]) -> ChapAlgorithm:
    """The first algorithm of the initiator's CHAP_A list the target accepts (RFC 7143 12.1.3)."""
    try:
        items = split_list(offer)
    except TextError as err:
        raise _fail(f"CHAP_A={offer!r}: {err}") from None
    for item in items:
        try:
            number = decode_number(item, maximum=255)
        except TextError:
            continue
        if number in accepted:
            return ChapAlgorithm(number)
    raise _fail(f"CHAP_A={offer!r}: no algorithm the target accepts ({', '.join(map(str, accepted))})")


def _binary(key: str, value: str) -> bytes:
    try:
        data = decode_binary(value)
    except TextError as err:
        raise _fail(f"{key}: {err}") from None
    if len(data) > MAX_BINARY_BYTES:
        raise _fail(f"{key} is longer than {MAX_BINARY_BYTES} bytes")
    return data


class _State(Enum):
    WAIT_ALGORITHM = 1  # expecting CHAP_A
    WAIT_RESPONSE = 2  # sent CHAP_A/I/C, expecting CHAP_N/R (and CHAP_I/C for mutual CHAP)
    DONE = 3


class ChapServer:
    """The target side of one CHAP exchange. Feed each PDU's CHAP_* keys to :meth:`step`;
    it returns the keys to answer with, or raises LoginError (authentication failure)."""

    def __init__(self, policy: AuthPolicy) -> None:
        self.policy = policy
        self.state = _State.WAIT_ALGORITHM
        self.algorithm: ChapAlgorithm | None = None
        self.identifier = 0
        self.challenge = b""
        self.user: str | None = None

    @property
    def done(self) -> bool:
        return self.state is _State.DONE

    def step(self, keys: Mapping[str, str]) -> list[tuple[str, str]]:
        if self.state is _State.WAIT_ALGORITHM:
            return self._algorithm(keys)
        if self.state is _State.WAIT_RESPONSE:
            return self._response(keys)
        raise _fail(f"CHAP keys after authentication: {', '.join(keys)}")

    def _algorithm(self, keys: Mapping[str, str]) -> list[tuple[str, str]]:
        if set(keys) != {"CHAP_A"}:
            raise _fail(f"expected CHAP_A, got {', '.join(keys)}")
        algorithm = select_algorithm(keys["CHAP_A"], self.policy.algorithms)
        self.algorithm = algorithm
        self.identifier = secrets.randbelow(256)
        self.challenge = secrets.token_bytes(max(MIN_CHALLENGE_BYTES, algorithm.digest_size))
        self.state = _State.WAIT_RESPONSE
        return [("CHAP_A", str(int(algorithm))), ("CHAP_I", str(self.identifier)),
                ("CHAP_C", encode_binary(self.challenge))]

    def _response(self, keys: Mapping[str, str]) -> list[tuple[str, str]]:
        unexpected = set(keys) - {"CHAP_N", "CHAP_R", "CHAP_I", "CHAP_C"}
        if unexpected or "CHAP_N" not in keys or "CHAP_R" not in keys:
            raise _fail(f"expected CHAP_N and CHAP_R, got {', '.join(keys)}")
        assert self.algorithm is not None
        user = keys["CHAP_N"]
        response = _binary("CHAP_R", keys["CHAP_R"])
        secret = self.policy.secret_for(user)
        if secret is None:
            raise _fail(f"unknown CHAP user {user!r}")
        expected = chap_digest(self.algorithm, self.identifier, secret, self.challenge)
        if not hmac.compare_digest(expected, response):
            raise _fail(f"wrong CHAP response from user {user!r}")
        self.user = user
        answer = self._mutual(keys, secret)
        self.state = _State.DONE
        return answer

    def _mutual(self, keys: Mapping[str, str], initiator_secret: bytes) -> list[tuple[str, str]]:
        """Answer the initiator's challenge when it asks the target to authenticate too."""
        if "CHAP_I" not in keys and "CHAP_C" not in keys:
            return []
        if "CHAP_I" not in keys or "CHAP_C" not in keys:
            raise _fail("mutual CHAP needs both CHAP_I and CHAP_C")
        if self.policy.mutual is None:
            raise _fail("the initiator asks for mutual CHAP; the target has no credentials for it")
        try:
            identifier = decode_number(keys["CHAP_I"], maximum=255)
        except TextError as err:
            raise _fail(f"CHAP_I: {err}") from None
        challenge = _binary("CHAP_C", keys["CHAP_C"])
        assert self.algorithm is not None
        if hmac.compare_digest(challenge, self.challenge):
            raise _fail("the initiator's CHAP_C repeats the target's challenge (reflection, RFC 7143 12.1.3)")
        name, secret = self.policy.mutual
        if hmac.compare_digest(secret, initiator_secret):
            raise _fail("the same CHAP secret authenticates both directions (RFC 7143 12.1.3 forbids it)")
        digest = chap_digest(self.algorithm, identifier, secret, challenge)
        return [("CHAP_N", name), ("CHAP_R", encode_binary(digest))]
