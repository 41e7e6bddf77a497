"""The login phase of one connection: Login Request/Response PDUs, stages and session binding.

RFC 7143 6 (login and text), 11.12-11.13 (Login PDUs), 6.3.5 (reinstatement). Key negotiation and
CHAP happen in :class:`hpt.iscsi.negotiation.LoginNegotiator`; this module handles the PDU level:
version, ISID/TSIH, CSG/NSG/T transitions, C-bit continuation in both directions, status codes,
and creating or joining the session when the connection enters the full feature phase.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from hpt.iscsi import pdu as P
from hpt.iscsi.errors import AUTH_FAILED, LoginError
from hpt.iscsi.limits import host_of
from hpt.iscsi.negotiation import LoginNegotiator
from hpt.iscsi.pdu import Pdu
from hpt.iscsi.ratelog import RateLimitedLog
from hpt.iscsi.session import Session
from hpt.iscsi.text import encode_text, parse_text

if TYPE_CHECKING:
    from hpt.iscsi.connection import Connection

log = logging.getLogger("hpt.iscsi.login")
_refusals = RateLimitedLog(log)  # one line per initiator address and 10 s: a login loop cannot flood the log

SECURITY, OPERATIONAL, FULL_FEATURE = 0, 1, 3
LOGIN_TEXT_LIMIT = 8192  # MaxRecvDataSegmentLength during login (RFC 7143 13.12)
MAX_LOGIN_TEXT = 64 * 1024  # a login's accumulated text beyond this is refused (resource limit)
DEFAULT_QUEUE_DEPTH = 128


class LoginHandler:
    """Drives one connection's login; ``receive`` takes each Login Request PDU."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.neg: LoginNegotiator | None = None
        self.isid = 0
        self.tsih = 0
        self.cid = 0
        self.first_cmdsn = 0
        self.stage: int | None = None  # the stage the next request must be in
        self.text_in = bytearray()
        self.text_out: list[bytes] = []
        self.pending_flags = 0  # T/CSG/NSG of the response being sent in pieces

    # --------------------------------------------------------------------------------- entry points
    def receive(self, pdu: Pdu) -> None:
        try:
            self._receive(pdu)
        except LoginError as err:
            self.fail(pdu, err.status_class, err.status_detail, str(err))

    def fail_invalid(self, pdu: Pdu) -> None:
        """A non-login PDU before the full feature phase (RFC 7143 6.1: 0x020b)."""
        self.fail(pdu, 2, 0x0B, f"{pdu!r} during login")

    def fail(self, pdu: Pdu, status_class: int, status_detail: int, message: str) -> None:
        conn = self.conn
        host = host_of(conn.peer)
        _refusals.warning(host, "login from %s refused (%02x%02x): %s",
                          conn.peer, status_class, status_detail, message)
        if (status_class, status_detail) == AUTH_FAILED:  # the answer waits longer after each failure
            conn.hold_until = time.monotonic() + conn.context.auth_penalty.failed((self._initiator(), host))
        hdr = P.login_response(0, 0, 0, self.isid or pdu.isid, 0, pdu.itt, conn.next_statsn(),
                               self.first_cmdsn, self.first_cmdsn, status_class, status_detail, 0)
        conn._emit(hdr)
        conn.close(f"login failed: {message}")

    def _initiator(self) -> str:
        return self.neg.initiator_name if self.neg is not None else ""

    # --------------------------------------------------------------------------------- the machine
    def _receive(self, pdu: Pdu) -> None:
        conn = self.conn
        if self.neg is None:
            self._first(pdu)
        elif pdu.isid != self.isid or pdu.tsih != self.tsih:
            raise LoginError(2, 0, "ISID or TSIH changed during login")
        assert self.neg is not None
        if self.text_out:
            # the initiator acknowledges a partial response with an empty request (RFC 7143 6.4)
            self._send(pdu, self.pending_flags, self.text_out.pop(0))
            return
        self.text_in += pdu.data
        if len(self.text_in) > MAX_LOGIN_TEXT:
            raise LoginError(3, 2, "login text too long")
        csg, nsg, transit = pdu.csg, pdu.nsg, pdu.transit
        if pdu.cont:
            if transit:
                raise LoginError(2, 0, "C and T bits both set")
            self._send(pdu, csg << 2, b"")
            return
        if csg == 2 or csg == FULL_FEATURE:
            raise LoginError(2, 0, f"invalid current stage {csg}")
        if transit and (nsg == 2 or nsg <= csg):
            raise LoginError(2, 0, f"invalid transition {csg} -> {nsg}")
        if self.stage is not None and csg != self.stage:
            raise LoginError(2, 0, f"login request in stage {csg}, expected {self.stage}")
        pairs = parse_text(bytes(self.text_in))
        self.text_in = bytearray()
        neg = self.neg
        if csg == SECURITY:
            reply, authenticated = neg.security_step(pairs)
            may_transit = transit and authenticated
        else:
            reply = neg.operational_step(pairs)
            may_transit = transit and (nsg != FULL_FEATURE or neg.may_transit_to_ffp())
        self.stage = nsg if may_transit else csg
        flags = (csg << 2) | ((0x80 | nsg) if may_transit else 0)
        text = encode_text(reply)
        limit = min(LOGIN_TEXT_LIMIT, conn.max_xmit_dsl)
        if len(text) > limit:
            pieces = [text[i: i + limit] for i in range(0, len(text), limit)]
            self.text_out = pieces[1:]
            self.pending_flags = flags
            self._send(pdu, csg << 2, pieces[0], cont=True)
            return
        self._send(pdu, flags, text)

    def _first(self, pdu: Pdu) -> None:
        conn = self.conn
        self.isid, self.tsih, self.cid = pdu.isid, pdu.tsih, pdu.cid
        self.first_cmdsn = pdu.cmdsn
        conn.statsn = pdu.expstatsn
        if pdu.b3 > 0:  # Version-min (RFC 7143 11.12.4): only version 0 exists
            raise LoginError(2, 5, f"unsupported version min {pdu.b3}")
        if self.tsih:
            existing = [s for s in conn.context.sessions.all() if s.tsih == self.tsih]
            if not existing:
                raise LoginError(2, 10, f"no session with TSIH {self.tsih}")
            raise LoginError(2, 6, "MaxConnections is 1: no connection can be added to a session")
        ctx = conn.context
        self.neg = LoginNegotiator(
            lambda st, ini, tgt: ctx.policies(conn, st, ini, tgt),
            leading=True,
            portal_group_tag=ctx.portal_group_tag,
            transport=conn.transport,
        )

    def _send(self, pdu: Pdu, flags: int, text: bytes, cont: bool = False) -> None:
        conn = self.conn
        final = bool(flags & 0x80) and (flags & 3) == FULL_FEATURE and not cont
        if cont:
            flags |= 0x40
        tsih = self.tsih
        if final and not tsih:
            tsih = conn.context.sessions.new_tsih()
        exp = self.first_cmdsn
        hdr = P.login_response(flags, 0, 0, self.isid, tsih, pdu.itt, conn.next_statsn(), exp,
                               (exp + DEFAULT_QUEUE_DEPTH - 1) & 0xFFFFFFFF, 0, 0, len(text))
        conn._emit(hdr, text)
        if final:
            self._enter_full_feature(tsih)

    def _enter_full_feature(self, tsih: int) -> None:
        """Create the session (or reinstate it) and switch the connection to its negotiated values."""
        conn = self.conn
        neg = self.neg
        assert neg is not None
        sparams, cparams = neg.result()
        ctx = conn.context
        stype = neg.session_type
        target = ctx.scsi_target(neg.target_name) if stype == "Normal" else None
        session = Session(
            isid=self.isid, tsih=tsih, initiator_name=neg.initiator_name,
            target_name=neg.target_name or "", session_type=stype, params=sparams, scsi_target=target,
            portal_group_tag=ctx.portal_group_tag, queue_depth=DEFAULT_QUEUE_DEPTH,
            first_cmdsn=self.first_cmdsn,
        )
        session.connections.append(conn.kill)
        old = ctx.sessions.add(session)
        if old is not None:
            log.info("session %s isid %#x reinstated", old.initiator_name, old.isid)
            old.close("session reinstatement")
        conn.session = session
        conn.cid = self.cid
        conn.hd = 4 if cparams.header_digest else 0
        conn.dd = 4 if cparams.data_digest else 0
        conn.max_recv_dsl = cparams.max_recv_data_segment_length
        conn.max_xmit_dsl = cparams.max_xmit_data_segment_length
        conn.full_feature = True
        ctx.auth_penalty.succeeded((neg.initiator_name, host_of(conn.peer)))
        log.info("%s session %s -> %s (isid %#x tsih %d) from %s", stype, neg.initiator_name,
                 neg.target_name or "-", self.isid, tsih, conn.peer)
