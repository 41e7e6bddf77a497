"""A small iSCSI initiator over a real socket for live-administration tests: login without CHAP,
SCSI commands pipelined up to a window, responses matched by tag (RFC 7143 11.3, 11.4, 11.12)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.iscsi.text import encode_text, parse_text
from hpt.scsi.core.lun import encode_lun


@dataclass
class Response:
    tag: int
    status: int
    sense: bytes
    data: bytes

    @property
    def sense_key_asc(self) -> tuple[int, int, int]:
        s = self.sense
        return (s[2] & 0xF, s[12], s[13]) if len(s) >= 14 else (0, 0, 0)


class WireInitiator:
    def __init__(self, port: int, target: str, name: str = "iqn.2026-11.org.hpt.test:wire",
                 isid: int = 0x23D000000042) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.target, self.name, self.isid = target, name, isid
        self.itt, self.cmdsn, self.expstatsn = 0, 1, 0
        self.data_in: dict[int, bytearray] = {}

    def _send(self, hdr: bytearray, data: bytes = b"") -> None:
        P.set_dsl(hdr, len(data))
        self.sock.sendall(bytes(hdr) + data + b"\0" * (-len(data) & 3))

    def _recv(self) -> tuple[bytes, bytes]:
        hdr = self._exact(48)
        dsl = int.from_bytes(hdr[5:8], "big")
        data = self._exact(dsl + (-dsl & 3))[:dsl]
        return hdr, data

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("target closed the connection")
            buf += chunk
        return bytes(buf)

    def login(self) -> int:
        """Log in (security stage without CHAP, then operational, answering what the target offers);
        the login status (0: success)."""
        keys = [("InitiatorName", self.name), ("SessionType", "Normal"), ("TargetName", self.target),
                ("AuthMethod", "None")]
        ops = [("HeaderDigest", "None"), ("DataDigest", "None"), ("ImmediateData", "Yes"),
               ("InitialR2T", "No")]
        steps = [(0, 1, keys), (1, 3, ops)]
        sent = {k for k, _ in ops}
        while steps:
            csg, nsg, pairs = steps.pop(0)
            lun = self.isid.to_bytes(6, "big") + bytes(2)
            hdr = P.initiator_pdu(Opcode.LOGIN_REQ, 0x80 | (csg << 2) | nsg, lun, self.itt, w24=self.cmdsn,
                                  w28=self.expstatsn, immediate=True)
            self._send(hdr, encode_text(pairs))
            rsp, data = self._recv()
            status = struct.unpack_from(">H", rsp, 36)[0]
            self.expstatsn = struct.unpack_from(">I", rsp, 24)[0] + 1
            if status:
                return int(status)
            if csg == 1 and not rsp[1] & 0x80:  # the target offers keys: accept them (RFC 7143 6.2)
                offered = [(k, v) for k, v in parse_text(data) if k not in sent
                           and k != "MaxRecvDataSegmentLength"]
                sent |= {k for k, _ in offered}
                steps.append((1, 3, offered))
        return 0

    def send(self, cdb: bytes, *, lun: int, read: int = 0, write: bytes = b"", writes: int = 0) -> int:
        """Send a command (write data as immediate data; ``writes``: the bytes it will write, when more
        than that data: the rest waits for an R2T); its tag."""
        self.itt += 1
        writes = max(writes, len(write))
        b1 = 0x80 | (0x40 if read else 0) | (0x20 if writes else 0) | 1
        hdr = P.initiator_pdu(Opcode.SCSI_CMD, b1, encode_lun(lun), self.itt, w20=read or writes,
                              w24=self.cmdsn, w28=self.expstatsn)
        hdr[32:48] = cdb.ljust(16, b"\0")
        self.cmdsn += 1
        self._send(hdr, write)
        return self.itt

    def response(self) -> Response:
        """The next SCSI response (Data-In collected on the way; a status in Data-In counts too)."""
        while True:
            hdr, data = self._recv()
            op = hdr[0] & 0x3F
            tag = struct.unpack_from(">I", hdr, 16)[0]
            if op == Opcode.DATA_IN:
                self.data_in.setdefault(tag, bytearray()).extend(data)
                if hdr[1] & 0x01:  # S bit: the status is here
                    return Response(tag, hdr[3], b"", bytes(self.data_in.pop(tag)))
            elif op == Opcode.SCSI_RSP:
                sense = data[2:2 + struct.unpack_from(">H", data)[0]] if data else b""
                return Response(tag, hdr[3], sense, bytes(self.data_in.pop(tag, b"")))

    def command(self, cdb: bytes, *, lun: int, read: int = 0, write: bytes = b"") -> Response:
        self.send(cdb, lun=lun, read=read, write=write)
        return self.response()

    def close(self) -> None:
        self.sock.close()


def tur() -> bytes:
    return bytes(6)


def report_luns() -> bytes:
    return bytes([0xA0, 0, 0, 0, 0, 0]) + (4096).to_bytes(4, "big") + bytes(2)


def write10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0)


def luns_of(data: bytes) -> list[int]:
    n = struct.unpack_from(">I", data)[0] // 8
    return [struct.unpack_from(">H", data, 8 + 8 * i)[0] & 0x3FFF for i in range(n)]
