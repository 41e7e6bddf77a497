"""What the sans-I/O iSCSI core asks of the daemon around it: targets, policies and sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hpt.iscsi.connection import Connection
    from hpt.iscsi.limits import Admission, Limits, Penalty
    from hpt.iscsi.negotiation import AuthPolicy, TargetPolicy
    from hpt.iscsi.session import Session, SessionTable
    from hpt.scsi.target import ScsiTarget


class IscsiContext(Protocol):
    """Implemented by the daemon (``hpt.daemon.server``) and by test fixtures."""

    sessions: SessionTable
    portal_group_tag: int
    limits: Limits  # login time, connections, sessions, CHAP retries (hpt.iscsi.limits)
    auth_penalty: Penalty  # shared by every portal of the daemon (and its workers)
    admission: Admission  # the connections of every TCP portal, counted against the limits

    def policies(self, conn: Connection, session_type: str, initiator_name: str,
                 target_name: str) -> tuple[TargetPolicy, AuthPolicy]:
        """Policies for a login; raises LoginError for an unknown target or an ACL refusal."""
        ...

    def scsi_target(self, target_name: str) -> ScsiTarget | None: ...

    def send_targets(self, conn: Connection, value: str) -> list[tuple[str, str]]:
        """The SendTargets answer for this connection's initiator (ACL-filtered, RFC 7143 Appendix C)."""
        ...

    def nexus_lost(self, session: Session, done: Callable[[], None] | None = None) -> None:
        """The session ended (SAM-5 6.3.4 I_T nexus loss): its reservations are released before this
        returns; ``done()`` (any thread) once its aborted commands have left the stores."""
        ...

    def drop_target_sessions(self, target_name: str) -> None:
        """Close every session of a target (TARGET COLD RESET)."""
        ...
