"""FCFs an ENode has heard from: Discovery Advertisements (FC-BB-6 7.8.3) and FCF selection.

An advertisement carries the FCF's priority, MAC, switch name, fabric (VF_ID, FC-MAP, fabric name)
and FKA_ADV_Period (with the D bit: no Keep Alives wanted). As Linux fcoe_ctlr does, an FCF becomes
usable once it has answered a solicitation (S bit: the ENode's max FCoE size is verified), says it
takes logins (A bit) and grants FPMAs; the best one is the lowest priority value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpt.fcoe import fip
from hpt.fcoe.fip import FipFrame
from hpt.fcoe.frame import FrameError

DEFAULT_FKA = 8.0  # seconds, when the advertised period is below MIN_FKA
MIN_FKA = 0.5
LOST_PERIODS = 2.5  # an FCF not heard from for this many FKA_ADV_Periods is gone
REQUIRED = (fip.DESC_PRIORITY, fip.DESC_MAC, fip.DESC_NAME, fip.DESC_FABRIC, fip.DESC_FKA)
_LENGTHS = {fip.DESC_PRIORITY: 2, fip.DESC_MAC: 6, fip.DESC_NAME: 10, fip.DESC_FABRIC: 14, fip.DESC_FKA: 6}


@dataclass(slots=True)
class Fcf:
    """One FCF as its latest Discovery Advertisement describes it."""

    mac: bytes
    switch_name: int
    fabric_name: int
    fc_map: int
    vf_id: int
    priority: int
    fka_period: float  # seconds
    no_keep_alive: bool  # the D bit
    flags: int
    seen: float = 0.0
    verified: bool = False  # a solicited advertisement came: it takes our max FCoE size

    @property
    def usable(self) -> bool:
        wanted = fip.FLAG_AVAILABLE | fip.FLAG_FPMA
        return self.verified and self.flags & wanted == wanted

    @property
    def lost_at(self) -> float:
        return self.seen + LOST_PERIODS * self.fka_period

    def same(self, other: Fcf) -> bool:
        """The same FCF (fcoe_ctlr matches MAC, switch name, fabric name and FC-MAP)."""
        return (self.mac, self.switch_name, self.fabric_name, self.fc_map) == (
            other.mac,
            other.switch_name,
            other.fabric_name,
            other.fc_map,
        )


def parse_advertisement(frame: FipFrame, now: float) -> Fcf:
    """The FCF of a Discovery Advertisement; raises :class:`FrameError` when a required descriptor
    is missing or short, the MAC is not unicast or the FC-MAP is invalid."""
    d = frame.descriptors
    for kind in REQUIRED:
        if kind not in d or len(d[kind]) < _LENGTHS[kind]:
            raise FrameError("fip_missing_descriptor", f"advertisement without descriptor {kind}")
    mac = d[fip.DESC_MAC][:6]
    if mac[0] & 1 or not any(mac):
        raise FrameError("fip_bad_fcf_mac", mac.hex(":"))
    fabric = d[fip.DESC_FABRIC]  # VF_ID, reserved, FC-MAP, fabric name
    fc_map = int.from_bytes(fabric[3:6], "big")
    if not fc_map or fc_map & 0x010000:  # FC-MAP with the group bit set would make multicast MACs
        raise FrameError("fip_bad_fc_map", f"FC-MAP {fc_map:06x}")
    fka = d[fip.DESC_FKA]
    period_ms = struct.unpack_from(">I", fka, 2)[0]
    return Fcf(
        mac=mac,
        switch_name=int.from_bytes(d[fip.DESC_NAME][2:10], "big"),
        fabric_name=int.from_bytes(fabric[6:14], "big"),
        fc_map=fc_map,
        vf_id=struct.unpack_from(">H", fabric)[0] & 0x0FFF,
        priority=d[fip.DESC_PRIORITY][1],
        fka_period=period_ms / 1000 if period_ms >= MIN_FKA * 1000 else DEFAULT_FKA,
        no_keep_alive=bool(fka[1] & fip.FKA_FLAG_D),
        flags=frame.flags,
        seen=now,
        verified=bool(frame.flags & fip.FLAG_SOLICITED),
    )


def best(fcfs: list[Fcf]) -> Fcf | None:
    """The usable FCF with the lowest priority value; the first heard among equals."""
    usable = [f for f in fcfs if f.usable]
    return min(usable, key=lambda f: f.priority) if usable else None
