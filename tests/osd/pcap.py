"""A capture file (libpcap, Ethernet/IPv4/TCP) made from the bytes an initiator exchanged with a target,
in the order they crossed the socket, so a protocol analyser decodes them as one TCP connection to
port 3260 (the handshake and the sequence numbers are made up; the payload is what was sent)."""

from __future__ import annotations

import struct
from pathlib import Path

INITIATOR, TARGET = (bytes([127, 0, 0, 1]), 51000), (bytes([127, 0, 0, 2]), 3260)
MSS = 16000


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(src: tuple[bytes, int], dst: tuple[bytes, int], seq: int, ack: int, flags: int,
           payload: bytes) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src[0], dst[0])
    ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
    return bytes(12) + b"\x08\x00" + ip + tcp


def write_pcap(path: Path, record: list[tuple[bool, bytes]]) -> int:
    """Write ``record`` ((from the initiator?, bytes) in order) as a capture; the number of frames."""
    seq = {True: 1000, False: 5000}
    frames = [_frame(INITIATOR, TARGET, seq[True] - 1, 0, 0x02, b""),
              _frame(TARGET, INITIATOR, seq[False] - 1, seq[True], 0x12, b""),
              _frame(INITIATOR, TARGET, seq[True], seq[False], 0x10, b"")]
    for outbound, data in record:
        src, dst = (INITIATOR, TARGET) if outbound else (TARGET, INITIATOR)
        for off in range(0, len(data), MSS):
            chunk = data[off:off + MSS]
            frames.append(_frame(src, dst, seq[outbound], seq[not outbound], 0x18, chunk))
            seq[outbound] = (seq[outbound] + len(chunk)) & 0xFFFFFFFF
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, frame in enumerate(frames):
            fh.write(struct.pack("<IIII", i // 1000, (i % 1000) * 1000, len(frame), len(frame)) + frame)
    return len(frames)
