"""A minimal initiator for driving the sans-I/O connection with PDUs in tests (RFC 7143 11)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpt.iscsi import pdu as P
from hpt.iscsi.connection import Connection
from hpt.iscsi.digest import digest_bytes
from hpt.iscsi.pdu import BHS_LEN, RSVD_TAG, Opcode, Pdu
from hpt.iscsi.text import encode_text, parse_text
from hpt.scsi.core.lun import encode_lun


@dataclass
class Reply:
    pdu: Pdu
    data: bytes

    @property
    def text(self) -> dict[str, str]:
        return dict(parse_text(self.data))


class Initiator:
    """Builds initiator PDUs, feeds them to a target :class:`Connection`, and parses what it sends back."""

    def __init__(
        self, conn: Connection, name: str = "iqn.2026-11.org.hpt.test:initiator", isid: int = 0x23D000000001
    ):
        self.conn = conn
        self.name = name
        self.isid = isid
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        self.hd = False
        self.dd = False

    # ------------------------------------------------------------------ plumbing
    def send(self, hdr: bytearray, data: bytes = b"", ahs: bytes = b"") -> None:
        P.set_dsl(hdr, len(data))
        hdr[4] = len(ahs) // 4  # TotalAHSLength in words (RFC 7143 11.2.1.4)
        wire = bytes(hdr) + ahs
        if self.hd:
            wire += digest_bytes(wire)
        if data:
            pad = b"\0" * (-len(data) & 3)
            wire += data + pad
            if self.dd:
                wire += digest_bytes(data, pad)
        self.conn.receive_bytes(wire)
        self.conn.execute_ready()

    def replies(self) -> list[Reply]:
        raw = b"".join(bytes(b) for b in self.conn.data_to_send())
        self.conn.output_sent()
        out = []
        hd = 4 if self.hd else 0
        dd = 4 if self.dd else 0
        while raw:
            pdu = Pdu(raw[:BHS_LEN])
            off = BHS_LEN + pdu.ahs_len + hd
            data = raw[off : off + pdu.dsl]
            off += pdu.dsl + (-pdu.dsl & 3) + (dd if pdu.dsl else 0)
            raw = raw[off:]
            out.append(Reply(pdu, data))
            if (
                pdu.opcode
                in (
                    Opcode.SCSI_RSP,
                    Opcode.LOGIN_RSP,
                    Opcode.TEXT_RSP,
                    Opcode.LOGOUT_RSP,
                    Opcode.TASK_MGMT_RSP,
                    Opcode.REJECT,
                )
                or (pdu.opcode == Opcode.DATA_IN and pdu.b1 & 1)
                or (pdu.opcode == Opcode.NOP_IN and pdu.itt != RSVD_TAG)
            ):
                self.expstatsn = (pdu.w24 + 1) & 0xFFFFFFFF
        return out

    def next_itt(self) -> int:
        self.itt += 1
        return self.itt

    # ------------------------------------------------------------------ login
    def login_pdu(
        self,
        pairs: list[tuple[str, str]],
        csg: int,
        nsg: int,
        transit: bool = True,
        tsih: int = 0,
        cont: bool = False,
    ) -> list[Reply]:
        b1 = (0x80 if transit else 0) | (0x40 if cont else 0) | (csg << 2) | (nsg if transit else 0)
        lun = self.isid.to_bytes(6, "big") + tsih.to_bytes(2, "big")
        hdr = P.initiator_pdu(
            Opcode.LOGIN_REQ, b1, lun, self.itt, w24=self.cmdsn, w28=self.expstatsn, immediate=True
        )
        self.send(hdr, encode_text(pairs))
        return self.replies()

    def login(
        self, target: str | None, extra: list[tuple[str, str]] = (), *, discovery: bool = False
    ) -> Reply:
        """Log in with no authentication, straight to the operational stage and full feature phase."""
        keys = [("InitiatorName", self.name), ("SessionType", "Discovery" if discovery else "Normal")]
        if target:
            keys.append(("TargetName", target))
        keys += [("AuthMethod", "None")]
        want_hd, want_dd = self.hd, self.dd
        self.hd = self.dd = False  # no digests until the login is over (RFC 7143 13.1)
        r = self.login_pdu(keys, 0, 1)[-1]
        assert r.pdu.opcode == Opcode.LOGIN_RSP, r
        if r.pdu.w36 >> 16:
            return r
        ops = [
            ("HeaderDigest", "CRC32C" if want_hd else "None"),
            ("DataDigest", "CRC32C" if want_dd else "None"),
            *extra,
        ]
        r = self.login_pdu(ops, 1, 3)[-1]
        agreed = dict(r.text)
        sent = {k for k, _ in ops}
        for _ in range(4):
            if r.pdu.b1 & 0x80 or r.pdu.w36 >> 16:
                break
            # accept what the target offered; declarations need no answer (RFC 7143 6.2)
            answers = [(k, v) for k, v in r.text.items() if k not in sent and k != "MaxRecvDataSegmentLength"]
            sent |= {k for k, _ in answers}
            r = self.login_pdu(answers, 1, 3)[-1]
            agreed.update(r.text)
        self.hd = want_hd and agreed.get("HeaderDigest") == "CRC32C"
        self.dd = want_dd and agreed.get("DataDigest") == "CRC32C"
        return r

    # ------------------------------------------------------------------ full feature phase
    def scsi(
        self,
        cdb: bytes,
        *,
        lun: int = 1,
        read: int = 0,
        write: bytes = b"",
        immediate: int | None = None,
        final: bool = True,
        itt: int | None = None,
        cmdsn: int | None = None,
        bidi_read: int | None = None,
        ahs: bytes | None = None,
    ) -> list[Reply]:
        """A SCSI Command; a CDB over 16 bytes goes in an Extended CDB AHS and ``bidi_read`` makes it
        bidirectional (R and W set, its Bidirectional Read Expected Data Transfer Length AHS);
        ``ahs`` replaces the AHS built from those (malformed ones in tests)."""
        itt = self.next_itt() if itt is None else itt
        bidi = bidi_read is not None
        b1 = (0x80 if final else 0) | (0x40 if read or bidi else 0) | (0x20 if write or bidi else 0) | 1
        edtl = len(write) if bidi else read or len(write)
        if ahs is None:
            ahs = (P.extended_cdb_ahs(cdb) if len(cdb) > 16 else b"") + (
                P.bidi_read_ahs(bidi_read) if bidi_read is not None else b"")
        cdb16 = cdb.ljust(16, b"\0")
        hdr = P.initiator_pdu(
            Opcode.SCSI_CMD,
            b1,
            encode_lun(lun),
            itt,
            w20=edtl,
            w24=self.cmdsn if cmdsn is None else cmdsn,
            w28=self.expstatsn,
        )
        hdr[32:48] = cdb16[:16]
        if cmdsn is None:
            self.cmdsn += 1
        imm = write[:immediate] if immediate is not None else b""
        self.send(hdr, imm, ahs)
        return self.replies()

    def data_out(
        self, itt: int, ttt: int, offset: int, data: bytes, datasn: int, final: bool = True, lun: int = 1
    ) -> list[Reply]:
        hdr = P.initiator_pdu(
            Opcode.DATA_OUT,
            0x80 if final else 0,
            encode_lun(lun),
            itt,
            w20=ttt,
            w28=self.expstatsn,
            w36=datasn,
            w40=offset,
        )
        self.send(hdr, data)
        return self.replies()

    def nop_out(self, data: bytes = b"ping") -> list[Reply]:
        hdr = P.initiator_pdu(
            Opcode.NOP_OUT,
            0x80,
            bytes(8),
            self.next_itt(),
            w20=RSVD_TAG,
            w24=self.cmdsn,
            w28=self.expstatsn,
            immediate=True,
        )
        self.send(hdr, data)
        return self.replies()

    def text(self, pairs: list[tuple[str, str]]) -> list[Reply]:
        hdr = P.initiator_pdu(
            Opcode.TEXT_REQ, 0x80, bytes(8), self.next_itt(), w20=RSVD_TAG, w24=self.cmdsn, w28=self.expstatsn
        )
        self.cmdsn += 1
        self.send(hdr, encode_text(pairs))
        return self.replies()

    def tmf(self, function: int, *, lun: int = 1, rtt: int = RSVD_TAG, refcmdsn: int = 0) -> list[Reply]:
        hdr = P.initiator_pdu(
            Opcode.TASK_MGMT_REQ,
            0x80 | function,
            encode_lun(lun),
            self.next_itt(),
            w20=rtt,
            w24=self.cmdsn,
            w28=self.expstatsn,
            w32=refcmdsn,
            immediate=True,
        )
        self.send(hdr)
        return self.replies()

    def logout(self, reason: int = 0) -> list[Reply]:
        hdr = P.initiator_pdu(
            Opcode.LOGOUT_REQ,
            0x80 | reason,
            bytes(8),
            self.next_itt(),
            w24=self.cmdsn,
            w28=self.expstatsn,
            immediate=True,
        )
        self.send(hdr)
        return self.replies()


def sense_of(reply: Reply) -> bytes:
    (n,) = struct.unpack_from(">H", reply.data)
    return reply.data[2 : 2 + n]
