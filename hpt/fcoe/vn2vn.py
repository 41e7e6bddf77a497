"""The FIP VN2VN address machine of one ENode (FC-BB-6 7.8.7, 7.8.8), sans-I/O.

The ENode proposes an FC_ID (first the low 16 bits of its WWPN, then random ones), sends two
Probe Requests 100 ms apart, claims the address with a Claim Notification, and after 400 ms of
silence is up: it beacons every 8 s (plus up to 100 ms of jitter), answers Probe Requests for its
address with a Probe Reply and every Claim Notification with a unicast Claim Response, and ages out
peers not heard from for 2.5 beacon periods. A conflicting claim from a higher WWPN, or a reply to
its probe, makes it start over with a new address. The caller feeds frames and time (seconds, any
monotonic clock), and takes the frames in ``out`` and the peer events in ``events``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from hpt.fcoe import fip
from hpt.fcoe.fip import FipFrame, VnId

PROBE_WAIT = 0.100
ANNOUNCE_WAIT = 0.400
BEACON_PERIOD = 8.0
BEACON_FUZZ = 0.100
PEER_TIMEOUT = 2.5 * BEACON_PERIOD
RATE_LIMIT_PROBES = 10  # after this many restarts, probe only every RATE_LIMIT_WAIT
RATE_LIMIT_WAIT = 10.0
MAX_PORT_ID = 0xFEFFFF  # FC_IDs above are well-known addresses


class State(Enum):
    PROBE1 = "probe1"
    PROBE2 = "probe2"
    CLAIM = "claim"
    UP = "up"


@dataclass(slots=True)
class Peer:
    """A remote VN_Port known from its claim (FC-BB-6 7.8.8.4)."""

    enode_mac: bytes
    port_id: int
    wwnn: int
    wwpn: int
    max_size: int
    last_seen: float

    @property
    def vn_mac(self) -> bytes:
        return fip.vn_mac(self.port_id)


class Vn2vn:
    """One ENode's VN_Port address: probing, claiming, beaconing and the peers it knows."""

    def __init__(
        self,
        enode_mac: bytes,
        wwnn: int,
        wwpn: int,
        max_size: int,
        rng: random.Random | None = None,
        vlan: int = 0,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.enode_mac = enode_mac
        self.wwnn = wwnn
        self.wwpn = wwpn
        self.max_size = max_size
        self.vlan = vlan
        self.rng = rng or random.Random()
        self.state = State.PROBE1
        self.port_id = 0
        self.deadline = 0.0
        self.restarts = 0
        self.peers: dict[int, Peer] = {}
        self.out: list[bytes] = []
        #: ("up", peer) when a peer has claimed its address, ("gone", peer) when it aged out or lost it.
        self.events: list[tuple[str, Peer]] = []
        self.counters = counters if counters is not None else {}

    @property
    def vn_mac(self) -> bytes:
        return fip.vn_mac(self.port_id)

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # -- sending -------------------------------------------------------------------------------
    def _descriptors(self, claim: bool) -> list[bytes]:
        descs = [
            fip.mac_desc(self.enode_mac),
            fip.name_desc(self.wwnn),
            fip.vn_id_desc(VnId(self.vn_mac, self.port_id, self.wwpn)),
        ]
        if claim:
            descs += [fip.fc4_features_desc(), fip.size_desc(self.max_size)]
        return descs

    def _send(self, subcode: int, dst: bytes, src: bytes | None = None, pad_to: int = 60) -> None:
        claim = subcode in (fip.VN_CLAIM_NOTIFY, fip.VN_CLAIM_REP)
        self.out.append(
            fip.encode_fip(
                dst, src or self.enode_mac, fip.OP_VN2VN, subcode, self._descriptors(claim), pad_to=pad_to
            )
        )

    # -- timers --------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Propose the first address: the low 16 bits of the WWPN (as Linux libfcoe does)."""
        self._probe(now, self.wwpn & 0xFFFF or self._random_id())

    def _random_id(self) -> int:
        while True:
            port_id = self.rng.randint(1, MAX_PORT_ID)
            if port_id not in self.peers and port_id != self.port_id:
                return port_id

    def _probe(self, now: float, port_id: int) -> None:
        self.port_id = port_id
        self.state = State.PROBE1
        self._send(fip.VN_PROBE_REQ, fip.ALL_VN2VN_MACS)
        wait = RATE_LIMIT_WAIT if self.restarts > RATE_LIMIT_PROBES else self.rng.uniform(0, PROBE_WAIT)
        self.deadline = now + PROBE_WAIT + wait

    def restart(self, now: float) -> None:
        """Give up the address (a conflict): every peer is lost, a new random address is probed."""
        self.restarts += 1
        self._count("address_conflicts")
        for peer in self.peers.values():
            self.events.append(("gone", peer))
        self.peers.clear()
        self._probe(now, self._random_id())

    def tick(self, now: float) -> float:
        """Run the timers due at ``now``; returns the next deadline."""
        if now >= self.deadline:
            if self.state is State.PROBE1:
                self.state = State.PROBE2
                self._send(fip.VN_PROBE_REQ, fip.ALL_VN2VN_MACS)
                self.deadline = now + PROBE_WAIT
            elif self.state is State.PROBE2:
                self.state = State.CLAIM
                self._send(fip.VN_CLAIM_NOTIFY, fip.ALL_VN2VN_MACS)
                self.deadline = now + ANNOUNCE_WAIT
            else:
                self.state = State.UP
                self.restarts = 0
                self._send(fip.VN_BEACON, fip.ALL_VN2VN_MACS, self.vn_mac)
                self.deadline = now + BEACON_PERIOD + self.rng.uniform(0, BEACON_FUZZ)
        for peer in [p for p in self.peers.values() if now - p.last_seen > PEER_TIMEOUT]:
            del self.peers[peer.port_id]
            self._count("peers_aged_out")
            self.events.append(("gone", peer))
        expiries = [p.last_seen + PEER_TIMEOUT for p in self.peers.values()]
        return min([self.deadline, *(t + 1e-3 for t in expiries)])

    # -- receiving -----------------------------------------------------------------------------
    def receive(self, frame: FipFrame, now: float) -> None:
        """One FIP frame of protocol code 5 (VN2VN) or 4 (VLAN discovery)."""
        if frame.src_mac == self.enode_mac:
            return
        if frame.op == fip.OP_VLAN:
            self._vlan_request(frame)
            return
        mac, wwnn, vn = frame.mac(), frame.wwnn(), frame.vn_id()
        if mac is None or wwnn is None or vn is None:
            self._count("fip_missing_descriptor")
            return
        if vn.port_id == 0 or vn.port_id > MAX_PORT_ID or vn.mac != fip.vn_mac(vn.port_id):
            self._count("fip_bad_vn_id")
            return
        peer = Peer(mac, vn.port_id, wwnn, vn.wwpn, frame.max_size() or 0, now)
        handler = {
            fip.VN_PROBE_REQ: self._probe_request,
            fip.VN_PROBE_REP: self._probe_reply,
            fip.VN_CLAIM_NOTIFY: self._claim_notification,
            fip.VN_CLAIM_REP: self._claim_response,
            fip.VN_BEACON: self._beacon,
        }.get(frame.subcode)
        if handler is None:
            self._count("fip_unknown_subcode")
            return
        handler(peer, now)

    def _probe_request(self, peer: Peer, now: float) -> None:
        if peer.port_id != self.port_id:
            return
        if self.state in (State.CLAIM, State.UP) or (peer.wwpn < self.wwpn):
            # FC-BB-6 7.8.8.2: defend a claimed address; while probing, the higher WWPN keeps it.
            self._send(fip.VN_PROBE_REP, peer.enode_mac)
        else:
            self.restart(now)

    def _probe_reply(self, peer: Peer, now: float) -> None:
        if peer.port_id == self.port_id and self.state is not State.UP:
            self.restart(now)

    def _claim_notification(self, peer: Peer, now: float) -> None:
        if peer.port_id == self.port_id:
            if self.state not in (State.CLAIM, State.UP) or peer.wwpn > self.wwpn:
                self.restart(now)
            else:
                self._send(fip.VN_CLAIM_NOTIFY, fip.ALL_VN2VN_MACS)
            return
        if self.state in (State.CLAIM, State.UP):
            # Padded to the largest FCoE frame this port takes, as Linux libfcoe does, so the
            # peer learns the path carries it.
            size = min(self.max_size, peer.max_size or self.max_size)
            self._send(fip.VN_CLAIM_REP, peer.enode_mac, pad_to=14 + size)
            self._add(peer)

    def _claim_response(self, peer: Peer, now: float) -> None:
        if peer.port_id == self.port_id:
            self.restart(now)
        elif self.state in (State.CLAIM, State.UP):
            self._add(peer)

    def _beacon(self, peer: Peer, now: float) -> None:
        known = self.peers.get(peer.port_id)
        if known is not None and (known.wwpn, known.wwnn) == (peer.wwpn, peer.wwnn):
            known.last_seen = now
        elif known is None and self.state is State.UP:
            # A beacon from an ENode we have not heard claim: claim again so that it answers.
            self._send(fip.VN_CLAIM_NOTIFY, fip.ALL_VN2VN_MACS)

    def _add(self, peer: Peer) -> None:
        old = self.peers.get(peer.port_id)
        if old is not None and (old.wwpn, old.enode_mac) == (peer.wwpn, peer.enode_mac):
            old.last_seen = peer.last_seen
            old.max_size = peer.max_size or old.max_size
            return
        if old is not None:
            self.events.append(("gone", old))
        self.peers[peer.port_id] = peer
        self.events.append(("up", peer))

    def _vlan_request(self, frame: FipFrame) -> None:
        """FIP VLAN discovery in VN2VN (FC-BB-6 7.8.5): answer with this port's VLAN."""
        if frame.subcode != fip.VLAN_REQUEST or not self.vlan:
            return
        mac = frame.mac() or frame.src_mac
        self.out.append(
            fip.encode_fip(
                mac,
                self.enode_mac,
                fip.OP_VLAN,
                fip.VLAN_NOTIFY_VN2VN,
                [fip.mac_desc(self.enode_mac), fip.name_desc(self.wwnn), fip.vlan_desc(self.vlan)],
            )
        )
