"""Registration of a target VN_Port with the fabric's directory server (FC-GS-7 5.2.5), sans-I/O.

After the fabric login: PLOGI to the name server (well-known address FFFFFC), then RFT_ID (FC-4
TYPE FCP), RFF_ID (FCP target feature) and RSPN_ID (symbolic port name), one at a time, each
retried after a timeout. A rejected registration is counted and skipped (a fabric may refuse the
optional ones). The caller sends the requests in ``out`` and feeds the replies from FFFFFC.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpt.fcoe import ct, els
from hpt.fcoe.frame import (
    F_END_SEQ,
    F_FIRST_SEQ,
    F_SEQ_INIT,
    R_CTL_ELS_REP,
    R_CTL_ELS_REQ,
    TYPE_ELS,
    UNASSIGNED_ID,
    FcHeader,
    FrameError,
)

DIRECTORY_SERVER = 0xFFFFFC  # FC-FS-4 table 31
R_CTL_CT_REQ, R_CTL_CT_REP = 0x02, 0x03  # FC-FS-4 table 12: unsolicited / solicited control
TYPE_CT = 0x20  # FC-GS-7 4.2: Fibre Channel Services
TIMEOUT = 2 * els.E_D_TOV_MS / 1000  # per request, as libfc waits
TRIES = 3
REQUEST_F_CTL = F_FIRST_SEQ | F_END_SEQ | F_SEQ_INIT
OX_ID_BASE = 0x8000  # the registration's exchanges, apart from the port's own


@dataclass(slots=True)
class Step:
    name: str
    r_ctl: int
    fc_type: int
    payload: bytes


class Registration:
    """The name server logins and registrations of one VN_Port (FC_ID ``port_id``)."""

    def __init__(
        self,
        port_id: int,
        wwpn: int,
        wwnn: int,
        max_payload: int,
        symbolic_name: str,
        counters: dict[str, int],
    ) -> None:
        self.port_id = port_id
        self.counters = counters
        self.steps = [
            Step("PLOGI", R_CTL_ELS_REQ, TYPE_ELS, els.encode_login(els.PLOGI, wwpn, wwnn, max_payload)),
            Step("RFT_ID", R_CTL_CT_REQ, TYPE_CT, ct.rft_id(port_id)),
            Step("RFF_ID", R_CTL_CT_REQ, TYPE_CT, ct.rff_id(port_id)),
            Step("RSPN_ID", R_CTL_CT_REQ, TYPE_CT, ct.rspn_id(port_id, symbolic_name)),
        ]
        self.index = 0
        self.tries = 0
        self.ox_id = OX_ID_BASE
        self.deadline = 0.0
        self.failed = False
        #: (FC header, payload) of each request to send to the name server.
        self.out: list[tuple[FcHeader, bytes]] = []

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps)

    @property
    def step(self) -> str:
        return "done" if self.done else self.steps[self.index].name

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def start(self, now: float) -> None:
        self._send(now)

    def _send(self, now: float) -> None:
        step = self.steps[self.index]
        self.tries += 1
        self.ox_id = OX_ID_BASE + (self.ox_id + 1) % OX_ID_BASE
        hdr = FcHeader(step.r_ctl, DIRECTORY_SERVER, self.port_id, step.fc_type, REQUEST_F_CTL)
        hdr.ox_id, hdr.rx_id = self.ox_id, UNASSIGNED_ID
        self.out.append((hdr, step.payload))
        self.deadline = now + TIMEOUT

    def _next(self, now: float) -> None:
        self.index += 1
        self.tries = 0
        if not self.done:
            self._send(now)

    def tick(self, now: float) -> float:
        """Retry a request that timed out; after :data:`TRIES`, ``failed`` is set. Returns the deadline."""
        if self.done or self.failed:
            return float("inf")
        if now >= self.deadline:
            self._count("ns_timeout")
            if self.tries >= TRIES:
                self.failed = True
                return float("inf")
            self._send(now)
        return self.deadline

    def receive(self, hdr: FcHeader, payload: bytes | memoryview, now: float) -> None:
        """A frame from the name server: the reply to the request outstanding, or counted and dropped."""
        if self.done or self.failed or hdr.ox_id != self.ox_id:
            self._count("ns_unexpected")
            return
        step = self.steps[self.index]
        try:
            if step.r_ctl == R_CTL_ELS_REQ:
                accepted = hdr.r_ctl == R_CTL_ELS_REP and len(payload) >= 4 and payload[0] == els.LS_ACC
            else:
                accepted = hdr.r_ctl == R_CTL_CT_REP and ct.decode_response(payload).accepted
        except FrameError as err:
            self._count(err.reason)
            return
        if not accepted:
            self._count(f"ns_{step.name}_rejected")
            if step.name == "PLOGI":  # nothing can be registered without the login
                self.failed = True
                return
        self._next(now)
