"""A scapy-driven FCoE VN2VN initiator for tests: FIP address claim, FLOGI/PLOGI/PRLI, SCSI
commands with FCP, ABTS and LOGO, over any :class:`Link` (a sans-I/O port in memory or a raw
socket in a network namespace).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from tests.fcoe.layers import (
    BA_ACC,
    ELS_PRLI,
    EOF_N,
    EOF_T,
    FC,
    FCP_CMND,
    FCP_RSP,
    FCP_XFER_RDY,
    FIP,
    SOF_I3,
    SOF_N3,
    ELS_Login,
    FCoE,
    FIPDesc,
    mac_d,
    vn2vn,
    vn_mac,
)

F_EX_CTX, F_END_SEQ, F_SEQ_INIT, F_FIRST_SEQ, F_REL_OFF = 1 << 23, 1 << 19, 1 << 16, 1 << 21, 1 << 3


def as_layer(pkt: Packet, cls: type[Packet]) -> Packet:
    """The FC payload of ``pkt`` read as ``cls`` (an ELS reply is typed by its request)."""
    return cls(bytes(pkt[FC].payload))


class Link(Protocol):
    def send(self, frame: bytes) -> None: ...

    def recv(self) -> bytes | None:
        """The next frame, or None when nothing more will come (a timeout)."""
        ...


class NoReply(AssertionError):
    pass


@dataclass
class Reply:
    """The outcome of a SCSI command: FCP_RSP fields, data-in, the XFER_RDYs seen."""

    status: int
    flags: int
    resid: int
    sense: bytes
    data: bytes
    rsp_info: bytes = b""
    xfer_rdys: list[tuple[int, int]] = field(default_factory=list)


class Initiator:
    """One ENode with one VN_Port (FC_ID ``port_id``) acting as an FCP initiator."""

    def __init__(self, link: Link, mac: str, port_id: int = 0x000002, max_payload: int = 2048) -> None:
        self.link = link
        self.mac = mac
        self.port_id = port_id
        raw = int(mac.replace(":", ""), 16)
        self.wwnn = 0x1000 << 48 | raw
        self.wwpn = 0x2000 << 48 | raw
        self.max_payload = max_payload
        self.target_id = 0
        self.target_enode = ""
        self.target_wwpn = 0
        self.ox_id = 0x100
        self.seen: list[Packet] = []  # every frame received, in order

    # -- frames ----------------------------------------------------------------------------------
    @property
    def vn_mac(self) -> str:
        return vn_mac(self.port_id)

    def fc(self, fc: Packet, payload: Packet | bytes, sof: int = SOF_I3, eof: int = EOF_T) -> Ether:
        fc.d_id = fc.d_id or self.target_id
        fc.s_id = self.port_id
        pl = payload if isinstance(payload, Packet) else Raw(payload)
        return Ether(dst=vn_mac(self.target_id), src=self.vn_mac) / FCoE(sof=sof, eof=eof) / fc / pl

    def send(self, pkt: Packet | bytes) -> None:
        self.link.send(bytes(pkt))

    def expect(self, match: Callable[[Packet], bool], what: str) -> Packet:
        while True:
            raw = self.link.recv()
            if raw is None:
                raise NoReply(f"no {what}")
            pkt = Ether(raw)
            self.seen.append(pkt)
            if match(pkt):
                return pkt
            self.on_unexpected(pkt)

    def on_unexpected(self, pkt: Packet) -> None:
        """Frames nobody waits for: answer a PLOGI from the target (it sends one when its WWPN is higher)."""
        if FC in pkt and pkt[FC].r_ctl == 0x22 and ELS_Login in pkt and pkt[ELS_Login].cmd == 0x03:
            acc = ELS_Login(
                cmd=0x02,
                wwpn=self.wwpn,
                wwnn=self.wwnn,
                rx_size=self.max_payload,
                class3_rx_size=self.max_payload,
            )
            self.send(self.fc(FC(r_ctl=0x23, type=1, f_ctl=0x990000, ox_id=pkt[FC].ox_id, rx_id=0xFFFF), acc))

    def target_plogi(self) -> Packet:
        return self.expect(
            lambda p: FC in p and p[FC].r_ctl == 0x22 and ELS_Login in p and p[ELS_Login].cmd == 0x03,
            "target PLOGI",
        )

    def fc_reply(self, ox_id: int, what: str) -> Packet:
        return self.expect(
            lambda p: (
                FC in p
                and p[FC].ox_id == ox_id
                and p[FC].s_id == self.target_id
                and bool(p[FC].f_ctl & F_EX_CTX)
            ),
            what,
        )

    def next_ox(self) -> int:
        self.ox_id += 1
        return self.ox_id

    # -- FIP VN2VN -----------------------------------------------------------------------------
    def fip_login(self) -> None:
        """Learn the target from its beacon, claim this ENode's address, get a Claim Response."""
        first = self.expect(lambda p: FIP in p and p[FIP].op == 5 and p[FIP].subcode == 5, "target beacon")
        vn = first[FIP].desc(11)
        assert vn is not None
        self.target_id = int.from_bytes(vn[7:10], "big")
        self.target_wwpn = int.from_bytes(vn[10:18], "big")
        self.target_enode = first[FIP].desc(2)[:6].hex(":")  # type: ignore[index]
        self.send(vn2vn(3, self.mac, self.wwnn, self.port_id, self.wwpn))
        self.expect(lambda p: FIP in p and p[FIP].subcode == 4 and p.dst == self.mac, "claim response")
        self.send(vn2vn(5, self.mac, self.wwnn, self.port_id, self.wwpn, src=self.vn_mac))

    def flogi(self) -> Packet:
        """FLOGI in FIP (FC-BB-6 7.8.9.7) to the target VN_Port; returns the FIP reply."""
        login = ELS_Login(cmd=0x04, wwpn=self.wwpn, wwnn=self.wwnn, concurrent_seqs=0, rel_off=0, e_d_tov=0)
        return self.fip_els(7, self.target_id, login)

    def fip_logo(self) -> Packet:
        """LOGO in FIP to the F_Port Controller, as Linux sends when its FCoE interface is destroyed."""
        return self.fip_els(9, 0xFFFFFE, struct.pack(">B3xIQ", 0x05, self.port_id, self.wwpn))

    def fip_els(self, kind: int, d_id: int, payload: Packet | bytes) -> Packet:
        ox = self.next_ox()
        fc = FC(r_ctl=0x22, d_id=d_id, s_id=self.port_id, type=1, f_ctl=0x290000, ox_id=ox)
        desc = FIPDesc(type=kind, value=bytes(2) + bytes(fc / payload))
        self.send(
            Ether(dst=self.target_enode, src=self.mac)
            / FIP(op=2, subcode=1, descriptors=[desc, mac_d(self.vn_mac)])
        )
        return self.expect(lambda p: FIP in p and p[FIP].op == 2 and p[FIP].subcode == 2, "FLOGI reply")

    def els(self, payload: Packet | bytes, what: str) -> Packet:
        ox = self.next_ox()
        self.send(self.fc(FC(r_ctl=0x22, type=1, f_ctl=0x290000, ox_id=ox), payload))
        return self.fc_reply(ox, what)

    def plogi(self) -> Packet:
        return self.els(
            ELS_Login(
                cmd=0x03,
                wwpn=self.wwpn,
                wwnn=self.wwnn,
                rx_size=self.max_payload,
                class3_rx_size=self.max_payload,
            ),
            "PLOGI reply",
        )

    def prli(self) -> Packet:
        return self.els(ELS_PRLI(cmd=0x20, flags=0x20, params=0x1A2), "PRLI reply")

    def login(self) -> None:
        """FIP claim, FLOGI, then PLOGI unless the target (higher WWPN) sent its own, then PRLI."""
        self.fip_login()
        self.flogi()
        if self.target_wwpn < self.wwpn:
            assert self.plogi()[FC].r_ctl == 0x23
        else:  # Linux libfc: the higher WWPN sends PLOGI, the other waits for it (PLOGI_WAIT)
            self.on_unexpected(self.target_plogi())
        self.process_login()

    def fabric_login(self, target_id: int) -> None:
        """Behind an FCF (the fabric logins are the emulator's): PLOGI and PRLI to ``target_id``."""
        self.target_id = target_id
        assert as_layer(self.plogi(), ELS_Login).cmd == 0x02
        self.process_login()

    def process_login(self) -> None:
        prli = as_layer(self.prli(), ELS_PRLI)
        assert prli.cmd == 0x02 and prli.flags & 0x0F == 1

    def logo(self) -> Packet:
        return self.els(struct.pack(">B3xIQ", 0x05, self.port_id, self.wwpn), "LOGO reply")

    # -- FCP -----------------------------------------------------------------------------------
    def command(
        self,
        cdb: bytes,
        lun: int = 0,
        read: int = 0,
        data_out: bytes = b"",
        tmf: int = 0,
        ox_id: int | None = None,
    ) -> int:
        """Send FCP_CMND; returns its OX_ID."""
        ox = ox_id if ox_id is not None else self.next_ox()
        cmnd = FCP_CMND(
            lun=struct.pack(">H6x", lun),
            tmf=tmf,
            rddata=int(read > 0),
            wrdata=int(bool(data_out)),
            cdb=cdb.ljust(16, b"\0"),
            dl=read or len(data_out),
        )
        self.send(self.fc(FC(r_ctl=0x06, type=8, f_ctl=0x290000, ox_id=ox), cmnd))
        return ox

    def send_data(self, ox_id: int, rx_id: int, data: bytes, offset: int, seq_id: int = 1) -> None:
        size = self.max_payload
        chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            fill = -len(chunk) % 4
            f_ctl = F_REL_OFF | (F_END_SEQ | F_SEQ_INIT | fill if last else 0)
            fc = FC(
                r_ctl=0x01,
                type=8,
                f_ctl=f_ctl,
                seq_id=seq_id,
                seq_cnt=i,
                ox_id=ox_id,
                rx_id=rx_id,
                parameter=offset + i * size,
            )
            self.send(
                self.fc(fc, chunk + bytes(fill), SOF_I3 if i == 0 else SOF_N3, EOF_T if last else EOF_N)
            )

    def response(self, ox_id: int, data_out: bytes = b"") -> Reply:
        """Collect FCP_DATA, answer FCP_XFER_RDY with data, until FCP_RSP."""
        data = bytearray()
        xfers: list[tuple[int, int]] = []
        while True:
            pkt = self.fc_reply(ox_id, "FCP reply")
            fc = pkt[FC]
            if fc.r_ctl == 0x01:
                payload = bytes(fc.payload)
                end = len(payload) - (fc.f_ctl & 3 if fc.f_ctl & F_END_SEQ else 0)
                assert fc.parameter == len(data), "data-in relative offsets in order"
                data += payload[:end]
            elif fc.r_ctl == 0x05:
                xr = pkt[FCP_XFER_RDY]
                xfers.append((xr.offset, xr.burst))
                self.send_data(ox_id, fc.rx_id, data_out[xr.offset : xr.offset + xr.burst], xr.offset)
            elif fc.r_ctl == 0x07:
                rsp = pkt[FCP_RSP]
                return Reply(
                    rsp.status,
                    rsp.flags,
                    rsp.resid,
                    bytes(rsp.sense),
                    bytes(data),
                    bytes(rsp.rsp_info),
                    xfers,
                )

    def scsi(self, cdb: bytes, lun: int = 0, read: int = 0, data_out: bytes = b"") -> Reply:
        return self.response(self.command(cdb, lun, read, data_out), data_out)

    def check_disk(self, size: int) -> None:
        """INQUIRY names hpt and READ CAPACITY(16) gives ``size`` bytes of 512-byte blocks."""
        inquiry = self.scsi(bytes([0x12, 0, 0, 0, 96, 0]), read=96)
        assert inquiry.status == 0 and inquiry.data[8:11] == b"HPT"
        capacity = self.scsi(bytes([0x9E, 0x10]) + bytes(8) + struct.pack(">I", 32) + bytes(2), read=32)
        assert struct.unpack_from(">QI", capacity.data) == (size // 512 - 1, 512)

    def clear_unit_attention(self, lun: int = 0) -> None:
        """TEST UNIT READY until GOOD: a fresh LU reports POWER ON OCCURRED first (SAM-5 5.14)."""
        for _ in range(3):
            if self.scsi(bytes(6), lun).status == 0:
                return
        raise AssertionError(f"LUN {lun} stays not ready")

    def abts(self, ox_id: int) -> Packet:
        self.send(self.fc(FC(r_ctl=0x81, type=0, f_ctl=0x090000, ox_id=ox_id, rx_id=0xFFFF), b""))
        return self.expect(
            lambda p: FC in p and p[FC].r_ctl in (0x84, 0x85) and p[FC].ox_id == ox_id, "ABTS reply"
        )

    @staticmethod
    def ba_acc(pkt: Packet) -> BA_ACC:
        return BA_ACC(bytes(pkt[FC].payload))
