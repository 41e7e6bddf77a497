"""Login key negotiation for one connection, target side (RFC 7143 6.2-6.6, 12.1, 13; RFC 7145 6).

:class:`LoginNegotiator` takes the key=value pairs of each login stage and answers them: list keys
get the first offered value the target accepts, numerical keys the minimum or maximum, booleans the
AND or OR, unknown keys NotUnderstood, keys that do not apply Irrelevant, bad values Reject. Anything
the RFC says ends the login raises :class:`~hpt.iscsi.errors.LoginError`. The PDU level (stages,
T/C bits, status codes on the wire) is ``hpt.iscsi.login``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace

from hpt.iscsi.chap import AuthPolicy, ChapServer
from hpt.iscsi.errors import (
    AUTH_FAILED,
    INITIATOR_ERROR,
    MISSING_PARAMETER,
    SESSION_TYPE_UNSUPPORTED,
    TARGET_ERROR,
    LoginError,
    TextError,
)
from hpt.iscsi.keys import (
    BY_FIELD,
    IRRELEVANT,
    KEYS,
    NOT_UNDERSTOOD,
    REJECT,
    RESERVED_VALUES,
    KeyDef,
    Kind,
    Sender,
    Stage,
    Use,
    is_iscsi_name,
)
from hpt.iscsi.text import MAX_VALUE_BYTES

__all__ = ["AuthPolicy", "ConnParams", "LoginNegotiator", "SessionParams", "TargetPolicy"]

TRANSPORTS = ("tcp", "iser")
# Unless configured, iSER sessions want every write's data by RDMA Read rather than in SEND messages
# (as tgt's iSER does): InitialR2T=Yes, ImmediateData=No. Unsolicited data arrives in receive buffers
# and costs a copy each; measured in the soft-RoCE lab, writes ran at 0.44x tgtd with TCP's defaults
# and 0.88x with these.
ISER_DEFAULTS = {"InitialR2T": True, "ImmediateData": False}
NORMAL, DISCOVERY = "Normal", "Discovery"


def _as_int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _as_str(value: object) -> str:
    assert isinstance(value, str)
    return value


def _int(name: str) -> int:
    """A numerical key's RFC default."""
    return _as_int(KEYS[name].default)


def _bool(name: str) -> bool:
    """A boolean key's RFC default."""
    return KEYS[name].default is True


# ------------------------------------------------------------------------------------------ policy
@dataclass(frozen=True)
class TargetPolicy:
    """What the administrator configured for a target; fields are named after the keys (keys.py).

    Lists are the values the target accepts. Numbers are what the target wants: the result is still
    the minimum/maximum with the initiator's value, and booleans the AND/OR (InitialR2T=No here
    only lowers the result if the initiator says No too).
    """

    header_digest: tuple[str, ...] = ("CRC32C", "None")
    data_digest: tuple[str, ...] = ("CRC32C", "None")
    max_connections: int = 1
    initial_r2t: bool = False
    immediate_data: bool = True
    max_recv_data_segment_length: int = 262144
    max_burst_length: int = 1048576
    first_burst_length: int = 262144
    default_time2wait: int = 2
    default_time2retain: int = 20
    max_outstanding_r2t: int = 1
    data_pdu_in_order: bool = True
    data_sequence_in_order: bool = True
    error_recovery_level: int = 0
    task_reporting: tuple[str, ...] = ("RFC3720",)
    iscsi_protocol_level: int = 1  # RFC 7143 13.24: 1 is this RFC's level
    rdma_extensions: bool = True  # iSER logins are accepted on iSER portals
    target_recv_data_segment_length: int = 262144
    initiator_recv_data_segment_length: int = 262144
    max_outstanding_unexpected_pdus: int = 0  # 0: no limit
    target_alias: str | None = None
    configured: frozenset[str] = frozenset()  # key names the administrator set (from_overrides)

    # what this implementation can run, narrower than the RFC ranges
    SUPPORTED = {"max_connections": 1, "error_recovery_level": 0}
    SUPPORTED_LISTS = {"task_reporting": ("RFC3720",)}

    def __post_init__(self) -> None:
        for f in fields(self):
            kd = BY_FIELD.get(f.name)
            if kd is not None:
                _check_policy_value(kd, getattr(self, f.name))
        for name, most in self.SUPPORTED.items():
            if getattr(self, name) > most:
                raise ValueError(f"{BY_FIELD[name].name}: hpt supports at most {most}")
        for name, allowed in self.SUPPORTED_LISTS.items():
            bad = [v for v in getattr(self, name) if v not in allowed]
            if bad:
                raise ValueError(f"{BY_FIELD[name].name}: hpt does not support {bad[0]}")
        if self.first_burst_length > self.max_burst_length:
            raise ValueError(f"FirstBurstLength {self.first_burst_length} exceeds MaxBurstLength "
                             f"{self.max_burst_length} (RFC 7143 13.14)")
        alias = self.target_alias
        if alias is not None and (not alias or "\0" in alias or len(alias.encode()) > MAX_VALUE_BYTES):
            raise ValueError(f"TargetAlias must be 1..{MAX_VALUE_BYTES} bytes without NUL")

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, object],
                       base: TargetPolicy | None = None) -> TargetPolicy:
        """``base`` (defaults: the class defaults) with values given by RFC key name, e.g.
        ``{"MaxBurstLength": 262144, "HeaderDigest": "CRC32C", "InitialR2T": "Yes"}``.
        An unknown or unconfigurable key, or a bad value, raises ValueError naming the key."""
        changes: dict[str, object] = {}
        configurable = {f.name for f in fields(cls)}
        for name, value in overrides.items():
            kd = KEYS.get(name)
            if kd is None or kd.field not in configurable:
                raise ValueError(f"{name}: not an iSCSI key a target can configure")
            assert kd.field is not None
            try:
                changes[kd.field] = _coerce(kd, value)
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
        base = base or cls()
        changes["configured"] = base.configured | frozenset(overrides)
        try:
            return replace(base, **changes)
        except ValueError as err:
            raise ValueError(str(err)) from None

    def wanted(self, kd: KeyDef) -> object:
        assert kd.field is not None
        return getattr(self, kd.field)


def _coerce(kd: KeyDef, value: object) -> object:
    """A configured value in the policy's type: Yes/No or bool, int or numeric string, list or
    comma-separated string; alias text as is."""
    if kd.name == "TargetAlias":
        if not isinstance(value, str):
            raise ValueError(f"must be text, got {value!r}")
        return value
    if kd.boolean:
        if isinstance(value, bool):
            return value
        if value in ("Yes", "No"):
            return value == "Yes"
        raise ValueError(f"must be Yes/No or a boolean, got {value!r}")
    if kd.numeric:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return kd.parse_number(value)
            except TextError as err:
                raise ValueError(str(err)) from None
        raise ValueError(f"must be a number, got {value!r}")
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",")]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of {', '.join(kd.values)}, got {value!r}")
    return tuple(value)


def _check_policy_value(kd: KeyDef, value: object) -> None:
    if kd.kind is Kind.LIST:
        if not isinstance(value, tuple) or not value:
            raise ValueError(f"{kd.name}: needs at least one of {', '.join(kd.values)}")
        bad = [v for v in value if v not in kd.values]
        if bad:
            raise ValueError(f"{kd.name}: {bad[0]!r} is not one of {', '.join(kd.values)}")
    elif kd.boolean:
        if not isinstance(value, bool):
            raise ValueError(f"{kd.name}: must be a boolean")
    elif kd.numeric:
        ok = isinstance(value, int) and not isinstance(value, bool) and (
            kd.lo <= value <= kd.hi or (kd.kind is Kind.MIN_OR_ZERO and value == 0))
        if not ok:
            zero = " or 0" if kd.kind is Kind.MIN_OR_ZERO else ""
            raise ValueError(f"{kd.name}: {value!r} is outside {kd.lo}..{kd.hi}{zero}")


# ------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class SessionParams:
    """Negotiated session-wide values (RFC 7143 13, scope SW)."""

    session_type: str = NORMAL
    initiator_name: str = ""
    initiator_alias: str | None = None
    target_name: str | None = None
    target_alias: str | None = None
    target_portal_group_tag: int = 0
    max_connections: int = _int("MaxConnections")
    initial_r2t: bool = _bool("InitialR2T")
    immediate_data: bool = _bool("ImmediateData")
    max_burst_length: int = _int("MaxBurstLength")
    first_burst_length: int = _int("FirstBurstLength")
    default_time2wait: int = _int("DefaultTime2Wait")
    default_time2retain: int = _int("DefaultTime2Retain")
    max_outstanding_r2t: int = _int("MaxOutstandingR2T")
    data_pdu_in_order: bool = _bool("DataPDUInOrder")
    data_sequence_in_order: bool = _bool("DataSequenceInOrder")
    error_recovery_level: int = _int("ErrorRecoveryLevel")
    task_reporting: str = _as_str(KEYS["TaskReporting"].default)
    iscsi_protocol_level: int = _int("iSCSIProtocolLevel")
    rdma_extensions: bool = _bool("RDMAExtensions")
    max_outstanding_unexpected_pdus: int = _int("MaxOutstandingUnexpectedPDUs")


@dataclass(frozen=True)
class ConnParams:
    """Negotiated values of one connection (scope CO).

    ``max_recv_data_segment_length`` is what the target receives (its own declaration; 8192 if it
    declared none) and ``max_xmit_data_segment_length`` what it may send (the initiator's
    declaration, default 8192). With iSER (``rdma_extensions``) they are the negotiated
    TargetRecvDataSegmentLength and InitiatorRecvDataSegmentLength (RFC 7145 6).
    """

    header_digest: bool = False
    data_digest: bool = False
    max_recv_data_segment_length: int = _int("MaxRecvDataSegmentLength")
    max_xmit_data_segment_length: int = _int("MaxRecvDataSegmentLength")
    rdma_extensions: bool = False
    target_recv_dsl: int = _int("TargetRecvDataSegmentLength")
    initiator_recv_dsl: int = _int("InitiatorRecvDataSegmentLength")


# ------------------------------------------------------------------------------------------ negotiator
PolicyLookup = Callable[[str, str, str], tuple[TargetPolicy, AuthPolicy]]


def _error(message: str) -> LoginError:
    return LoginError(*INITIATOR_ERROR, message)


@dataclass
class _Pdu:
    """The answers being built for one Login Request (insertion-ordered, one per key)."""

    answers: dict[str, str] = field(default_factory=dict)

    def pairs(self) -> list[tuple[str, str]]:
        return list(self.answers.items())


class LoginNegotiator:
    """One per connection login. Feed it the text of each Login Request in a stage; it returns the
    text of the response and says whether the stage may transit. Raises LoginError for anything the
    RFC says ends the login.

    ``policy_lookup(session_type, initiator_name, target_name)`` is called once, as soon as the first
    request gave InitiatorName, SessionType and TargetName ("" in Discovery sessions); it returns the
    policies or raises LoginError (unknown target, ACL refusal).
    """

    def __init__(self, policy_lookup: PolicyLookup, *, leading: bool, portal_group_tag: int,
                 transport: str = "tcp") -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        if not 0 <= portal_group_tag <= 65535:
            raise ValueError(f"portal group tag {portal_group_tag} is outside 0..65535")
        self._lookup = policy_lookup
        self.leading = leading
        self.portal_group_tag = portal_group_tag
        self.transport = transport
        self._policy: TargetPolicy | None = None
        self._auth: AuthPolicy | None = None
        self._names: dict[str, str] = {}  # InitiatorName, TargetName, SessionType, InitiatorAlias
        self._received: dict[str, str] = {}  # every key the initiator offered or declared
        self._offered: dict[str, str] = {}  # the target's offers still waiting for an answer
        self._values: dict[str, object] = {}  # settled results, by key name
        self._declared: set[str] = set()  # what the target has declared or offered (once each)
        self._initiator_mrdsl: int | None = None
        self._auth_method: str | None = None
        self._chap: ChapServer | None = None

    # ---------------------------------------------------------------------------------- properties
    @property
    def initiator_name(self) -> str:
        return self._names.get("InitiatorName", "")

    @property
    def target_name(self) -> str | None:
        return self._names.get("TargetName") if self.session_type == NORMAL else None

    @property
    def session_type(self) -> str:
        return self._names.get("SessionType", NORMAL)

    @property
    def initiator_alias(self) -> str | None:
        return self._names.get("InitiatorAlias")

    @property
    def chap_user(self) -> str | None:
        """The CHAP_N the initiator authenticated as, if it used CHAP."""
        return self._chap.user if self._chap is not None else None

    @property
    def authenticated(self) -> bool:
        """True once CHAP succeeded, AuthMethod=None was agreed, or no authentication is required."""
        if self._auth_method == "CHAP":
            return self._chap is not None and self._chap.done
        if self._auth_method == "None":
            return True
        return self._auth is not None and not self._auth.chap_required

    @property
    def _rdma(self) -> bool:
        """iSER-assisted mode: an iSER connection of a Normal session (RFC 7145 6)."""
        return self.transport == "iser" and self.session_type == NORMAL

    @property
    def _discovery(self) -> bool:
        return self.session_type == DISCOVERY

    # ---------------------------------------------------------------------------------- steps
    def security_step(self, pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
        """Answer a security-stage request: AuthMethod, the CHAP exchange, and any operational keys
        sent along (RFC 7143 6.3). Returns the answer pairs and whether the initiator is
        authenticated (only then may the stage transit)."""
        pdu = _Pdu()
        rest = self._begin(pairs, pdu)
        security: dict[str, str] = {}
        for key, value in rest:
            kd = KEYS.get(key)
            if kd is not None and kd.stage is Stage.SECURITY:
                self._note(kd, key, value)
                security[key] = value
            else:
                self._answer(pdu, key, value)
        self._authenticate(security, pdu)
        self._settle(pdu)
        return pdu.pairs(), self.authenticated

    def operational_step(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Answer an operational-stage request, then add what the target still has to declare or
        offer (its MaxRecvDataSegmentLength, keys whose policy differs from the default), once."""
        pdu = _Pdu()
        rest = self._begin(pairs, pdu)
        if not self.authenticated:
            raise LoginError(*AUTH_FAILED, "authentication is required before the operational stage")
        for key, value in rest:
            kd = KEYS.get(key)
            if kd is not None and kd.stage is Stage.SECURITY:
                raise _error(f"security key {key} in the operational stage")
            self._answer(pdu, key, value)
        self._settle(pdu)
        self._declare_and_offer(pdu)
        return pdu.pairs()

    def may_transit_to_ffp(self) -> bool:
        """False while an offer the target made is unanswered or authentication is incomplete."""
        return self._policy is not None and self.authenticated and not self._offered

    # ---------------------------------------------------------------------------------- first request
    def _begin(self, pairs: list[tuple[str, str]], pdu: _Pdu) -> list[tuple[str, str]]:
        """On the first request: read the names, look the policies up, and start the response with
        TargetPortalGroupTag (RFC 7143 13.9) and TargetAlias. Returns the pairs left to answer."""
        if len({key for key, _ in pairs}) != len(pairs):
            raise _error("a key is given twice in one request (RFC 7143 6.3)")
        if self._policy is not None:
            return pairs
        given = dict(pairs)
        initiator = given.get("InitiatorName")
        if not initiator:
            raise LoginError(*MISSING_PARAMETER, "InitiatorName missing in the first login request")
        if not is_iscsi_name(initiator):
            raise _error(f"InitiatorName {initiator[:64]!r} is not an iSCSI name")
        session_type = given.get("SessionType", NORMAL)
        if session_type not in KEYS["SessionType"].values:
            raise LoginError(*SESSION_TYPE_UNSUPPORTED, f"SessionType={session_type[:64]}")
        target = given.get("TargetName")
        if session_type == NORMAL and not target:
            raise LoginError(*MISSING_PARAMETER, "TargetName missing in the first login request")
        names = ("InitiatorName", "SessionType", "TargetName", "InitiatorAlias")
        for key in names:
            if key in given:
                self._note(KEYS[key], key, given[key])
                self._names[key] = given[key]
        self._names.setdefault("SessionType", session_type)
        lookup_target = target if session_type == NORMAL and target else ""
        try:
            self._policy, self._auth = self._lookup(session_type, initiator, lookup_target)
        except ValueError as err:  # a target configuration TargetPolicy/AuthPolicy refuses
            raise LoginError(*TARGET_ERROR, f"target configuration: {err}") from None
        if session_type == NORMAL:
            pdu.answers["TargetPortalGroupTag"] = str(self.portal_group_tag)
            self._declared.add("TargetPortalGroupTag")
            if self._policy.target_alias:
                pdu.answers["TargetAlias"] = self._policy.target_alias
                self._declared.add("TargetAlias")
        return [(k, v) for k, v in pairs if k not in names]

    # ---------------------------------------------------------------------------------- one key
    def _note(self, kd: KeyDef | None, key: str, value: str) -> bool:
        """Record a key from the initiator. Returns False for a harmless re-declaration: the same
        value again, or MaxRecvDataSegmentLength with any value (UNH-IOL's reading of RFC 7143 6.3,
        recorded in SPDK's Calsoft notes). Any other repeat is a negotiation reset, an initiator
        error (RFC 7143 6.3)."""
        previous = self._received.get(key)
        self._received[key] = value
        if previous is None:
            return True
        if kd is not None and kd.kind is Kind.DECLARATIVE:
            if previous == value:
                return False
            if key == "MaxRecvDataSegmentLength":
                return True
        raise _error(f"{key} negotiated twice in one login (RFC 7143 6.3)")

    def _answer(self, pdu: _Pdu, key: str, value: str) -> None:
        kd = KEYS.get(key)
        if kd is not None and key in self._offered:
            self._take_answer(kd, value)
            return
        if not self._note(kd, key, value):
            return
        if kd is None:  # unknown, X- and X# keys (RFC 7143 6.2)
            pdu.answers[key] = NOT_UNDERSTOOD
            return
        answer = self._judge(kd, value)
        if answer is not None:
            pdu.answers[key] = answer

    def _judge(self, kd: KeyDef, value: str) -> str | None:
        """The answer to an offer or declaration of a known operational key (None: no answer)."""
        if kd.senders is Sender.TARGET:
            raise _error(f"{kd.name} may only be sent by the target ({kd.section})")
        if value in RESERVED_VALUES:
            raise _error(f"{kd.name}={value}: a reserved value offered (RFC 7143 6.2)")
        if kd.use is Use.LO and not self.leading:
            raise _error(f"{kd.name} is leading-only; this is not the leading connection ({kd.section})")
        if kd.use is Use.FFPO or kd.kind is Kind.OBSOLETE:
            return REJECT
        if self._discovery and kd.discovery_irrelevant:
            return IRRELEVANT
        if kd.rdma_only and not self._rdma:
            return IRRELEVANT
        try:
            if kd.kind is Kind.DECLARATIVE:
                return self._declaration(kd, value)
            return self._negotiate(kd, value)
        except TextError:
            return REJECT

    def _declaration(self, kd: KeyDef, value: str) -> str | None:
        if kd.name == "MaxRecvDataSegmentLength":
            if self._rdma:
                return IRRELEVANT  # replaced by the iSER keys (RFC 7145 6)
            self._initiator_mrdsl = kd.parse_number(value)
            return None
        if kd.name == "SessionType" and value != self.session_type:
            raise _error(f"SessionType={value[:64]} after the session type was set to {self.session_type}")
        if kd.name in ("InitiatorName", "TargetName") and value != self._names.get(kd.name, value):
            raise _error(f"{kd.name} changed during login")
        self._names[kd.name] = value
        return None

    def _negotiate(self, kd: KeyDef, value: str) -> str:
        """Answer an offer with the result function of its kind (RFC 7143 6.2.2)."""
        wanted = self._wanted(kd)
        offer = kd.parse(value)
        result: object
        if kd.kind is Kind.LIST:
            assert isinstance(offer, list) and isinstance(wanted, tuple)
            choice = next((item for item in offer if item in wanted), None)
            if choice is None:
                return REJECT
            result = choice
        else:
            result = _combine(kd, offer, wanted)
        if kd.name == "RDMAExtensions" and self._rdma and result is not True:
            raise _error("an iSER connection needs RDMAExtensions=Yes (RFC 7145 6)")
        self._values[kd.name] = result
        return kd.format(result)  # type: ignore[arg-type]

    def _wanted(self, kd: KeyDef) -> object:
        assert self._policy is not None
        if kd.name in ("HeaderDigest", "DataDigest") and self._rdma:
            return ("None",)  # iSER: the RDMA transport has its own CRC (RFC 7145 6)
        if kd.name == "RDMAExtensions" and not self._rdma:
            return False
        if self._rdma and kd.name in ISER_DEFAULTS and kd.name not in self._policy.configured:
            return ISER_DEFAULTS[kd.name]
        return self._policy.wanted(kd)

    def _take_answer(self, kd: KeyDef, value: str) -> None:
        """The initiator answers an offer of the target; an inadmissible answer ends the login
        (RFC 7143 6.2.2)."""
        offered = self._offered.pop(kd.name)
        self._received[kd.name] = value
        if value in RESERVED_VALUES:
            result = kd.default
            if not self._acceptable(kd, result):
                raise _error(f"{kd.name}={value}: the target cannot work with the default {result}")
        else:
            try:
                result = kd.parse(value) if kd.kind is not Kind.LIST else value
                admissible = _admissible(kd, kd.parse(offered), result)
            except TextError:
                admissible = False
            if not admissible:
                raise _error(f"{kd.name}={value[:64]} is not an admissible answer to {kd.name}={offered}")
        if kd.name == "RDMAExtensions" and result is not True:
            raise _error("an iSER connection needs RDMAExtensions=Yes (RFC 7145 6)")
        self._values[kd.name] = result

    def _acceptable(self, kd: KeyDef, value: object) -> bool:
        wanted = self._wanted(kd)
        if kd.kind is Kind.LIST:
            return value in wanted  # type: ignore[operator]
        if kd.name == "RDMAExtensions":
            return value is True or not self._rdma
        return True

    # ---------------------------------------------------------------------------------- authentication
    def _authenticate(self, keys: dict[str, str], pdu: _Pdu) -> None:
        """AuthMethod (RFC 7143 12.1) and the CHAP exchange (12.1.3)."""
        assert self._auth is not None
        method = keys.pop("AuthMethod", None)
        if method is not None:
            self._choose_method(method, pdu)
        elif self._auth_method is None and (keys or self._auth.chap_required):
            raise LoginError(*AUTH_FAILED, "no AuthMethod offered in the security stage")
        if not keys:
            return
        chap = {k: v for k, v in keys.items() if k.startswith("CHAP_")}
        if len(chap) != len(keys) or self._chap is None:
            raise LoginError(*AUTH_FAILED, f"{', '.join(keys)} without that AuthMethod agreed")
        pdu.answers.update(self._chap.step(chap))

    def _choose_method(self, offer: str, pdu: _Pdu) -> None:
        assert self._auth is not None
        accepted = ("CHAP",) if self._auth.chap_required else ("None",)
        try:
            items = KEYS["AuthMethod"].parse_list(offer)
        except TextError:
            items = []
        choice = next((item for item in items if item in accepted), None)
        if choice is None:
            raise LoginError(*AUTH_FAILED, f"AuthMethod={offer[:64]}: the target needs {accepted[0]}")
        self._auth_method = choice
        if choice == "CHAP":
            self._chap = ChapServer(self._auth)
        pdu.answers["AuthMethod"] = choice

    # ---------------------------------------------------------------------------------- after a request
    def _settle(self, pdu: _Pdu) -> None:
        """FirstBurstLength is Irrelevant when InitialR2T=Yes and ImmediateData=No, and never above
        MaxBurstLength (RFC 7143 13.14)."""
        if pdu.answers.get("FirstBurstLength") in (None, REJECT, IRRELEVANT):
            return
        if self._bool("InitialR2T") and not self._bool("ImmediateData"):
            pdu.answers["FirstBurstLength"] = IRRELEVANT
            self._values.pop("FirstBurstLength", None)
            return
        first = min(self._int("FirstBurstLength"), self._int("MaxBurstLength"))
        self._values["FirstBurstLength"] = first
        pdu.answers["FirstBurstLength"] = str(first)

    def _declare_and_offer(self, pdu: _Pdu) -> None:
        """The target's own declarations and offers, each once (RFC 7143 6.2, 13.12)."""
        assert self._policy is not None
        # a key answered in this response (e.g. the initiator's MaxRecvDataSegmentLength=Reject)
        # is declared in the next one: one key appears once a response
        if not self._rdma and "MaxRecvDataSegmentLength" not in self._declared | set(pdu.answers):
            pdu.answers["MaxRecvDataSegmentLength"] = str(self._policy.max_recv_data_segment_length)
            self._declared.add("MaxRecvDataSegmentLength")
        for kd in KEYS.values():
            if self._should_offer(kd):
                wanted = self._wanted(kd)
                if kd.name == "FirstBurstLength":
                    wanted = min(_as_int(wanted), self._int("MaxBurstLength"))
                text = ",".join(wanted) if isinstance(wanted, tuple) else kd.format(wanted)  # type: ignore[arg-type]
                pdu.answers[kd.name] = text
                self._offered[kd.name] = text
                self._declared.add(kd.name)

    def _should_offer(self, kd: KeyDef) -> bool:
        if not kd.offer or kd.name in self._received or kd.name in self._declared or kd.name in self._values:
            return False  # (every key the initiator sent is in _received, so never in this response)
        if (self._discovery and kd.discovery_irrelevant) or (kd.use is Use.LO and not self.leading):
            return False
        if kd.rdma_only and not self._rdma:
            return False
        wanted = self._wanted(kd)
        if kd.kind is Kind.LIST:
            return kd.default not in wanted  # type: ignore[operator]
        if kd.name == "FirstBurstLength" and self._bool("InitialR2T") and not self._bool("ImmediateData"):
            return False
        return wanted != kd.default

    def _value(self, name: str) -> object:
        return self._values.get(name, KEYS[name].default)

    def _int(self, name: str) -> int:
        return _as_int(self._value(name))

    def _bool(self, name: str) -> bool:
        return self._value(name) is True

    # ---------------------------------------------------------------------------------- result
    def result(self) -> tuple[SessionParams, ConnParams]:
        """The negotiated values (defaults where nothing was negotiated). On a non-leading
        connection the session-wide values belong to the leading connection's negotiation."""
        v, n, b = self._value, self._int, self._bool
        policy = self._policy
        rdma = self._rdma and b("RDMAExtensions")
        session = SessionParams(
            session_type=self.session_type,
            initiator_name=self.initiator_name,
            initiator_alias=self.initiator_alias,
            target_name=self.target_name,
            target_alias=policy.target_alias if policy is not None and self.session_type == NORMAL else None,
            target_portal_group_tag=self.portal_group_tag,
            max_connections=n("MaxConnections"),
            initial_r2t=b("InitialR2T"),
            immediate_data=b("ImmediateData"),
            max_burst_length=n("MaxBurstLength"),
            first_burst_length=min(n("FirstBurstLength"), n("MaxBurstLength")),
            default_time2wait=n("DefaultTime2Wait"),
            default_time2retain=n("DefaultTime2Retain"),
            max_outstanding_r2t=n("MaxOutstandingR2T"),
            data_pdu_in_order=b("DataPDUInOrder"),
            data_sequence_in_order=b("DataSequenceInOrder"),
            error_recovery_level=n("ErrorRecoveryLevel"),
            task_reporting=_as_str(v("TaskReporting")),
            iscsi_protocol_level=n("iSCSIProtocolLevel"),
            rdma_extensions=rdma,
            max_outstanding_unexpected_pdus=n("MaxOutstandingUnexpectedPDUs"),
        )
        default_dsl = _int("MaxRecvDataSegmentLength")
        declared = policy is not None and "MaxRecvDataSegmentLength" in self._declared
        own = policy.max_recv_data_segment_length if policy is not None and declared else default_dsl
        target_dsl, initiator_dsl = n("TargetRecvDataSegmentLength"), n("InitiatorRecvDataSegmentLength")
        conn = ConnParams(
            header_digest=v("HeaderDigest") == "CRC32C",
            data_digest=v("DataDigest") == "CRC32C",
            max_recv_data_segment_length=target_dsl if rdma else own,
            max_xmit_data_segment_length=initiator_dsl if rdma else (self._initiator_mrdsl or default_dsl),
            rdma_extensions=rdma,
            target_recv_dsl=target_dsl,
            initiator_recv_dsl=initiator_dsl,
        )
        return session, conn


def _combine(kd: KeyDef, offer: object, wanted: object) -> object:
    """The result function of a numerical or boolean key (RFC 7143 6.2.2, RFC 7145 6)."""
    if kd.kind is Kind.AND:
        return bool(offer) and bool(wanted)
    if kd.kind is Kind.OR:
        return bool(offer) or bool(wanted)
    a, b = int(offer), int(wanted)  # type: ignore[call-overload]
    if kd.kind is Kind.MAX:
        return max(a, b)
    if kd.kind is Kind.MIN_OR_ZERO and 0 in (a, b):
        return max(a, b)  # 0 means no limit, so the other side's limit (or none) applies
    return min(a, b)


def _admissible(kd: KeyDef, offered: object, answer: object) -> bool:
    """Whether ``answer`` is a value the acceptor may give to ``offered`` (RFC 7143 6.2.2)."""
    if kd.kind is Kind.LIST:
        return answer in offered  # type: ignore[operator]
    if kd.kind is Kind.AND:
        return bool(offered) or not answer
    if kd.kind is Kind.OR:
        return not offered or bool(answer)
    return _combine(kd, offered, answer) == answer
