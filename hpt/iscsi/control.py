"""Full-feature-phase requests other than SCSI commands: NOP-Out/NOP-In, Text, Logout, TMF glue,
and the target's own Asynchronous Messages (RFC 7143 11.5-11.6, 11.9-11.11, 11.14-11.15, 11.18-11.19).

A mixin of :class:`hpt.iscsi.connection.Connection`: these methods use its session, output queue
and counters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import RSVD_TAG, AsyncEvent, Pdu, RejectReason
from hpt.iscsi.sendtargets import chunk_text, text_request_answers
from hpt.iscsi.text import encode_text, parse_text
from hpt.iscsi.tmf import handle_tmf

if TYPE_CHECKING:
    from hpt.iscsi.connection import Connection

MAX_TEXT = 64 * 1024  # a Text Request's accumulated key=value data beyond this is refused


class ControlRequests:
    """NOP, Text, Logout and TMF handling for a connection in the full feature phase."""

    def _nop_out(self: Connection, pdu: Pdu) -> None:
        """NOP-Out: answer a ping (valid ITT) with NOP-In echoing its data (RFC 7143 11.18)."""
        s = self.session
        assert s is not None
        if pdu.itt == RSVD_TAG:
            if pdu.ttt != RSVD_TAG and pdu.ttt == self._ping_ttt:
                self._ping_ttt = None
            return
        data = bytes(pdu.data)
        self._emit(
            P.nop_in(pdu.lun, pdu.itt, RSVD_TAG, self.next_statsn(), s.exp_cmdsn, s.max_cmdsn, len(data)),
            data,
        )

    def ping(self: Connection) -> bool:
        """Queue a NOP-In ping (keepalive); False when the previous ping is still unanswered."""
        s = self.session
        if s is None or not self.full_feature:
            return True
        if self._ping_ttt is not None:
            return False
        self._ttt = self._ping_ttt = (self._ttt + 1) & 0x7FFFFFFF
        self._emit(P.nop_in(bytes(8), RSVD_TAG, self._ping_ttt, self.statsn, s.exp_cmdsn, s.max_cmdsn, 0))
        return True

    def _tmf(self: Connection, pdu: Pdu) -> None:
        s = self.session
        assert s is not None
        itt = pdu.itt

        def respond(code: int) -> None:
            if not self.lost:
                self._emit(P.tmf_response(code, itt, self.next_statsn(), s.exp_cmdsn, s.max_cmdsn))

        handle_tmf(self, pdu, respond)

    def _text(self: Connection, pdu: Pdu) -> None:
        """Text Request in the full feature phase: SendTargets and continuation (RFC 7143 11.10)."""
        s = self.session
        assert s is not None
        if pdu.ttt != RSVD_TAG:
            if pdu.ttt != self._text_ttt or not self._text_out:
                self.reject(pdu, RejectReason.INVALID_PDU_FIELD)
                return
            self._send_text_piece(pdu)
            return
        self._text_in = (self._text_in or bytearray()) + bytes(pdu.data)
        if len(self._text_in) > MAX_TEXT:
            self._text_in = None
            self.reject(pdu, RejectReason.PROTOCOL_ERROR)
            return
        if pdu.cont:
            self._emit(
                P.text_response(
                    0, pdu.lun, pdu.itt, RSVD_TAG, self.next_statsn(), s.exp_cmdsn, s.max_cmdsn, 0
                )
            )
            return
        raw, self._text_in = bytes(self._text_in), None
        try:
            pairs = parse_text(raw)
        except ValueError:
            self.reject(pdu, RejectReason.PROTOCOL_ERROR)
            return
        reply = text_request_answers(pairs, lambda value: self.context.send_targets(self, value))
        self._text_out = chunk_text(encode_text(reply), self.max_xmit_dsl)
        self._send_text_piece(pdu)

    def _send_text_piece(self: Connection, pdu: Pdu) -> None:
        s = self.session
        assert s is not None
        piece = self._text_out.pop(0)
        if self._text_out:
            self._ttt = self._text_ttt = (self._ttt + 1) & 0x7FFFFFFF
            flags, ttt = 0x40, self._text_ttt
        else:
            flags, ttt = 0x80, RSVD_TAG
        self._emit(
            P.text_response(
                flags, pdu.lun, pdu.itt, ttt, self.next_statsn(), s.exp_cmdsn, s.max_cmdsn, len(piece)
            ),
            piece,
        )

    def _logout(self: Connection, pdu: Pdu) -> None:
        """Logout (RFC 7143 11.14): close the session or this connection; recovery removal needs ERL 2.

        When the session ends (reason 0, or its last connection), its I_T nexus loss is carried out
        first: the SCSI target releases its reservations at once and the response waits for the
        aborted commands to leave the stores (5 s at most, ``TaskSet.abort_wait``) on another thread,
        so the initiator's next command on another session never meets what this one held."""
        s = self.session
        assert s is not None
        reason = pdu.reason
        response = 3 if reason == 2 else 0  # reason 2: cleanup failed, no connection recovery at ERL 0
        itt = pdu.itt
        self.abort_tasks(lambda t: True)

        def respond() -> None:
            if self.lost:
                return
            self._emit(P.logout_response(response, itt, self.next_statsn(), s.exp_cmdsn, s.max_cmdsn,
                                         s.params.default_time2wait, s.params.default_time2retain))
            if response == 0:
                self.close("logout")

        if response or (reason != 0 and len(s.connections) > 1):
            respond()
            return
        self.context.sessions.remove(s)
        for close in list(s.connections):
            if close != self.kill:
                close("the session logged out")  # RFC 7143 11.15: every connection of the session closes
        if s.scsi_target is not None and s.session_type == "Normal" and s.end():
            self.context.nexus_lost(s, lambda: self.defer(respond))
        else:
            respond()

    def request_logout(self: Connection, seconds: int = 2) -> bool:
        """Ask the initiator to log out within ``seconds`` (Async event 1, RFC 7143 11.9.1); used when
        the target shuts down. False when the connection has no full-feature session to ask about."""
        s = self.session
        if s is None or not self.full_feature or self.closing:
            return False
        self._emit(P.async_message(AsyncEvent.LOGOUT_REQUEST, bytes(8), self.next_statsn(), s.exp_cmdsn,
                                   s.max_cmdsn, param3=seconds))
        return True
