"""The OSD initiator's iSCSI transport over a real socket: the repo's WireInitiator with the Extended CDB
AHS, bidirectional commands (the Bidirectional Read Expected Data Transfer Length AHS), write data as
immediate data then Data-Out PDUs answering R2Ts, Data-In gathered by offset (RFC 7143 11.2.2, 11.3,
11.7, 11.8), and every byte it sends and receives recorded in order (for a capture file)."""

from __future__ import annotations

import struct

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.lun import encode_lun
from tests.integration.wire import WireInitiator

from .initiator import Reply

SEGMENT = 8192  # data per PDU: the MaxRecvDataSegmentLength every target accepts (RFC 7143 13.12)


class OsdWire(WireInitiator):
    """A logged-in session's SCSI commands with AHS and bidirectional data; ``record`` holds
    (True for initiator-to-target, bytes) in the order they crossed the socket."""

    def __init__(self, port: int, target: str) -> None:
        super().__init__(port, target, name="iqn.2026-11.org.hpt.test:osd-initiator")
        self.record: list[tuple[bool, bytes]] = []

    def _send(self, hdr: bytearray, data: bytes = b"", ahs: bytes = b"") -> None:
        P.set_dsl(hdr, len(data))
        hdr[4] = len(ahs) // 4
        wire = bytes(hdr) + ahs + data + b"\0" * (-len(data) & 3)
        self.record.append((True, wire))
        self.sock.sendall(wire)

    def _exact(self, n: int) -> bytes:
        got = super()._exact(n)
        self.record.append((False, got))
        return got

    def run(self, cdb: bytes, lun: int, out: bytes = b"", read: int = 0) -> Reply:
        """One command to its response: status, sense and the Data-In bytes (as many as sent)."""
        self.itt += 1
        itt = self.itt
        bidi = bool(out) and bool(read)
        ahs = P.extended_cdb_ahs(cdb) if len(cdb) > 16 else b""
        if bidi:
            ahs += P.bidi_read_ahs(read)
        b1 = 0x80 | (0x40 if read else 0) | (0x20 if out else 0) | 1
        hdr = P.initiator_pdu(Opcode.SCSI_CMD, b1, encode_lun(lun), itt, w20=len(out) if out else read,
                              w24=self.cmdsn, w28=self.expstatsn)
        hdr[32:48] = cdb[:16].ljust(16, b"\0")
        self.cmdsn += 1
        self._send(hdr, out[:SEGMENT], ahs)
        data = bytearray(read)
        while True:
            rsp, seg = self._recv_ahs()
            op = rsp[0] & 0x3F
            if op == Opcode.NOP_IN:  # the target's keepalive (RFC 7143 11.19): answered, then on
                self._answer_nop(rsp)
                continue
            if struct.unpack_from(">I", rsp, 16)[0] != itt:
                raise AssertionError(f"a PDU of another task: {rsp[:20].hex()}")
            if op == Opcode.R2T:
                (ttt,) = struct.unpack_from(">I", rsp, 20)
                offset, length = struct.unpack_from(">II", rsp, 40)
                self._data_out(lun, itt, ttt, out, offset, length)
            elif op == Opcode.DATA_IN:
                offset = struct.unpack_from(">I", rsp, 40)[0]
                data[offset:offset + len(seg)] = seg
                if rsp[1] & 0x01:  # S: the status is here, with the residual (U) of a read
                    self.expstatsn = struct.unpack_from(">I", rsp, 24)[0] + 1
                    short = struct.unpack_from(">I", rsp, 44)[0] if rsp[1] & 0x02 else 0
                    return Reply(rsp[3], b"", bytes(data[:read - short]))
            elif op == Opcode.SCSI_RSP:
                self.expstatsn = struct.unpack_from(">I", rsp, 24)[0] + 1
                sense = seg[2:2 + struct.unpack_from(">H", seg)[0]] if seg else b""
                flags = rsp[1]
                residual = struct.unpack_from(">I", rsp, 40 if bidi else 44)[0]
                under = flags & (0x08 if bidi else 0x02)
                got = read - residual if under else read
                return Reply(rsp[3], sense, bytes(data[:got]))
            else:
                raise AssertionError(f"unexpected PDU opcode {op:#x}")

    def _recv_ahs(self) -> tuple[bytes, bytes]:
        hdr = self._exact(48)
        ahs_len = hdr[4] * 4
        if ahs_len:
            self._exact(ahs_len)
        dsl = int.from_bytes(hdr[5:8], "big")
        return hdr, self._exact(dsl + (-dsl & 3))[:dsl]

    def _answer_nop(self, nop: bytes) -> None:
        """A NOP-In with a target transfer tag wants a NOP-Out echoing it (RFC 7143 11.18)."""
        (ttt,) = struct.unpack_from(">I", nop, 20)
        if ttt != P.RSVD_TAG:
            hdr = P.initiator_pdu(Opcode.NOP_OUT, 0x80, nop[8:16], P.RSVD_TAG, w20=ttt, w24=self.cmdsn,
                                  w28=self.expstatsn, immediate=True)
            self._send(hdr)

    def _data_out(self, lun: int, itt: int, ttt: int, out: bytes, offset: int, length: int) -> None:
        """Answer an R2T: Data-Out PDUs of at most SEGMENT bytes, DataSN from 0, F on the last."""
        end, datasn = offset + length, 0
        while offset < end:
            n = min(SEGMENT, end - offset)
            hdr = P.initiator_pdu(Opcode.DATA_OUT, 0x80 if offset + n >= end else 0, encode_lun(lun), itt,
                                  w20=ttt, w28=self.expstatsn, w36=datasn, w40=offset)
            self._send(hdr, out[offset:offset + n])
            offset += n
            datasn += 1

    def transport(self, lun: int):  # noqa: ANN201 - the initiator's Transport
        return lambda cdb, out, read: self.run(cdb, lun, out, read)
