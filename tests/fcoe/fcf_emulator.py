"""A minimal FCF for tests (FC-BB-6 7.8, the FCF side): it advertises, answers solicitations,
accepts a FIP FLOGI with an FPMA, answers the name server (PLOGI, CT registrations), takes Keep
Alives and FIP LOGO, sends Clear Virtual Links, and relays FC frames between the target ENode on
``link`` and one test initiator (``initiator_link``), as a switch would forward them.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from dataclasses import dataclass, field

from scapy.layers.l2 import Ether
from scapy.packet import Packet

from tests.fcoe import layers as ly
from tests.fcoe.initiator import Link

FCF_MAC = "52:54:00:fc:f0:01"
SWITCH_NAME, FABRIC_NAME = 0x2001525400FCF001, 0x1001525400FCF001
FC_MAP = 0x0EFC00
TARGET_ID, INITIATOR_ID = 0x010001, 0x010002
DIRECTORY = 0xFFFFFC


@dataclass
class Seen:
    """What the target did, in order, as the FCF saw it."""

    solicitations: list[Packet] = field(default_factory=list)
    flogis: list[Packet] = field(default_factory=list)
    keep_alives: list[Packet] = field(default_factory=list)
    ns: list[str] = field(default_factory=list)  # "PLOGI", then CT command codes as hex
    logos: list[Packet] = field(default_factory=list)


class FcfEmulator:
    """One FCF with one target ENode on ``link``; the target gets FC_ID ``TARGET_ID``."""

    def __init__(
        self, link: Link, flogi_rejects: int = 0, priority: int = 128, readvertise: float | None = None
    ) -> None:
        self.link = link
        self.readvertise = readvertise  # real seconds between multicast advertisements (None: never)
        self.advertised = time.monotonic()
        self.target_wwpn = 0
        self.flogi_rejects = flogi_rejects
        self.priority = priority
        self.seen = Seen()
        self.enode = ""
        self.target_fpma = ly.vn_mac(TARGET_ID, FC_MAP)
        self.logged_in = False
        self.to_initiator: deque[bytes] = deque()

    def send(self, pkt: Packet) -> None:
        self.link.send(bytes(pkt))

    def advertise(self, solicited: bool = False, dst: str | None = None) -> None:
        flags = 0x8005 | (ly.FLAG_SOLICITED if solicited else 0)
        kw = {"dst": dst} if dst else {}
        self.advertised = time.monotonic()
        self.send(ly.advertisement(FCF_MAC, SWITCH_NAME, FABRIC_NAME, self.priority, flags=flags, **kw))

    def clear_virtual_links(self, port_id: int | None = TARGET_ID, wwpn: int = 0) -> None:
        """CVL to the target naming its VN_Port (``port_id`` None: naming none, i.e. all)."""
        vn_ids = [] if port_id is None else [ly.vn_id_d(port_id, wwpn, ly.vn_mac(port_id, FC_MAP))]
        self.send(ly.clear_virtual_links(FCF_MAC, SWITCH_NAME, self.enode, vn_ids))
        self.logged_in = False

    # -- the target's frames -------------------------------------------------------------------
    def pump(self) -> bool:
        """Handle one frame from the target; False when none came (the link timed out)."""
        if self.readvertise is not None and time.monotonic() - self.advertised > self.readvertise:
            self.advertise()
        raw = self.link.recv()
        if raw is None:
            return False
        pkt = Ether(raw)
        if ly.FIP in pkt:
            self._fip(pkt)
        elif ly.FC in pkt:
            self._fc(raw, pkt)
        return True

    def run_until(self, done: object, what: str) -> None:
        while not done():  # type: ignore[operator]
            if not self.pump():
                raise AssertionError(f"FCF emulator: no {what}")

    def _fip(self, pkt: Packet) -> None:
        fip = pkt[ly.FIP]
        if (fip.op, fip.subcode) == (1, 1):
            self.seen.solicitations.append(pkt)
            self.enode = pkt.src
            self.advertise(solicited=True, dst=pkt.src)
        elif (fip.op, fip.subcode) == (2, 1):
            self._fip_els(pkt)
        elif (fip.op, fip.subcode) == (3, 1):
            self.seen.keep_alives.append(pkt)

    def _fip_els(self, pkt: Packet) -> None:
        desc = pkt[ly.FIP].descriptors[0]
        request = ly.FC(bytes(desc.value)[2:])
        reply = ly.FC(r_ctl=0x23, s_id=0xFFFFFE, type=1, f_ctl=0x990000, ox_id=request.ox_id, rx_id=0x0001)
        if desc.type == 7:  # FLOGI
            self.seen.flogis.append(pkt)
            self.target_wwpn = ly.ELS_Login(bytes(request.payload)).wwpn
            if self.flogi_rejects:
                self.flogi_rejects -= 1
                rjt = struct.pack(">B3xxBBx", 0x01, 0x09, 0x00)
                self.send(ly.fip_els_reply(FCF_MAC, pkt.src, 7, bytes(reply) + rjt))
                return
            reply.d_id = TARGET_ID
            acc = ly.ELS_Login(cmd=0x02, wwpn=SWITCH_NAME, wwnn=FABRIC_NAME, features=0x1000)
            self.send(ly.fip_els_reply(FCF_MAC, pkt.src, 7, bytes(reply / acc), self.target_fpma))
            self.logged_in = True
        elif desc.type == 9:  # LOGO
            self.seen.logos.append(pkt)
            reply.d_id = request.s_id
            self.send(ly.fip_els_reply(FCF_MAC, pkt.src, 9, bytes(reply) + b"\x02\0\0\0", self.target_fpma))
            self.logged_in = False

    def _fc(self, raw: bytes, pkt: Packet) -> None:
        fc = pkt[ly.FC]
        assert pkt.dst == FCF_MAC and pkt.src == self.target_fpma, pkt.summary()
        if fc.d_id == DIRECTORY:
            self._name_server(fc)
        elif fc.d_id == INITIATOR_ID:
            self.to_initiator.append(raw)

    def _name_server(self, fc: Packet) -> None:
        payload = bytes(fc.payload)
        reply = ly.FC(
            r_ctl=0x23 if fc.type == 1 else 0x03,
            d_id=fc.s_id,
            s_id=DIRECTORY,
            type=fc.type,
            f_ctl=0x990000,
            ox_id=fc.ox_id,
            rx_id=0x0002,
        )
        if fc.type == 1 and payload[0] == 0x03:
            self.seen.ns.append("PLOGI")
            body: bytes | Packet = ly.ELS_Login(cmd=0x02, wwpn=0x20FFFFFC00000000, wwnn=0x10FFFFFC00000000)
        else:
            self.seen.ns.append(f"{ly.CT(payload).cmd:04x}")
            body = ly.CT(cmd=0x8002)
        frame = Ether(dst=self.target_fpma, src=FCF_MAC) / ly.FCoE() / reply / body
        self.send(frame)

    # -- the initiator's side ------------------------------------------------------------------
    def initiator_link(self) -> Link:
        return _InitiatorLink(self)


class _InitiatorLink:
    """The test initiator's view: its FC frames go to the target through the FCF, and frames
    the target addresses to INITIATOR_ID come back."""

    def __init__(self, fcf: FcfEmulator) -> None:
        self.fcf = fcf

    def send(self, frame: bytes) -> None:
        dst = bytes.fromhex(self.fcf.target_fpma.replace(":", ""))
        src = bytes.fromhex(FCF_MAC.replace(":", ""))
        self.fcf.link.send(dst + src + frame[12:])

    def recv(self) -> bytes | None:
        while not self.fcf.to_initiator:
            if not self.fcf.pump():
                return None
        return self.fcf.to_initiator.popleft()
