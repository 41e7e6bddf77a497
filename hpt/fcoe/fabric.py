"""The fabric-mode FIP machine of one ENode with one VN_Port (FC-BB-6 7.8, the ENode side), sans-I/O.

Discovery: a multicast Discovery Solicitation to ALL-FCF-MACs (MAC, Name, Max FCoE Size); every
advertisement is recorded (``fcf``), an unsolicited one from a new FCF is answered with a unicast
solicitation, and 2 s after the first usable FCF the best one is selected, as Linux fcoe_ctlr does.
Login: FLOGI carried in FIP asking for an FPMA; the accept gives the FC_ID (its D_ID) and the
granted MAC. LS_RJT or no answer: retried, then discovery starts over. Logged in, the VN_Port
registers with the name server (``nameserver``), sends ENode Keep Alives every FKA_ADV_Period
(unless the FCF set the D bit) and VN_Port Keep Alives every 90 s. The FCF is lost when it has not
advertised for 2.5 periods; that, or a Clear Virtual Links naming this VN_Port, drops the login
(event ``"logout"``) and discovery starts over. ``stop`` sends a FIP LOGO.
"""

from __future__ import annotations

import logging
from enum import Enum

from hpt.fcoe import els, fip
from hpt.fcoe.fcf import Fcf, best, parse_advertisement
from hpt.fcoe.fip import Enode, FipFrame, VnId
from hpt.fcoe.frame import (
    F_END_SEQ,
    F_FIRST_SEQ,
    F_SEQ_INIT,
    FC_HLEN,
    R_CTL_ELS_REQ,
    TYPE_ELS,
    UNASSIGNED_ID,
    FcHeader,
    FrameError,
    encode_fcoe,
    mac_str,
)
from hpt.fcoe.nameserver import Registration

log = logging.getLogger("hpt.fcoe")

SOLICIT_PERIOD = 2.0  # FCOE_CTLR_SOL_TOV: multicast solicitations while no FCF is usable
SELECT_DELAY = 2.0  # FCOE_CTLR_START_DELAY: from the first usable FCF to the selection
FLOGI_TIMEOUT = 2 * els.E_D_TOV_MS / 1000
FLOGI_TRIES = 3
VN_KEEP_ALIVE = 90.0  # FIP_VN_KA_PERIOD
MAX_FCFS = 20  # FCOE_CTLR_FCF_LIMIT
F_PORT_CONTROLLER = 0xFFFFFE  # FC-FS-4 table 31: where FLOGI and a fabric LOGO go
FLOGI_OX_ID = 0x7000  # the FLOGI/LOGO exchanges, apart from the port's and the registration's


class State(Enum):
    SOLICIT = "solicit"  # discovering FCFs
    FLOGI = "flogi"  # FLOGI sent to the selected FCF
    REGISTER = "register"  # logged in, registering with the name server
    READY = "ready"
    STOPPED = "stopped"


class Fabric:
    """One ENode's VN_Port behind an FCF: discovery, fabric login, keep-alive, Clear Virtual Links."""

    def __init__(
        self,
        enode: Enode,
        max_payload: int,
        symbolic_name: str = "hpt",
        counters: dict[str, int] | None = None,
    ) -> None:
        self.enode = enode
        self.enode_mac, self.wwnn, self.wwpn = enode.mac, enode.wwnn, enode.wwpn
        self.max_payload = max_payload
        self.symbolic_name = symbolic_name
        self.counters = counters if counters is not None else {}
        self.state = State.SOLICIT
        self.fcfs: list[Fcf] = []
        self.fcf: Fcf | None = None  # the selected FCF
        self.port_id = 0
        self.vn_mac = bytes(6)  # the granted FPMA
        self.registration: Registration | None = None
        self.out: list[bytes] = []
        #: "login" when the VN_Port has its FC_ID, "logout" when it lost it.
        self.events: list[str] = []
        self.solicit_at = 0.0
        self.select_at = float("inf")
        self.flogi_at = float("inf")  # FLOGI retry or timeout
        self.flogi_tries = 0
        self.ka_at = float("inf")
        self.vn_ka_at = float("inf")
        self._ox_id = FLOGI_OX_ID

    @property
    def logged_in(self) -> bool:
        return self.state in (State.REGISTER, State.READY)

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # -- sending -------------------------------------------------------------------------------
    def _fip(self, dst: bytes, op: int, subcode: int, descs: list[bytes], src: bytes | None = None) -> None:
        flags = fip.FLAG_FPMA
        self.out.append(fip.encode_fip(dst, src or self.enode_mac, op, subcode, descs, flags))

    def _solicit(self, now: float, fcf: Fcf | None = None) -> None:
        """Discovery Solicitation (FC-BB-6 7.8.3): multicast, or unicast to check one FCF."""
        descs = [fip.mac_desc(self.enode_mac), fip.name_desc(self.wwnn), fip.size_desc(self.enode.max_size)]
        self._fip(fcf.mac if fcf else fip.ALL_FCF_MACS, fip.OP_DISCOVERY, fip.DISC_SOLICIT, descs)
        if fcf is None:
            self.solicit_at = now + SOLICIT_PERIOD

    def _els(self, kind: int, payload: bytes, s_id: int, mac: bytes) -> None:
        """An ELS carried in FIP to the F_Port Controller (FC-BB-6 7.8.9.7) with a MAC descriptor."""
        assert self.fcf is not None
        self._ox_id = FLOGI_OX_ID + (self._ox_id + 1) % 0x1000
        hdr = FcHeader(
            R_CTL_ELS_REQ,
            F_PORT_CONTROLLER,
            s_id,
            TYPE_ELS,
            F_FIRST_SEQ | F_END_SEQ | F_SEQ_INIT,
            0,
            0,
            self._ox_id,
            UNASSIGNED_ID,
        )
        descs = [fip.els_desc(kind, hdr.pack() + payload), fip.mac_desc(mac)]
        self._fip(self.fcf.mac, fip.OP_LS, fip.LS_REQUEST, descs)

    def _flogi(self, now: float) -> None:
        """FIP FLOGI: S_ID 0 and a zero MAC descriptor, which asks for an FPMA."""
        self.state = State.FLOGI
        self.flogi_tries += 1
        login = els.encode_login(els.FLOGI, self.wwpn, self.wwnn, self.max_payload, fabric=True)
        self._els(fip.DESC_FLOGI, login, 0, bytes(6))
        self.flogi_at = now + FLOGI_TIMEOUT

    def _keep_alive(self, vn_port: bool) -> None:
        """FIP Keep Alive (FC-BB-6 7.8.6): the ENode's from its MAC, the VN_Port's from its FPMA."""
        assert self.fcf is not None
        descs = [fip.mac_desc(self.enode_mac)]
        if vn_port:
            descs.append(fip.vn_id_desc(VnId(self.vn_mac, self.port_id, self.wwpn)))
        src = self.vn_mac if vn_port else self.enode_mac
        self._fip(self.fcf.mac, fip.OP_CTRL, fip.CTRL_KEEP_ALIVE, descs, src)

    # -- timers --------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        self._solicit(now)

    def tick(self, now: float) -> float:
        """Run the timers due at ``now``; returns the next deadline."""
        if self.state is State.STOPPED:
            return float("inf")
        self._age(now)
        if self.state is State.SOLICIT:
            if now >= self.select_at:
                self._select(now)
            elif now >= self.solicit_at and not any(f.usable for f in self.fcfs):
                self._solicit(now)
        elif self.state is State.FLOGI and now >= self.flogi_at:
            self._count("flogi_timeout")
            self._flogi_failed(now, "no answer")
        elif self.logged_in:
            self._logged_in_timers(now)
        return self._next_deadline()

    def _logged_in_timers(self, now: float) -> None:
        if now >= self.ka_at:
            self._keep_alive(vn_port=False)
            self.ka_at = now + self.fcf.fka_period if self.fcf else float("inf")
        if now >= self.vn_ka_at:
            self._keep_alive(vn_port=True)
            self.vn_ka_at = now + VN_KEEP_ALIVE
        reg = self.registration
        if reg is not None and self.state is State.REGISTER:
            reg.tick(now)
            self._registration_progress(now)

    def _next_deadline(self) -> float:
        times = [fcf.lost_at for fcf in self.fcfs]
        if self.state is State.SOLICIT:
            times.append(self.select_at)
            if not any(f.usable for f in self.fcfs):
                times.append(self.solicit_at)
        elif self.state is State.FLOGI:
            times.append(self.flogi_at)
        elif self.logged_in:
            times += [self.ka_at, self.vn_ka_at]
            if self.registration is not None and self.state is State.REGISTER:
                times.append(self.registration.deadline)
        return min(times)

    def _age(self, now: float) -> None:
        """Forget FCFs silent for 2.5 FKA_ADV_Periods; losing the selected one ends the login."""
        for fcf in [f for f in self.fcfs if now >= f.lost_at]:
            self._count("fcf_aged_out")
            if fcf is self.fcf:
                self._count("fcf_lost")
                self._restart(now, f"FCF {mac_str(fcf.mac)} lost (no advertisement)")
                return
            self.fcfs.remove(fcf)

    def _select(self, now: float) -> None:
        self.select_at = float("inf")
        fcf = best(self.fcfs)
        if fcf is None:
            self._solicit(now)
            return
        self.fcf = fcf
        self.flogi_tries = 0
        log.info(
            "fabric: FCF %s (switch %016x, fabric %016x, priority %d) selected",
            mac_str(fcf.mac),
            fcf.switch_name,
            fcf.fabric_name,
            fcf.priority,
        )
        self._flogi(now)

    def _flogi_failed(self, now: float, why: str) -> None:
        if self.flogi_tries < FLOGI_TRIES:
            self._flogi(now)
            return
        self._restart(now, f"FLOGI failed: {why}")

    def _restart(self, now: float, why: str) -> None:
        """Drop the login and the FCFs and discover again (fcoe_ctlr_reset)."""
        if self.logged_in:
            log.warning("fabric: VN_Port %06x logged out: %s", self.port_id, why)
            self.events.append("logout")
        else:
            log.info("fabric: %s; discovering again", why)
        self.state = State.SOLICIT
        self.fcfs.clear()
        self.fcf = None
        self.port_id = 0
        self.vn_mac = bytes(6)
        self.registration = None
        self.select_at = self.flogi_at = self.ka_at = self.vn_ka_at = float("inf")
        self._solicit(now)

    def stop(self, now: float) -> None:
        """FIP LOGO of the VN_Port (FC-BB-6 7.8.9.9), then nothing more."""
        if self.logged_in:
            self._els(fip.DESC_LOGO, els.logo(self.port_id, self.wwpn), self.port_id, self.vn_mac)
            self.events.append("logout")
        self.state = State.STOPPED

    # -- receiving -----------------------------------------------------------------------------
    def receive(self, frame: FipFrame, now: float) -> None:
        """One FIP frame of the discovery, link service or control protocols."""
        if frame.src_mac == self.enode_mac or self.state is State.STOPPED:
            return
        kind = (frame.op, frame.subcode)
        if kind == (fip.OP_DISCOVERY, fip.DISC_ADVERTISE):
            self._advertisement(frame, now)
        elif kind == (fip.OP_LS, fip.LS_REPLY):
            self._ls_reply(frame, now)
        elif kind == (fip.OP_CTRL, fip.CTRL_CLEAR_VLINKS):
            self._clear_virtual_links(frame, now)
        else:
            self._count("fip_unsupported")

    def _advertisement(self, frame: FipFrame, now: float) -> None:
        try:
            new = parse_advertisement(frame, now)
        except FrameError as err:
            self._count(err.reason)
            return
        known = next((f for f in self.fcfs if f.same(new)), None)
        if known is None:
            if len(self.fcfs) >= MAX_FCFS:
                self._count("fcf_limit")
                return
            self.fcfs.append(new)
            known = new
            log.info("fabric: FCF %s advertises fabric %016x", mac_str(new.mac), new.fabric_name)
        else:
            # fcoe_ctlr: once usable, an FCF's flags stay; the period and the D bit follow it.
            if not known.usable:
                known.flags = new.flags
            if known is self.fcf and self.ka_at != float("inf"):
                self.ka_at += new.fka_period - known.fka_period
            known.fka_period, known.no_keep_alive, known.seen = new.fka_period, new.no_keep_alive, now
            known.verified = known.verified or new.verified
        if not known.verified:
            self._solicit(now, known)
        if self.state is State.SOLICIT and known.usable and self.select_at == float("inf"):
            self.select_at = now + SELECT_DELAY
        if known is self.fcf and known.no_keep_alive:
            self.ka_at = float("inf")

    def _ls_reply(self, frame: FipFrame, now: float) -> None:
        found = frame.els()
        if (
            found is None
            or found[0] != fip.DESC_FLOGI
            or len(found[1]) < FC_HLEN + 4
            or self.state is not State.FLOGI
            or self.fcf is None
            or frame.src_mac != self.fcf.mac
        ):
            self._count("fip_ls_unexpected")
            return
        hdr = FcHeader.unpack(found[1])
        if hdr.ox_id != self._ox_id:
            self._count("fip_ls_unexpected")
            return
        if found[1][FC_HLEN] != els.LS_ACC:
            self._count("flogi_rejected")
            self._flogi_failed(now, "LS_RJT")
            return
        granted = frame.mac()
        if granted is None or granted != fip.fpma(self.fcf.fc_map, hdr.d_id) or not hdr.d_id:
            self._count("flogi_bad_mac")
            self._flogi_failed(now, "no FPMA granted")
            return
        self._logged_in(hdr.d_id, granted, now)

    def _logged_in(self, port_id: int, mac: bytes, now: float) -> None:
        assert self.fcf is not None
        self.state = State.REGISTER
        self.port_id, self.vn_mac = port_id, mac
        self.flogi_at = float("inf")
        self.ka_at = float("inf") if self.fcf.no_keep_alive else now + self.fcf.fka_period
        self.vn_ka_at = now + VN_KEEP_ALIVE
        log.info("fabric: logged in as %06x, MAC %s", port_id, mac_str(mac))
        self.events.append("login")
        self.registration = Registration(
            port_id, self.wwpn, self.wwnn, self.max_payload, self.symbolic_name, self.counters
        )
        self.registration.start(now)
        self._registration_progress(now)

    def receive_fc(self, hdr: FcHeader, payload: bytes | memoryview, now: float) -> None:
        """An FC frame from the name server (FFFFFC)."""
        if self.registration is None or self.state is not State.REGISTER:
            self._count("ns_unexpected")
            return
        self.registration.receive(hdr, payload, now)
        self._registration_progress(now)

    def _registration_progress(self, now: float) -> None:
        reg = self.registration
        assert reg is not None and self.fcf is not None
        for hdr, payload in reg.out:  # every request is whole words: no fill bytes
            self.out.append(b"".join(encode_fcoe(self.fcf.mac, self.vn_mac, hdr, [payload])))
        reg.out = []
        if reg.done:
            self.state = State.READY
            log.info("fabric: VN_Port %06x registered with the name server", self.port_id)
        elif reg.failed:
            self._restart(now, f"name server registration failed at {reg.step}")

    def _clear_virtual_links(self, frame: FipFrame, now: float) -> None:
        """Clear Virtual Links (FC-BB-6 7.8.6): from the selected FCF, naming this VN_Port or none."""
        fcf = self.fcf
        if (
            not self.logged_in
            or fcf is None
            or frame.src_mac != fcf.mac
            or frame.mac() != fcf.mac
            or frame.wwnn() != fcf.switch_name
        ):
            self._count("cvl_ignored")
            return
        vn_ids = frame.vn_ids()
        me = VnId(self.vn_mac, self.port_id, self.wwpn)
        if vn_ids and me not in vn_ids:
            self._count("cvl_other_vn_port")
            return
        self._count("cvl")
        self._restart(now, "Clear Virtual Links")
