"""A small FCF for tests that serves several ENodes, each on its own link (FC-BB-6 7.8, the FCF side).

It advertises on every link (multicast every FKA_ADV_Period, unicast and solicited to each Discovery
Solicitation), accepts each ENode's FIP FLOGI with an FC_ID and FPMA of its own and FIP LOGO, takes
Keep Alives, runs the name server (PLOGI, registrations, GPN_FT/GID_FT/GPN_ID/GNN_ID/GFF_ID; FC-GS-7
5.2), the fabric controller (SCR) and an accepting management server, and switches every other FC
frame by D_ID: Ethernet source the FCF's MAC, destination the FPMA of the N_Port with that D_ID.

It also sends Clear Virtual Links (FC-BB-6 7.8.6) on demand. ``FcfSwitch`` is sans-I/O (frames in
with ``receive``, out in ``out`` as (link, frame)); ``FcfThread`` runs it on AF_PACKET sockets, and
``FcfHarness`` in process with hptd on link 0 (any ``Link``) and a scapy ENode on link 1.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from scapy.layers.l2 import Ether
from scapy.packet import Packet

from tests.fcoe import layers as ly
from tests.fcoe.initiator import Initiator, Link

FCF_MAC = "52:54:00:fc:f0:02"
SWITCH_NAME, FABRIC_NAME = 0x2001525400FCF002, 0x1001525400FCF002
FC_MAP = 0x0EFC00
DOMAIN = 0x020000  # FC_IDs 020001, 020002, ... in the order ENodes first log in
TARGET_ID, INITIATOR_ID = DOMAIN + 1, DOMAIN + 2  # in FcfHarness: hptd logs in first, the scapy ENode after
FKA_MS = 4000
DIRECTORY, CONTROLLER, MANAGEMENT, F_PORT = 0xFFFFFC, 0xFFFFFD, 0xFFFFFA, 0xFFFFFE
R_CTL_ELS_REP, R_CTL_CT_REP = 0x23, 0x03
TYPE_ELS, TYPE_CT = 0x01, 0x20
FS_ACC, FS_RJT = 0x8002, 0x8001
# FC-GS-7 table 186: name server queries and registrations.
GPN_ID, GNN_ID, GFF_ID, GID_FT, GPN_FT = 0x0112, 0x0113, 0x011F, 0x0171, 0x0172
RFT_ID, RFF_ID = 0x0217, 0x021F
REPLY_F_CTL = 0x990000  # exchange responder, last and end of sequence, initiative transferred


@dataclass
class NPort:
    """One ENode's N_Port as the fabric knows it after its FLOGI."""

    link: int
    enode: str
    port_id: int
    wwpn: int
    wwnn: int
    fc4_types: bytes = bytes(32)
    fc4_features: bytes = bytes(128)

    @property
    def fpma(self) -> str:
        return ly.vn_mac(self.port_id, FC_MAP)

    @property
    def fpma_raw(self) -> bytes:
        return (FC_MAP << 24 | self.port_id).to_bytes(6, "big")

    def has_type(self, fc4_type: int) -> bool:
        """FC-GS-7 5.2.5.29: bit ``type % 32`` of word ``type // 32`` of the FC-4 TYPEs object."""
        word = struct.unpack_from(">I", self.fc4_types, 4 * (fc4_type // 32))[0]
        return bool(word >> (fc4_type % 32) & 1)


@dataclass
class Log:
    """What the fabric saw, for assertions: FIP and service requests as short strings, in order."""

    events: list[str] = field(default_factory=list)
    links: list[int] = field(default_factory=list, repr=False)  # the link of each event
    switched: int = 0
    dropped: int = 0

    def add(self, link: int, event: str) -> None:
        self.events.append(event)
        self.links.append(link)

    def on(self, link: int) -> list[str]:
        return [event for event, at in zip(self.events, self.links, strict=True) if at == link]


class FcfSwitch:
    """One FCF with ``links`` Ethernet ports; each ENode gets its own FC_ID in FLOGI order."""

    def __init__(self, links: int, fka_ms: int = FKA_MS) -> None:
        self.links = links
        self.fka = fka_ms / 1000
        self.ports: dict[int, NPort] = {}
        self.assigned: dict[str, int] = {}  # ENode MAC -> its FC_ID, kept across logins
        self.out: list[tuple[int, bytes]] = []
        self.log = Log()
        self.advertise_at = 0.0
        self._mac = bytes.fromhex(FCF_MAC.replace(":", ""))

    # -- FIP -----------------------------------------------------------------------------------
    def _advertise(self, link: int, dst: str = ly.ALL_ENODES) -> None:
        """Discovery Advertisement (FC-BB-6 7.8.3): solicited (S bit) when unicast."""
        flags = ly.FLAG_FPMA | ly.FLAG_AVAILABLE | ly.FLAG_FCF
        if dst != ly.ALL_ENODES:
            flags |= ly.FLAG_SOLICITED
        adv = ly.advertisement(FCF_MAC, SWITCH_NAME, FABRIC_NAME, 128, int(self.fka * 1000), flags, dst)
        self.out.append((link, bytes(adv)))

    def tick(self, now: float) -> float:
        """Multicast advertisements on every link once per FKA_ADV_Period; returns the next deadline."""
        if now >= self.advertise_at:
            for link in range(self.links):
                self._advertise(link)
            self.advertise_at = now + self.fka
        return self.advertise_at

    def receive(self, link: int, raw: bytes, now: float) -> None:
        if raw[12:14] == b"\x89\x06" and raw[:6] == self._mac and len(raw) >= 60:
            self._fc(link, raw)
            return
        pkt = Ether(raw)
        if ly.FIP in pkt:
            self._fip(link, pkt)

    def _fip(self, link: int, pkt: Packet) -> None:
        fip = pkt[ly.FIP]
        kind = (fip.op, fip.subcode)
        if kind == (1, 1):  # Discovery Solicitation (FC-BB-6 7.8.3)
            mac = fip.desc(2)
            enode = mac[:6].hex(":") if mac else pkt.src
            self.log.add(link, f"solicitation {enode}")
            self._advertise(link, enode)
        elif kind == (2, 1):  # ELS request in FIP (FC-BB-6 7.8.9.7)
            self._fip_els(link, pkt)
        elif kind == (3, 1):  # Keep Alive (FC-BB-6 7.8.6): the ENode's, or a VN_Port's with its ID
            who = "vn_port" if fip.desc(11) else "enode"
            self.log.add(link, f"keep-alive {who} {pkt.src}")

    def _fip_els(self, link: int, pkt: Packet) -> None:
        desc = pkt[ly.FIP].descriptors[0]
        request = ly.FC(bytes(desc.value)[2:])
        reply = ly.FC(
            r_ctl=R_CTL_ELS_REP,
            s_id=F_PORT,
            type=TYPE_ELS,
            f_ctl=REPLY_F_CTL,
            ox_id=request.ox_id,
            rx_id=0xFFFF,
        )
        if desc.type == 7:  # FLOGI: an FC_ID and its FPMA (FC-BB-6 7.8.9.7, table 47)
            login = ly.ELS_Login(bytes(request.payload))
            port_id = self.assigned.setdefault(pkt.src, DOMAIN + len(self.assigned) + 1)
            self.ports[port_id] = NPort(link, pkt.src, port_id, login.wwpn, login.wwnn)
            self.log.add(link, f"flogi {pkt.src} {port_id:06x}")
            reply.d_id = port_id
            # FLOGI LS_ACC (FC-LS-3 6.6.3): F_Port bit, R_A_TOV in place of the PLOGI sequence fields.
            acc = ly.ELS_Login(
                cmd=0x02,
                wwpn=SWITCH_NAME,
                wwnn=FABRIC_NAME,
                features=0x1000,
                concurrent_seqs=0,
                rel_off=10000,
            )
            frame = ly.fip_els_reply(FCF_MAC, pkt.src, 7, bytes(reply / acc), ly.vn_mac(port_id, FC_MAP))
        elif desc.type == 9:  # LOGO (FC-BB-6 7.8.9.9)
            gone = self.ports.pop(request.s_id, None)
            self.log.add(link, f"logo {pkt.src} {request.s_id:06x}" + ("" if gone else " unknown"))
            reply.d_id = request.s_id
            frame = ly.fip_els_reply(FCF_MAC, pkt.src, 9, bytes(reply) + b"\x02\0\0\0", pkt.src)
        else:
            self.log.add(link, f"fip els {desc.type} ignored")
            return
        self.out.append((link, bytes(frame)))

    def clear_virtual_links(self, enode: NPort, port_id: int, wwpn: int) -> None:
        """Clear Virtual Links (FC-BB-6 7.8.6) to ``enode``'s ENode naming the VN_Port ``port_id``;
        the fabric forgets that N_Port if it is the ENode's."""
        vn_id = ly.vn_id_d(port_id, wwpn, ly.vn_mac(port_id, FC_MAP))
        self.out.append(
            (enode.link, bytes(ly.clear_virtual_links(FCF_MAC, SWITCH_NAME, enode.enode, [vn_id])))
        )
        if port_id in self.ports and self.ports[port_id].enode == enode.enode:
            del self.ports[port_id]
        self.log.add(enode.link, f"cvl {enode.enode} {port_id:06x}")

    # -- FC ------------------------------------------------------------------------------------
    def _fc(self, link: int, raw: bytes) -> None:
        """An FCoE frame (FC-BB-6 7.2): the FC header's D_ID and S_ID follow the 28-byte headers."""
        d_id, s_id = int.from_bytes(raw[29:32], "big"), int.from_bytes(raw[33:36], "big")
        src = self.ports.get(s_id)
        if src is None or src.fpma_raw != raw[6:12] or src.link != link:
            self.log.dropped += 1
            return
        if d_id in (DIRECTORY, CONTROLLER, MANAGEMENT):
            self._service(src, Ether(raw)[ly.FC])
            return
        dst = self.ports.get(d_id)
        if dst is None:
            self.log.dropped += 1
            return
        self.log.switched += 1
        self.out.append((dst.link, dst.fpma_raw + self._mac + raw[12:]))

    def _service(self, src: NPort, fc: Packet) -> None:
        """Well-known addresses (FC-FS-4 table 31): ELS and CT requests answered by the fabric."""
        payload = bytes(fc.payload)
        if fc.type == TYPE_ELS:
            body = self._els(src.link, fc.d_id, payload)
            r_ctl = R_CTL_ELS_REP
        elif fc.type == TYPE_CT and len(payload) >= 16:
            body = self._ct(src, payload)
            r_ctl = R_CTL_CT_REP
        else:
            self.log.dropped += 1
            return
        reply = ly.FC(
            r_ctl=r_ctl,
            d_id=src.port_id,
            s_id=fc.d_id,
            type=fc.type,
            f_ctl=REPLY_F_CTL,
            ox_id=fc.ox_id,
            rx_id=0xFFFF,
        )
        frame = Ether(dst=src.fpma, src=FCF_MAC) / ly.FCoE() / reply / body
        self.out.append((src.link, bytes(frame)))

    def _els(self, link: int, d_id: int, payload: bytes) -> bytes:
        names = {0x03: "PLOGI", 0x05: "LOGO", 0x62: "SCR"}
        name = names.get(payload[0], f"ELS {payload[0]:02x}")
        self.log.add(link, f"{name} {d_id:06x}")
        if payload[0] == 0x03:  # the service's N_Port login (FC-LS-3 4.3.7)
            return bytes(ly.ELS_Login(cmd=0x02, wwpn=0x2000 << 48 | d_id, wwnn=0x1000 << 48 | d_id))
        if payload[0] in (0x05, 0x62):
            return b"\x02\0\0\0"
        return struct.pack(">B3xxBBx", 0x01, 0x0B, 0x00)  # LS_RJT: command not supported

    def _ct(self, src: NPort, payload: bytes) -> bytes:
        """FC-GS-7 4.3: the reply CT_IU echoes the request's GS type and subtype."""
        req = ly.CT(payload[:16])
        body = payload[16:]
        self.log.add(src.link, f"CT {req.gs_type:02x} {req.cmd:04x}")
        answer: bytes | None = b""
        if req.gs_type == 0xFC:
            answer = self._name_server(src, req.cmd, body)
        head = ly.CT(gs_type=req.gs_type, gs_subtype=req.gs_subtype, cmd=FS_ACC)
        if answer is None:  # FS_RJT: unable to perform, FC-4 TYPEs not registered (FC-GS-7 table 11)
            head = ly.CT(
                gs_type=req.gs_type, gs_subtype=req.gs_subtype, cmd=FS_RJT, reason=0x09, explanation=0x07
            )
            answer = b""
        return bytes(head) + answer

    def _name_server(self, src: NPort, cmd: int, body: bytes) -> bytes | None:
        """Name server requests (FC-GS-7 5.2.5): registrations are kept, queries answered."""
        if cmd == RFT_ID:
            src.fc4_types = body[4:36].ljust(32, b"\0")
        elif cmd == RFF_ID:
            features = bytearray(src.fc4_features)
            fc4_type = body[7]  # 4 bits a TYPE, the lowest TYPE of a word in its low bits (5.2.5.48)
            index = 4 * (fc4_type // 8) + 3 - fc4_type % 8 // 2
            features[index] |= (body[6] & 0xF) << (4 if fc4_type % 2 else 0)
            src.fc4_features = bytes(features)
        elif cmd in (GPN_FT, GID_FT):
            found = [p for p in self.ports.values() if p.has_type(body[3])]
            if not found:
                return None
            entries = []
            for n, port in enumerate(found):
                control = 0x80 if n == len(found) - 1 else 0  # the last entry's bit (5.2.5.13)
                entry = struct.pack(">I", control << 24 | port.port_id)
                entries.append(entry + (struct.pack(">4xQ", port.wwpn) if cmd == GPN_FT else b""))
            return b"".join(entries)
        elif cmd in (GPN_ID, GNN_ID, GFF_ID):
            port = self.ports.get(int.from_bytes(body[1:4], "big"))
            if port is None:
                return None
            return {
                GPN_ID: struct.pack(">Q", port.wwpn),
                GNN_ID: struct.pack(">Q", port.wwnn),
                GFF_ID: port.fc4_features,
            }[cmd]
        return b""

    def port_for(self, wwpn: int) -> NPort | None:
        return next((p for p in self.ports.values() if p.wwpn == wwpn), None)


class FcfThread:
    """``FcfSwitch`` on one AF_PACKET socket per link, in a thread until ``stop``."""

    def __init__(self, sockets: Iterable[socket.socket], fka_ms: int = FKA_MS) -> None:
        self.sockets = list(sockets)
        self.switch = FcfSwitch(len(self.sockets), fka_ms)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fcf", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> FcfThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()
        if self.error is not None:
            raise self.error

    def _flush(self) -> None:
        for link, frame in self.switch.out:
            try:
                self.sockets[link].send(frame)
            except OSError:  # the guest's tap has no carrier until QEMU opens it
                self.switch.log.dropped += 1
        self.switch.out.clear()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self.lock:
                    deadline = self.switch.tick(time.monotonic())
                    self._flush()
                wait = min(0.5, max(0.0, deadline - time.monotonic()))
                ready, _, _ = select.select(self.sockets, [], [], wait)
                for sock in ready:
                    self._read(self.sockets.index(sock), sock)
        except BaseException as err:  # reported by stop()
            self.error = err

    def _read(self, link: int, sock: socket.socket) -> None:
        while True:
            try:
                data, addr = sock.recvfrom(9216, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            if addr[2] == 4 or data[12:14] not in (b"\x89\x06", b"\x89\x14"):  # PACKET_OUTGOING, not FCoE
                continue
            with self.lock:
                self.switch.receive(link, data, time.monotonic())
                self._flush()


HPTD, ENODE = 0, 1  # FcfHarness's links
NAME_SERVER = ("PLOGI fffffc", "CT fc ")  # events of requests to the name server


class FcfHarness:
    """``FcfSwitch`` with hptd on link 0 (a sans-I/O port on a virtual clock, or a raw socket) and an
    in-process scapy ENode on link 1, for which this is the ``Link``: what it sends leaves its FPMA
    (``fpma``) for the FCF, what the switch sends it waits in ``to_enode``."""

    def __init__(self, hptd: Link, clock: Callable[[], float] = time.monotonic) -> None:
        self.switch = FcfSwitch(2)
        self.hptd = hptd
        self.clock = clock
        self.to_enode: deque[bytes] = deque()
        self.fpma = ""

    def deliver(self) -> None:
        for link, frame in self.switch.out:
            if link == HPTD:
                self.hptd.send(frame)
            else:
                self.to_enode.append(frame)
        self.switch.out.clear()

    def pump(self) -> bool:
        """One frame from hptd through the switch; False when hptd has nothing more to say."""
        self.switch.tick(self.clock())
        self.deliver()
        frame = self.hptd.recv()
        if frame is None:
            return False
        self.switch.receive(HPTD, frame, self.clock())
        self.deliver()
        return True

    def run_until(self, done: Callable[[], bool], what: str) -> None:
        while not done():
            assert self.pump(), f"FCF: no {what}; {self.switch.log}"

    def seen(self, *kinds: str) -> list[str]:
        """hptd's events at the FCF that start with one of ``kinds``, in order."""
        return [event for event in self.switch.log.on(HPTD) if event.startswith(kinds)]

    def clear_virtual_links(self, port_id: int, wwpn: int) -> None:
        """CVL to hptd's ENode naming the VN_Port ``port_id`` (``TARGET_ID``: hptd's own)."""
        self.switch.clear_virtual_links(self.switch.ports[TARGET_ID], port_id, wwpn)
        self.deliver()

    # -- the scapy ENode on link 1: a Link for Initiator, FCoE frames from its FPMA to the FCF
    def send(self, frame: bytes) -> None:
        raw = bytes.fromhex(FCF_MAC.replace(":", "") + self.fpma.replace(":", "")) + frame[12:]
        self.switch.receive(ENODE, raw, self.clock())
        self.deliver()

    def recv(self) -> bytes | None:
        while not self.to_enode:
            if not self.pump():
                return None
        return self.to_enode.popleft()

    def fip(self, pkt: Packet) -> Packet:
        """A FIP frame from the ENode; the switch's answer."""
        self.to_enode.clear()
        self.switch.receive(ENODE, bytes(pkt), self.clock())
        self.deliver()
        return Ether(self.to_enode.popleft())

    def fip_els(self, kind: int, fc_frame: bytes, src: str, mac: str) -> Packet:
        """An ELS in FIP (FC-BB-6 7.8.9.7: the FC frame, then a MAC descriptor); the FIP reply."""
        descs = [ly.FIPDesc(type=kind, value=bytes(2) + fc_frame), ly.mac_d(mac)]
        return self.fip(Ether(dst=FCF_MAC, src=src) / ly.FIP(op=2, subcode=1, descriptors=descs))

    def flogi(self, ini: Initiator, ox_id: int = 0x10) -> Packet:
        """The ENode's FIP FLOGI; its N_Port takes the FC_ID and FPMA granted. The FIP reply."""
        login = ly.ELS_Login(cmd=0x04, wwpn=ini.wwpn, wwnn=ini.wwnn)
        fc = ly.FC(r_ctl=0x22, d_id=F_PORT, type=TYPE_ELS, ox_id=ox_id)
        reply = self.fip_els(7, bytes(fc / login), ini.mac, "00:00:00:00:00:00")
        ini.port_id = ly.FC(reply[ly.FIP].desc(7)[2:]).d_id  # type: ignore[index]
        self.fpma = ly.vn_mac(ini.port_id, FC_MAP)
        return reply

    def initiator(self, mac: str) -> Initiator:
        """A scapy initiator on link 1, logged in to the fabric (FIP FLOGI)."""
        ini = Initiator(self, mac, port_id=0)
        self.flogi(ini)
        return ini
