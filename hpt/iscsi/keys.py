"""Every iSCSI text key hpt knows: RFC 7143 12.1 (security) and 13 (operational), RFC 7145 6 (iSER).

One row a key: how it is negotiated (:class:`Kind`), its legal range or values, default, scope, use,
who may send it, whether it is irrelevant in Discovery sessions or without RDMAExtensions, and the
attribute that holds it in ``TargetPolicy`` / ``SessionParams`` / ``ConnParams``. Keys not in the
table, including every X- (private) and X# (public) extension key such as X#NodeArchitecture, are
answered NotUnderstood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from hpt.iscsi.errors import TextError
from hpt.iscsi.text import decode_number, split_list


class Kind(Enum):
    """How a key's value is settled (RFC 7143 6.2)."""

    MIN = "numerical-min"  # result = the smaller value
    MAX = "numerical-max"  # result = the larger value
    MIN_OR_ZERO = "numerical-min-or-zero"  # like MIN, 0 meaning "no limit" (RFC 7145)
    AND = "boolean-and"
    OR = "boolean-or"
    LIST = "list"  # the acceptor picks the first value of the offer it supports
    DECLARATIVE = "declarative"  # each side states its own value; no result function
    SECURITY = "security"  # a step of an authentication exchange (RFC 7143 12.1)
    OBSOLETE = "obsolete"  # answered Reject (RFC 7143 13.25)


class Use(Enum):
    """When a key may be sent (RFC 7143 13 preamble)."""

    LO = "leading-only"  # the login of the leading connection
    IO = "initialize-only"  # the login of any connection
    ALL = "all"  # login and full feature phase
    FFPO = "full-feature-phase-only"


class Scope(Enum):
    SW = "session-wide"
    CO = "connection-only"


class Sender(Enum):
    INITIATOR = "initiator"
    TARGET = "target"
    BOTH = "both"


class Stage(Enum):
    """Where a key belongs: security keys only in the security stage; operational keys in either
    login stage (RFC 7143 6.3); FFP keys only in Text Requests."""

    SECURITY = "security"
    OPERATIONAL = "operational"
    FFP = "full-feature"


Value = int | bool | str | None


@dataclass(frozen=True, slots=True)
class KeyDef:
    name: str
    section: str
    kind: Kind
    use: Use
    scope: Scope
    senders: Sender
    default: Value = None
    lo: int = 0
    hi: int = 0
    values: tuple[str, ...] = ()  # the values a LIST or enumerated key may take
    field: str | None = None  # attribute name in TargetPolicy / SessionParams / ConnParams
    stage: Stage = Stage.OPERATIONAL
    discovery_irrelevant: bool = False  # "Irrelevant when: SessionType=Discovery"
    rdma_only: bool = False  # "Irrelevant when: RDMAExtensions=No" (RFC 7145)
    offer: bool = False  # the target offers it when its policy differs from the default

    @property
    def numeric(self) -> bool:
        return self.kind in (Kind.MIN, Kind.MAX, Kind.MIN_OR_ZERO) or (
            self.kind is Kind.DECLARATIVE and self.hi > 0
        )

    @property
    def boolean(self) -> bool:
        return self.kind in (Kind.AND, Kind.OR)

    def parse_number(self, value: str) -> int:
        """A numerical value of this key in its legal range; TextError otherwise."""
        number = decode_number(value)
        if self.kind is Kind.MIN_OR_ZERO and number == 0:
            return 0
        if not self.lo <= number <= self.hi:
            raise TextError(f"{self.name}={value} is outside {self.lo}..{self.hi}")
        return number

    def parse_bool(self, value: str) -> bool:
        if value not in ("Yes", "No"):
            raise TextError(f"{self.name}={value} is not Yes or No")
        return value == "Yes"

    def parse_list(self, value: str) -> list[str]:
        return split_list(value)

    def parse(self, value: str) -> int | bool | list[str]:
        """The typed form of an offered value: int, bool, or the list's elements."""
        if self.numeric:
            return self.parse_number(value)
        if self.boolean:
            return self.parse_bool(value)
        return self.parse_list(value)

    @staticmethod
    def format(value: int | bool | str) -> str:
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return str(value)


SEG_LO, SEG_HI = 512, 2**24 - 1  # data segment and burst lengths (RFC 7143 13.12-13.14)


def _security(name: str, section: str) -> KeyDef:
    return KeyDef(name, section, Kind.SECURITY, Use.IO, Scope.CO, Sender.BOTH, stage=Stage.SECURITY)


def _obsolete(name: str) -> KeyDef:
    return KeyDef(name, "RFC 7143 13.25", Kind.OBSOLETE, Use.IO, Scope.CO, Sender.BOTH)


def _leading(name: str, section: str, kind: Kind, default: Value, field: str, *, lo: int = 0, hi: int = 0,
             values: tuple[str, ...] = (), discovery_irrelevant: bool = False, rdma_only: bool = False,
             offer: bool = True) -> KeyDef:
    """A leading-only, session-wide key both sides may offer."""
    return KeyDef(name, section, kind, Use.LO, Scope.SW, Sender.BOTH, default=default, lo=lo, hi=hi,
                  values=values, field=field, discovery_irrelevant=discovery_irrelevant,
                  rdma_only=rdma_only, offer=offer)


def _declared(name: str, section: str, use: Use, senders: Sender, field: str | None, *,
              scope: Scope = Scope.SW, default: Value = None, lo: int = 0, hi: int = 0,
              values: tuple[str, ...] = (), stage: Stage = Stage.OPERATIONAL) -> KeyDef:
    return KeyDef(name, section, Kind.DECLARATIVE, use, scope, senders, default=default, lo=lo, hi=hi,
                  values=values, field=field, stage=stage)


def _rdma_length(name: str, field: str) -> KeyDef:
    return KeyDef(name, "RFC 7145 6", Kind.MIN, Use.IO, Scope.CO, Sender.BOTH, default=8192, lo=SEG_LO,
                  hi=SEG_HI, field=field, discovery_irrelevant=True, rdma_only=True, offer=True)


def _digest(name: str, field: str) -> KeyDef:
    return KeyDef(name, "RFC 7143 13.1", Kind.LIST, Use.IO, Scope.CO, Sender.BOTH, default="None",
                  values=("CRC32C", "None"), field=field, offer=True)


_TABLE: tuple[KeyDef, ...] = (
    # ---- security (RFC 7143 12.1)
    KeyDef("AuthMethod", "RFC 7143 12.1", Kind.LIST, Use.IO, Scope.CO, Sender.BOTH, default="None",
           values=("KRB5", "SRP", "CHAP", "None"), stage=Stage.SECURITY),
    _security("KRB_AP_REQ", "RFC 7143 12.1.1"),
    _security("KRB_AP_REP", "RFC 7143 12.1.1"),
    _security("SRP_U", "RFC 7143 12.1.2"),
    _security("TargetAuth", "RFC 7143 12.1.2"),
    _security("SRP_GROUP", "RFC 7143 12.1.2"),
    _security("SRP_s", "RFC 7143 12.1.2"),
    _security("SRP_A", "RFC 7143 12.1.2"),
    _security("SRP_B", "RFC 7143 12.1.2"),
    _security("SRP_M", "RFC 7143 12.1.2"),
    _security("SRP_HM", "RFC 7143 12.1.2"),
    _security("CHAP_A", "RFC 7143 12.1.3"),
    _security("CHAP_I", "RFC 7143 12.1.3"),
    _security("CHAP_C", "RFC 7143 12.1.3"),
    _security("CHAP_N", "RFC 7143 12.1.3"),
    _security("CHAP_R", "RFC 7143 12.1.3"),
    # ---- operational (RFC 7143 13)
    _digest("HeaderDigest", "header_digest"),
    _digest("DataDigest", "data_digest"),
    _leading("MaxConnections", "RFC 7143 13.2", Kind.MIN, 1, "max_connections", lo=1, hi=65535,
             discovery_irrelevant=True),
    _declared("SendTargets", "RFC 7143 13.3, Appendix C", Use.FFPO, Sender.INITIATOR, None, stage=Stage.FFP),
    _declared("TargetName", "RFC 7143 13.4", Use.IO, Sender.BOTH, "target_name"),
    _declared("InitiatorName", "RFC 7143 13.5", Use.IO, Sender.INITIATOR, "initiator_name"),
    _declared("TargetAlias", "RFC 7143 13.6", Use.ALL, Sender.TARGET, "target_alias"),
    _declared("InitiatorAlias", "RFC 7143 13.7", Use.ALL, Sender.INITIATOR, "initiator_alias"),
    _declared("TargetAddress", "RFC 7143 13.8", Use.ALL, Sender.TARGET, None),
    _declared("TargetPortalGroupTag", "RFC 7143 13.9", Use.IO, Sender.TARGET, "target_portal_group_tag",
              lo=0, hi=65535),
    _leading("InitialR2T", "RFC 7143 13.10", Kind.OR, True, "initial_r2t", discovery_irrelevant=True),
    _leading("ImmediateData", "RFC 7143 13.11", Kind.AND, True, "immediate_data", discovery_irrelevant=True),
    _declared("MaxRecvDataSegmentLength", "RFC 7143 13.12", Use.ALL, Sender.BOTH,
              "max_recv_data_segment_length", scope=Scope.CO, default=8192, lo=SEG_LO, hi=SEG_HI),
    _leading("MaxBurstLength", "RFC 7143 13.13", Kind.MIN, 262144, "max_burst_length", lo=SEG_LO, hi=SEG_HI,
             discovery_irrelevant=True),
    _leading("FirstBurstLength", "RFC 7143 13.14", Kind.MIN, 65536, "first_burst_length", lo=SEG_LO,
             hi=SEG_HI, discovery_irrelevant=True),
    _leading("DefaultTime2Wait", "RFC 7143 13.15", Kind.MAX, 2, "default_time2wait", hi=3600),
    _leading("DefaultTime2Retain", "RFC 7143 13.16", Kind.MIN, 20, "default_time2retain", hi=3600),
    _leading("MaxOutstandingR2T", "RFC 7143 13.17", Kind.MIN, 1, "max_outstanding_r2t", lo=1, hi=65535,
             discovery_irrelevant=True),
    _leading("DataPDUInOrder", "RFC 7143 13.18", Kind.OR, True, "data_pdu_in_order",
             discovery_irrelevant=True),
    _leading("DataSequenceInOrder", "RFC 7143 13.19", Kind.OR, True, "data_sequence_in_order",
             discovery_irrelevant=True),
    _leading("ErrorRecoveryLevel", "RFC 7143 13.20", Kind.MIN, 0, "error_recovery_level", hi=2),
    _declared("SessionType", "RFC 7143 13.21", Use.LO, Sender.INITIATOR, "session_type", default="Normal",
              values=("Discovery", "Normal")),
    _leading("TaskReporting", "RFC 7143 13.23", Kind.LIST, "RFC3720", "task_reporting",
             values=("RFC3720", "ResponseFence", "FastAbort"), discovery_irrelevant=True, offer=False),
    _leading("iSCSIProtocolLevel", "RFC 7143 13.24", Kind.MIN, 0, "iscsi_protocol_level", hi=31, offer=False),
    _obsolete("IFMarker"),
    _obsolete("OFMarker"),
    _obsolete("IFMarkInt"),
    _obsolete("OFMarkInt"),
    # ---- iSER (RFC 7145 6); hpt keeps Discovery sessions out of iSER-assisted mode
    _leading("RDMAExtensions", "RFC 7145 6", Kind.AND, False, "rdma_extensions", discovery_irrelevant=True),
    _rdma_length("TargetRecvDataSegmentLength", "target_recv_data_segment_length"),
    _rdma_length("InitiatorRecvDataSegmentLength", "initiator_recv_data_segment_length"),
    _leading("MaxOutstandingUnexpectedPDUs", "RFC 7145 6", Kind.MIN_OR_ZERO, 0,
             "max_outstanding_unexpected_pdus", lo=2, hi=2**32 - 1, discovery_irrelevant=True, rdma_only=True,
             offer=False),
)

KEYS: MappingProxyType[str, KeyDef] = MappingProxyType({k.name: k for k in _TABLE})
BY_FIELD: MappingProxyType[str, KeyDef] = MappingProxyType({k.field: k for k in _TABLE if k.field})

# Values with a fixed meaning in every key (RFC 7143 6.2): never offered, only answered.
NOT_UNDERSTOOD = "NotUnderstood"
IRRELEVANT = "Irrelevant"
REJECT = "Reject"
RESERVED_VALUES = frozenset((NOT_UNDERSTOOD, IRRELEVANT, REJECT))

MAX_NAME_BYTES = 223  # RFC 7143 4.2.7.1
_NAME = re.compile(r"(?i:iqn|eui|naa)\.[^\s\x00-\x1f\x7f]+")


def is_iscsi_name(name: str) -> bool:
    """Whether ``name`` has the form of an iSCSI name: iqn./eui./naa. and at most 223 bytes
    (RFC 7143 4.2.7; case is not checked here: initiators are not all strict about it)."""
    return bool(_NAME.fullmatch(name)) and len(name.encode()) <= MAX_NAME_BYTES
