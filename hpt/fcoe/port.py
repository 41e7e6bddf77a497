"""A local FCoE target port, sans-I/O: FIP addressing (VN2VN, or fabric login behind an FCF), FC
logins, ELS/BLS and FCP on one :class:`ScsiTarget`.

In VN2VN mode FC frames go to the peers' VN MACs; in fabric mode every FC frame goes to the
selected FCF's MAC from the FPMA the fabric granted, and the port ID is the one of the FLOGI accept.

The driver feeds received Ethernet frames (:meth:`FcoePort.receive`; or, to have a write's data land
in its buffer, receives where :meth:`FcoePort.landing` says and calls :meth:`FcoePort.receive_landed`)
and the clock (:meth:`FcoePort.tick`), sends what :meth:`FcoePort.take_output` gives (each frame a
scatter list of buffers) and then calls :meth:`FcoePort.transmitted` so that ring slots lent to data
frames go back. Every malformed or unexpected frame is dropped or rejected as FC-LS-3 says and counted in
``counters``.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Iterable

from hpt.fcoe import els, fip
from hpt.fcoe.exchange import FcpEngine
from hpt.fcoe.fabric import Fabric
from hpt.fcoe.fcp import decode_cmnd
from hpt.fcoe.fip import FipFrame, decode_fip
from hpt.fcoe.frame import (
    EOF_T,
    ETH_HLEN,
    ETH_P_FCOE,
    ETH_P_FIP,
    F_END_SEQ,
    F_EX_CTX,
    F_FIRST_SEQ,
    F_LAST_SEQ,
    F_SEQ_INIT,
    FC_HLEN,
    FC_MAX_PAYLOAD,
    FCOE_HLEN,
    HEAD_LEN,
    R_CTL_ABTS,
    R_CTL_BA_ACC,
    R_CTL_BA_RJT,
    R_CTL_CMND,
    R_CTL_DATA,
    R_CTL_ELS_REP,
    R_CTL_ELS_REQ,
    SOF_I3,
    TRAILER_LEN,
    TYPE_BLS,
    TYPE_ELS,
    TYPE_FCP,
    UNASSIGNED_ID,
    FcFrame,
    FcHeader,
    FrameError,
    decode_fcoe,
    decode_fcoe_parts,
    encode_fcoe,
    mac_str,
    wwn_str,
)
from hpt.fcoe.nameserver import DIRECTORY_SERVER
from hpt.fcoe.rport import RemotePort, make_rport
from hpt.fcoe.vn2vn import State, Vn2vn
from hpt.native.ring import Ring
from hpt.scsi.target import ScsiTarget

log = logging.getLogger("hpt.fcoe")

Frame = list[bytes | memoryview]
ELS_REPLY_F_CTL = F_EX_CTX | F_LAST_SEQ | F_END_SEQ | F_SEQ_INIT
MAX_PENDING_REQUESTS = 64
FABRIC_F_PORT = 0xFFFFFE  # FC-FS-4 table 31: the F_Port Controller a fabric LOGO is sent to
#: This port's PLOGI (sent when its WWPN is the higher) waits a little after the FLOGI accept, so
#: that it does not overtake it (Linux answers a PLOGI with LS_RJT "logical busy" until then), and
#: is retried after a reject.
PLOGI_DELAY, PLOGI_RETRY, PLOGI_TRIES = 0.05, 1.0, 5


class FcoePort:
    """One ENode with one VN_Port serving ``target``'s LUNs to the initiators in ``initiators``
    (WWPNs; empty: any); ``mode`` is ``"vn2vn"`` or ``"fabric"``."""

    def __init__(
        self,
        name: str,
        enode_mac: bytes,
        wwnn: int,
        wwpn: int,
        target: ScsiTarget,
        ring: Ring | None = None,
        *,
        mtu: int = 9000,
        initiators: Iterable[int] = (),
        vlan: int = 0,
        rng: random.Random | None = None,
        mode: str = "vn2vn",
    ) -> None:
        self.name = name
        self.enode_mac = enode_mac
        self.wwnn = wwnn
        self.wwpn = wwpn
        self.target = target
        self.allowed = frozenset(initiators)
        self.max_payload = min(FC_MAX_PAYLOAD, mtu - FCOE_HLEN - FC_HLEN - TRAILER_LEN) & ~3
        if self.max_payload < 256:
            raise ValueError(f"{name}: MTU {mtu} is too small for FCoE")
        self.counters: dict[str, int] = {}  # frames dropped or rejected, FIP events, by reason
        self.frames_in = self.frames_out = 0  # Ethernet frames received and sent
        max_size = self.max_payload + FCOE_HLEN + FC_HLEN + TRAILER_LEN
        self.vn: Vn2vn | None = None
        self.fabric: Fabric | None = None
        self.fip_machine: Vn2vn | Fabric
        if mode == "vn2vn":
            self.vn = self.fip_machine = Vn2vn(enode_mac, wwnn, wwpn, max_size, rng, vlan, self.counters)
        elif mode == "fabric":
            enode = fip.Enode(enode_mac, wwnn, wwpn, max_size)
            symbolic = f"hpt {target.name} {name}"
            self.fabric = self.fip_machine = Fabric(enode, self.max_payload, symbolic, self.counters)
        else:
            raise ValueError(f"{name}: unknown FCoE mode {mode!r}")
        self.rports: dict[int, RemotePort] = {}
        self.requests: dict[int, tuple[int, int]] = {}  # our OX_ID: (ELS command, remote port ID)
        self.engine = FcpEngine(target, ring, self._emit, lambda: self.port_id, self.counters)
        self.out: list[Frame] = []
        self._in_flight: list[tuple[int, int]] = []
        self._ox_id = 0
        self.now = 0.0
        self.plogi_due: dict[int, tuple[float, int]] = {}  # remote port ID: (when, tries left)
        self._plogi_tries: dict[int, int] = {}  # PLOGIs in flight: retries left after a reject

    @property
    def port_id(self) -> int:
        """This VN_Port's FC_ID (0 before the fabric login)."""
        return self.fip_machine.port_id

    @property
    def local_mac(self) -> bytes:
        """The source MAC of this port's FC frames: its VN MAC, or the FPMA granted by the fabric."""
        return self.fip_machine.vn_mac

    def _mac_of(self, port_id: int) -> bytes:
        """Where FC frames for ``port_id`` go: its VN MAC, or in fabric mode the FCF."""
        if self.fabric is not None:
            return self.fabric.fcf.mac if self.fabric.fcf is not None else bytes(6)
        return fip.vn_mac(port_id)

    # -- driver interface ----------------------------------------------------------------------
    def start(self, now: float) -> None:
        self.fip_machine.start(now)
        self._collect()

    def tick(self, now: float) -> float:
        """Run the timers; returns the time of the next one."""
        self.now = now
        deadline = self.fip_machine.tick(now)
        for port_id, (when, tries) in list(self.plogi_due.items()):
            if when <= now:
                del self.plogi_due[port_id]
                self._send_plogi(port_id, tries - 1)
        self.engine.drain()
        self._collect()
        return min([deadline, *(when for when, _ in self.plogi_due.values())])

    def receive(self, data: bytes | memoryview, now: float) -> None:
        """One Ethernet frame (FIP or FCoE) from the wire."""
        self.now = now
        self.frames_in += 1
        try:
            ethertype = struct.unpack_from(">H", data, 12)[0] if len(data) >= 14 else -1
            if ethertype == ETH_P_FIP:
                self._fip(decode_fip(data), now)
            elif ethertype == ETH_P_FCOE:
                self._fcoe(decode_fcoe(data))
            else:
                self._count("not_fcoe")
        except FrameError as err:
            self._dropped(err)
        self.engine.drain()
        self._collect()

    def _dropped(self, err: FrameError) -> None:
        self._count(err.reason)
        log.debug("%s: dropped frame: %s", self.name, err)

    def landing(self) -> memoryview | None:
        """Where the payload of the FCP_DATA frame most likely next belongs (its write's buffer, at the
        offset expected): a driver that receives a frame's first ``HEAD_LEN`` bytes into a buffer of
        its own and the rest there, then calls :meth:`receive_landed`, moves write data without a copy.
        None when no write waits for data (receive as usual)."""
        return self.engine.landing()

    def receive_landed(self, head: memoryview, landing: memoryview, tail: memoryview, n: int,
                       now: float) -> None:
        """An ``n``-byte Ethernet frame received scattered: ``HEAD_LEN`` bytes in ``head``, then up to
        ``len(landing)`` in ``landing`` (what :meth:`landing` gave), the rest in ``tail``. An FCoE data
        frame whose payload is all in ``landing`` is taken where it is; any other frame is joined (one
        copy, as :meth:`receive` would have had) and handled as :meth:`receive` does."""
        body = n - HEAD_LEN - TRAILER_LEN
        if (0 <= body <= len(landing) and struct.unpack_from(">H", head, 12)[0] == ETH_P_FCOE
                and head[ETH_HLEN + FCOE_HLEN] == R_CTL_DATA):
            trailer = bytes(landing[body:body + TRAILER_LEN])
            trailer += bytes(tail[:TRAILER_LEN - len(trailer)])
            self.now = now
            self.frames_in += 1
            try:
                self._fcoe(decode_fcoe_parts(head, landing[:body], trailer), landed=True)
            except FrameError as err:
                self._dropped(err)
            self.engine.drain()
            self._collect()
            return
        rest = max(0, n - HEAD_LEN)
        self.receive(b"".join((head[:n], landing[:rest], tail[:max(0, rest - len(landing))])), now)

    def take_output(self) -> list[Frame]:
        """The frames to send now; call :meth:`transmitted` once they are sent."""
        out, self.out = self.out, []
        self.frames_out += len(out)
        self._in_flight += self.engine.release
        self.engine.release = []
        return out

    def transmitted(self) -> None:
        """The frames last taken are on the wire: their ring slots are free again."""
        for slot, size in self._in_flight:
            self.engine.free(slot, size)
        self._in_flight = []

    def stop(self) -> None:
        """Log out every remote port (LOGO) and forget them; in fabric mode then log out of the fabric."""
        for rport in list(self.rports.values()):
            self._request(rport.port_id, els.logo(self.port_id, self.wwpn))
            self._drop(rport, "port stopping")
        if self.fabric is not None:
            self.fabric.stop(self.now)
            self._collect()

    def status(self) -> dict[str, object]:
        """What hptd reports about this port."""
        status: dict[str, object] = {
            "name": self.name,
            "mode": "vn2vn" if self.vn is not None else "fabric",
            "wwpn": wwn_str(self.wwpn),
            "port_id": f"{self.port_id:06x}",
            "state": self.fip_machine.state.value,
        }
        if self.vn is not None:
            status["peers"] = len(self.vn.peers)
        elif self.fabric is not None:
            status["fcf"] = fcf_status(self.fabric)
        status["rports"] = [
            {"wwpn": wwn_str(r.wwpn), "port_id": f"{r.port_id:06x}", "state": r.state}
            for r in self.rports.values()
        ]
        status["counters"] = dict(self.counters)
        return status

    # -- internals -----------------------------------------------------------------------------
    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _collect(self) -> None:
        self.out += [[frame] for frame in self.fip_machine.out]
        self.fip_machine.out = []
        if self.fabric is not None:
            if "logout" in self.fabric.events:  # the VN_Port is gone: so are its logins
                for rport in list(self.rports.values()):
                    self._drop(rport, "fabric login lost")
            self.fabric.events = []
            return
        assert self.vn is not None
        for event, peer in self.vn.events:
            rport = self.rports.get(peer.port_id)
            if event == "gone" and rport is not None:
                self._drop(rport, "peer gone")
            elif event == "up":
                log.info("%s: VN2VN peer %s at %06x", self.name, wwn_str(peer.wwpn), peer.port_id)
        self.vn.events = []

    def _emit(
        self, rport: RemotePort, header: FcHeader, parts: list[bytes | memoryview], sof: int, eof: int
    ) -> None:
        self._emit_to(self._mac_of(rport.port_id), header, parts, sof, eof)

    def _emit_to(
        self, dst_mac: bytes, header: FcHeader, parts: list[bytes | memoryview], sof: int, eof: int
    ) -> None:
        fill = -sum(len(p) for p in parts) % 4
        if fill:  # FC-FS-4 10.1: fill bytes end the last frame of a sequence
            parts = [*parts, bytes(fill)]
            header.f_ctl |= fill
        self.out.append(encode_fcoe(dst_mac, self.local_mac, header, parts, sof, eof))

    def _allowed(self, wwpn: int) -> bool:
        return not self.allowed or wwpn in self.allowed

    def _drop(self, rport: RemotePort, why: str) -> None:
        if self.rports.pop(rport.port_id, None) is None:
            return
        self.engine.abort_all(rport)
        self.target.nexus_lost(rport.nexus)
        log.info(
            "%s: remote port %s (%06x) logged out: %s", self.name, wwn_str(rport.wwpn), rport.port_id, why
        )

    # -- FIP -----------------------------------------------------------------------------------
    def _fip(self, frame: FipFrame, now: float) -> None:
        if self.fabric is not None:
            self.fabric.receive(frame, now)
        elif frame.op in (fip.OP_VN2VN, fip.OP_VLAN):
            self.fip_machine.receive(frame, now)
        elif frame.op == fip.OP_LS and frame.subcode == fip.LS_REQUEST:
            self._fip_els(frame)
        else:
            self._count("fip_unsupported")

    def _fip_els(self, frame: FipFrame) -> None:
        """An ELS carried in FIP (FC-BB-6 7.8.9.7). In VN2VN: FLOGI between VN_Ports, and the LOGO
        Linux sends in FIP when its FCoE interface goes away."""
        found = frame.els()
        if found is None or len(found[1]) < FC_HLEN + 4 or found[0] not in (fip.DESC_FLOGI, fip.DESC_LOGO):
            self._count("fip_els_unsupported")
            return
        kind = found[0]
        hdr = FcHeader.unpack(found[1])
        payload = memoryview(found[1])[FC_HLEN:]
        wanted = els.FLOGI if kind == fip.DESC_FLOGI else els.LOGO
        if (
            hdr.r_ctl != R_CTL_ELS_REQ
            or payload[0] != wanted
            or hdr.d_id not in (self.port_id, FABRIC_F_PORT)
        ):
            self._count("fip_els_unsupported")
            return
        if kind == fip.DESC_FLOGI:
            reply_hdr, reply = self._flogi(hdr, payload)
        else:
            self._count("els_LOGO")
            rport = self.rports.get(hdr.s_id)
            if rport is not None:
                self._drop(rport, "LOGO")
            reply_hdr, reply = self._reply_header(hdr, R_CTL_ELS_REP, TYPE_ELS), els.ls_acc()
        descs = [fip.els_desc(kind, reply_hdr.pack() + reply), fip.mac_desc(self.local_mac)]
        self.out.append([fip.encode_fip(frame.src_mac, self.enode_mac, fip.OP_LS, fip.LS_REPLY, descs)])

    def _flogi(self, hdr: FcHeader, payload: memoryview) -> tuple[FcHeader, bytes]:
        """FLOGI between VN_Ports (FC-BB-6 7.8.7; as in point-to-point, FC-LS-3 6.2): LS_ACC with this
        port's parameters; the port with the higher WWPN then sends PLOGI (as Linux libfc expects)."""
        reply_hdr = self._reply_header(hdr, R_CTL_ELS_REP, TYPE_ELS)
        try:
            login = els.decode_login(payload)
        except FrameError:
            self._count("bad_els")
            return reply_hdr, els.ls_rjt(els.RJT_PROTOCOL, els.EXPL_INVALID_LENGTH)
        if not self._allowed(login.wwpn):
            self._count("initiator_not_allowed")
            return reply_hdr, els.ls_rjt(els.RJT_UNABLE, els.EXPL_INSUFFICIENT_RESOURCES)
        if self.wwpn > login.wwpn:
            self.plogi_due[hdr.s_id] = (self.now + PLOGI_DELAY, PLOGI_TRIES)
        return reply_hdr, els.encode_login(els.LS_ACC, self.wwpn, self.wwnn, self.max_payload, fabric=True)

    # -- FC frames -----------------------------------------------------------------------------
    def _fcoe(self, frame: FcFrame, landed: bool = False) -> None:
        hdr = frame.header
        if not self._from_known_port(frame):
            return
        if self.fabric is not None and hdr.s_id == DIRECTORY_SERVER:
            self.fabric.receive_fc(hdr, frame.payload, self.now)
            return
        kind = (hdr.r_ctl, hdr.type)
        rport = self.rports.get(hdr.s_id)
        if kind == (R_CTL_ELS_REQ, TYPE_ELS):
            self._els_request(hdr, frame.payload, rport)
        elif kind == (R_CTL_ELS_REP, TYPE_ELS):
            self._els_reply(hdr, frame.payload)
        elif kind == (R_CTL_ABTS, TYPE_BLS):
            self._abts(hdr, rport)
        elif hdr.type == TYPE_FCP and hdr.r_ctl in (R_CTL_CMND, R_CTL_DATA):
            if rport is None or not rport.prli:
                # FC-LS-3 6.3: frames from a port without a login are discarded and answered with LOGO.
                self._count("fcp_not_logged_in")
                self._request(hdr.s_id, els.logo(self.port_id, self.wwpn))
            elif hdr.r_ctl == R_CTL_CMND:
                self.engine.command(rport, hdr, decode_cmnd(frame.payload))
            else:
                self.engine.data(rport, hdr, frame.payload, landed)
        else:
            self._count("unsupported_frame")

    def _from_known_port(self, frame: FcFrame) -> bool:
        """An FC frame for this VN_Port from a peer it knows (VN2VN) or through its FCF (fabric)."""
        hdr = frame.header
        here = hdr.d_id == self.port_id and frame.dst_mac == self.local_mac
        if self.fabric is not None:
            fcf = self.fabric.fcf
            if not (here and self.fabric.logged_in and fcf is not None):
                self._count("not_for_us")
                return False
            if frame.src_mac != fcf.mac:
                self._count("not_from_fcf")
                return False
            return True
        assert self.vn is not None
        if not (here and self.vn.state in (State.CLAIM, State.UP)):
            self._count("not_for_us")
            return False
        if hdr.s_id not in self.vn.peers or frame.src_mac != fip.vn_mac(hdr.s_id):
            self._count("unknown_peer")
            return False
        # A peer busy sending FC frames is alive even when its beacons are late (a loaded guest
        # delays Linux's beacon timer behind I/O).
        self.vn.peers[hdr.s_id].last_seen = self.now
        return True

    def _reply_header(
        self, req: FcHeader, r_ctl: int, fc_type: int, f_ctl: int = ELS_REPLY_F_CTL
    ) -> FcHeader:
        return FcHeader(r_ctl, req.s_id, self.port_id, fc_type, f_ctl, 0, 0, req.ox_id, req.rx_id)

    def _reply(
        self, req: FcHeader, r_ctl: int, fc_type: int, payload: bytes, f_ctl: int = ELS_REPLY_F_CTL
    ) -> None:
        self._emit_to(
            self._mac_of(req.s_id), self._reply_header(req, r_ctl, fc_type, f_ctl), [payload], SOF_I3, EOF_T
        )

    def _request(self, port_id: int, payload: bytes) -> None:
        """An ELS request from this port (a new exchange it originates)."""
        self._ox_id = (self._ox_id + 1) % UNASSIGNED_ID
        if len(self.requests) >= MAX_PENDING_REQUESTS:
            self.requests.pop(next(iter(self.requests)))
        self.requests[self._ox_id] = (payload[0], port_id)
        hdr = FcHeader(
            R_CTL_ELS_REQ,
            port_id,
            self.port_id,
            TYPE_ELS,
            F_FIRST_SEQ | F_END_SEQ | F_SEQ_INIT,
            0,
            0,
            self._ox_id,
            UNASSIGNED_ID,
        )
        self._emit_to(self._mac_of(port_id), hdr, [payload], SOF_I3, EOF_T)

    # -- ELS -----------------------------------------------------------------------------------
    def _els_request(self, hdr: FcHeader, payload: memoryview, rport: RemotePort | None) -> None:
        if len(payload) < 4:
            self._count("bad_els")
            self._reply(hdr, R_CTL_ELS_REP, TYPE_ELS, els.ls_rjt(els.RJT_PROTOCOL, els.EXPL_INVALID_LENGTH))
            return
        cmd = payload[0]
        self._count(f"els_{els.NAMES.get(cmd, 'unknown')}")
        try:
            reply = self._els_answer(cmd, hdr, payload, rport)
        except FrameError as err:
            self._count(err.reason)
            reply = els.ls_rjt(els.RJT_PROTOCOL, els.EXPL_INVALID_LENGTH)
        self._reply(hdr, R_CTL_ELS_REP, TYPE_ELS, reply)

    def _els_answer(self, cmd: int, hdr: FcHeader, payload: memoryview, rport: RemotePort | None) -> bytes:
        """The reply to one ELS request (FC-LS-3 4.3)."""
        if cmd == els.FLOGI:
            return self._flogi(hdr, payload)[1]
        if cmd == els.PLOGI:
            return self._plogi(hdr, payload)
        if cmd in (els.LOGO, els.RSCN):
            if cmd == els.LOGO and rport is not None:
                self._drop(rport, "LOGO")
            return els.ls_acc()
        if cmd == els.RTV:
            return els.rtv_acc()
        if cmd not in (els.PRLI, els.PRLO, els.ADISC, els.RRQ, els.REC):
            return els.ls_rjt(els.RJT_NOT_SUPPORTED)
        if rport is None:
            return els.ls_rjt(els.RJT_UNABLE, els.EXPL_LOGIN_REQUIRED)
        if cmd == els.PRLI:
            return self._prli(rport, payload)
        if cmd == els.PRLO:
            return self._prlo(rport, payload)
        if cmd == els.ADISC:
            return els.adisc_acc(self.wwpn, self.wwnn, self.port_id)
        if cmd == els.RRQ:
            return els.ls_acc()
        return self._rec(rport, payload)

    def _plogi(self, hdr: FcHeader, payload: memoryview) -> bytes:
        """PLOGI (FC-LS-3 4.3.26): an implicit logout of an earlier login, then LS_ACC."""
        login = els.decode_login(payload)
        if not self._allowed(login.wwpn):
            self._count("initiator_not_allowed")
            log.warning("%s: PLOGI from %s refused (not in initiators)", self.name, wwn_str(login.wwpn))
            return els.ls_rjt(els.RJT_UNABLE, els.EXPL_INSUFFICIENT_RESOURCES)
        if not login.class3 or login.rx_size < 256:
            return els.ls_rjt(els.RJT_UNABLE, els.EXPL_NONE)
        self._login(hdr.s_id, login)
        return els.encode_login(els.LS_ACC, self.wwpn, self.wwnn, self.max_payload)

    def _login(self, port_id: int, login: els.Login) -> None:
        old = self.rports.get(port_id)
        if old is not None:
            self._drop(old, "new PLOGI")
        size = min(self.max_payload, login.rx_size) & ~3
        self.rports[port_id] = make_rport(port_id, login.wwpn, login.wwnn, size, self.wwpn)
        log.info("%s: remote port %s (%06x) logged in", self.name, wwn_str(login.wwpn), port_id)

    def _prli(self, rport: RemotePort, payload: memoryview) -> bytes:
        """PRLI (FCP-4 6.3): an image pair for type 8 with this port as target, never initiator."""
        pages = []
        for page in els.decode_pages(payload):
            if page.fc4_type == fip.FC4_TYPE_FCP and page.params & els.FCP_SPPF_INIT_FCN:
                rport.prli = True
                pages.append(
                    els.ServicePage(
                        page.fc4_type,
                        els.SPP_EST_IMAGE_PAIR | els.SPP_RESP_ACCEPTED,
                        els.FCP_SPPF_TARG_FCN | els.FCP_SPPF_RD_XRDY_DIS,
                    )
                )
            else:
                pages.append(els.ServicePage(page.fc4_type, els.SPP_RESP_INVALID_PARAMS, 0))
        if rport.prli:
            log.info("%s: remote port %s: FCP image pair established", self.name, wwn_str(rport.wwpn))
        return els.encode_pages(els.LS_ACC, pages)

    def _prlo(self, rport: RemotePort, payload: memoryview) -> bytes:
        """PRLO (FC-LS-3 4.3.22): the image pair goes, with its tasks."""
        pages = els.decode_pages(payload)
        if rport.prli and any(p.fc4_type == fip.FC4_TYPE_FCP for p in pages):
            rport.prli = False
            self.engine.abort_all(rport)
            self.target.nexus_lost(rport.nexus)
        return els.encode_pages(
            els.LS_ACC, [els.ServicePage(p.fc4_type, els.SPP_RESP_ACCEPTED, 0) for p in pages]
        )

    def _rec(self, rport: RemotePort, payload: memoryview) -> bytes:
        """REC (FC-LS-3 4.3.25): the state of an exchange this port still holds open."""
        originator, ox_id, _rx_id = els.rec_request(payload)
        ex = self.engine.find(originator, ox_id)
        if ex is None:
            return els.ls_rjt(els.RJT_LOGICAL, els.EXPL_INVALID_OX_RX)
        return els.rec_acc(ox_id, ex.rx_id, originator, self.port_id, ex.received, 0)

    def _els_reply(self, hdr: FcHeader, payload: memoryview) -> None:
        """The answer to an ELS this port sent: an accepted PLOGI logs the remote port in."""
        request = self.requests.pop(hdr.ox_id, None)
        if request is None or len(payload) < 4:
            self._count("els_reply_unexpected")
            return
        cmd, port_id = request
        if cmd != els.PLOGI or port_id != hdr.s_id:
            return
        if payload[0] != els.LS_ACC:
            tries = self._plogi_tries.pop(port_id, 0)
            log.info("%s: PLOGI to %06x rejected%s", self.name, port_id, ", retrying" if tries else "")
            if tries:
                self.plogi_due[port_id] = (self.now + PLOGI_RETRY, tries)
            return
        self._plogi_tries.pop(port_id, None)
        self._login(port_id, els.decode_login(payload))

    def _send_plogi(self, port_id: int, tries_left: int) -> None:
        if self.vn is not None and port_id in self.vn.peers and port_id not in self.rports:
            self._plogi_tries[port_id] = tries_left
            self._request(port_id, els.encode_login(els.PLOGI, self.wwpn, self.wwnn, self.max_payload))

    # -- BLS -----------------------------------------------------------------------------------
    def _abts(self, hdr: FcHeader, rport: RemotePort | None) -> None:
        """ABTS (FC-LS-3 4.2.2): abort the command's exchange, BA_ACC; BA_RJT for an unknown one."""
        self._count("abts")
        rx_id = self.engine.abort(rport, hdr.ox_id) if rport is not None else None
        f_ctl = F_EX_CTX | F_LAST_SEQ | F_END_SEQ
        if rx_id is not None:
            self._reply(hdr, R_CTL_BA_ACC, TYPE_BLS, els.ba_acc(hdr.ox_id, rx_id), f_ctl)
        else:
            self._reply(
                hdr, R_CTL_BA_RJT, TYPE_BLS, els.ba_rjt(els.BA_RJT_LOGICAL, els.BA_EXPL_INVALID_OX_RX), f_ctl
            )


def fcf_status(fabric: Fabric) -> dict[str, object]:
    """The selected FCF as hptd reports it (MAC, switch and fabric names, login state)."""
    fcf = fabric.fcf
    if fcf is None:
        return {"mac": "", "name": "", "fabric": "", "state": fabric.state.value, "known": len(fabric.fcfs)}
    return {
        "mac": mac_str(fcf.mac),
        "name": wwn_str(fcf.switch_name),
        "fabric": wwn_str(fcf.fabric_name),
        "priority": fcf.priority,
        "state": fabric.state.value,
    }
