"""SendTargets answers and full-feature-phase Text Request keys (RFC 7143 Appendix C, 13.3, 13.8).

``SendTargets=All`` lists every target the caller passes (it filters by ACL first) in a Discovery
session. In a Normal session only the session's own target is ever reported (RFC 7143 Appendix C:
an operational session "MUST NOT return targets other than the one to which the session is logged
in"), including for ``All``, which libiscsi's iSCSISendTargets tests send in a Normal session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hpt.iscsi.keys import KEYS, NOT_UNDERSTOOD, REJECT, is_iscsi_name

Portal = tuple[str, int, int]  # (address, TCP port, target portal group tag)


@dataclass(frozen=True)
class TargetEntry:
    """A target the initiator may see, and its portals (IPv6 addresses without brackets)."""

    name: str
    portals: Sequence[Portal] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "portals", tuple(self.portals))
        for address, port, tag in self.portals:
            if not address or not 0 < port < 65536 or not 0 <= tag <= 65535:
                raise ValueError(f"bad portal ({address!r}, {port}, {tag}) for {self.name}")


def target_address(address: str, port: int, tag: int) -> str:
    """A TargetAddress value ``address:port,tag``, IPv6 in brackets (RFC 7143 13.8)."""
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"
    return f"{address}:{port},{tag}"


def sendtargets_response(request_value: str, targets: Iterable[TargetEntry], *, session_type: str,
                         current_target: str | None) -> list[tuple[str, str]]:
    """The answer to ``SendTargets=<request_value>`` (RFC 7143 Appendix C).

    All: every target in a Discovery session, the session's own in a Normal one. A target name: that
    target if listed (and, in a Normal session, only if it is the session's). Empty: the session's
    target (none in a Discovery session). Anything else: ``SendTargets=Reject``.
    """
    wanted: str | None
    if request_value == "All":
        wanted = None if session_type == "Discovery" else current_target or ""
    elif request_value == "":
        wanted = current_target or ""
    elif is_iscsi_name(request_value):
        wanted = request_value
        if session_type != "Discovery" and (current_target or "").lower() != wanted.lower():
            wanted = ""
    else:
        return [("SendTargets", REJECT)]
    pairs: list[tuple[str, str]] = []
    for entry in targets:
        if wanted is None or entry.name.lower() == wanted.lower():
            pairs.append(("TargetName", entry.name))
            pairs.extend(("TargetAddress", target_address(*portal)) for portal in entry.portals)
    return pairs


def text_request_answers(pairs: Iterable[tuple[str, str]],
                         send_targets: Callable[[str], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Answers to the keys of a full-feature-phase Text Request (RFC 7143 6.2, 11.10).

    SendTargets is answered by ``send_targets(value)``; unknown keys (X- and X# too) NotUnderstood;
    InitiatorAlias is taken without answer; every other known key Reject: hpt renegotiates nothing
    after login.
    """
    answers: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "SendTargets":
            answers.extend(send_targets(value))
        elif key not in KEYS:
            answers.append((key, NOT_UNDERSTOOD))
        elif key != "InitiatorAlias":
            answers.append((key, REJECT))
    return answers


def chunk_text(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of at most ``size`` bytes, one a PDU; a key=value pair may span
    pieces, the C bit joins them (RFC 7143 6.1). Empty text is one empty piece."""
    if size < 1:
        raise ValueError(f"piece size must be at least 1, not {size}")
    return [data[i: i + size] for i in range(0, len(data), size)] or [b""]
