"""The batch decode and encode of a burst of READ/WRITE PDUs, jitted with numba and written with
``struct``, for ``bench_micro.py`` to weigh against the fast lane in C (``hpt/native/quick.c``).

A burst is what one ``recv_into`` brings: whole SCSI Command PDUs (RFC 7143 11.3) back to back.
:func:`decode_burst` reads every complete one whose CDB is READ or WRITE 6/10/16 (SBC-4 5.15-5.17,
5.32-5.34) into a row: tag, opcode, LBA, blocks, FUA, DPO, the range check against the capacity and
the transfer length against the expected data transfer length. :func:`encode_data_in` builds the
Data-In headers with status (RFC 7143 11.7: StatSN, ExpCmdSN, MaxCmdSN, residual 0) of a burst of
READ completions. ``*_struct`` do the same per command with ``struct``, as the Python path does.
"""

from __future__ import annotations

import struct

import numpy as np
from numba import njit

# a row of decode_burst's output
ITT, OP, LBA, BLOCKS, FUA, DPO, OK, CMDSN = range(8)
COLUMNS = 8
BHS = 48


@njit(cache=True, nogil=True, inline="always")
def _be(buf: np.ndarray, pos: int, n: int) -> int:
    v = 0
    for i in range(n):
        v = (v << 8) | buf[pos + i]
    return v


@njit(cache=True, nogil=True)
def decode_burst(buf: np.ndarray, n: int, capacity: int, block: int, rows: np.ndarray) -> tuple[int, int]:
    """Decode the complete READ/WRITE commands at the start of ``buf[:n]`` into ``rows``: how many,
    and the bytes they took (the first PDU that is not one stops the batch)."""
    pos = 0
    k = 0
    while k < rows.shape[0] and pos + BHS <= n:
        if buf[pos] & 0x3F != 0x01:
            break
        dsl = _be(buf, pos + 5, 3)
        total = BHS + buf[pos + 4] * 4 + ((dsl + 3) & ~3)
        if pos + total > n:
            break
        cdb = pos + 32
        op = buf[cdb]
        fua = dpo = 0
        if op == 0x28 or op == 0x2A:
            lba, blocks = _be(buf, cdb + 2, 4), _be(buf, cdb + 7, 2)
            fua, dpo = (buf[cdb + 1] >> 3) & 1, (buf[cdb + 1] >> 4) & 1
        elif op == 0x88 or op == 0x8A:
            lba, blocks = _be(buf, cdb + 2, 8), _be(buf, cdb + 10, 4)
            fua, dpo = (buf[cdb + 1] >> 3) & 1, (buf[cdb + 1] >> 4) & 1
        elif op == 0x08 or op == 0x0A:
            lba, blocks = _be(buf, cdb + 1, 3) & 0x1FFFFF, np.int64(buf[cdb + 4])
            if blocks == 0:
                blocks = 256  # SBC-4 5.15: 0 means 256 blocks
        else:
            break
        row = rows[k]
        row[ITT] = _be(buf, pos + 16, 4)
        row[OP] = op
        row[LBA] = lba
        row[BLOCKS] = blocks
        row[FUA] = fua
        row[DPO] = dpo
        row[OK] = 1 if lba + blocks <= capacity and blocks * block == _be(buf, pos + 20, 4) else 0
        row[CMDSN] = _be(buf, pos + 24, 4)
        k += 1
        pos += total
    return k, pos


@njit(cache=True, nogil=True, inline="always")
def _put(out: np.ndarray, pos: int, n: int, v: int) -> None:
    for i in range(n - 1, -1, -1):
        out[pos + i] = v & 0xFF
        v >>= 8


@njit(cache=True, nogil=True)
def encode_data_in(rows: np.ndarray, k: int, lun: np.ndarray, block: int, statsn: int, expcmdsn: int,
                   maxcmdsn: int, out: np.ndarray) -> int:
    """One Data-In header with status (F and S, GOOD) per row of ``rows[:k]`` into ``out``; the next
    StatSN."""
    for i in range(k):
        p = i * BHS
        out[p:p + BHS] = 0
        out[p] = 0x25
        out[p + 1] = 0x81
        _put(out, p + 5, 3, rows[i, BLOCKS] * block & 0xFFFFFF)  # 24 bits, as on the wire
        out[p + 8:p + 16] = lun
        _put(out, p + 16, 4, rows[i, ITT])
        out[p + 20:p + 24] = 0xFF
        _put(out, p + 24, 4, statsn)
        _put(out, p + 28, 4, expcmdsn)
        _put(out, p + 32, 4, maxcmdsn)
        statsn = (statsn + 1) & 0xFFFFFFFF
    return statsn


_CMD = struct.Struct(">B3xB3s8xIII")  # opcode, AHS length, DSL, ITT, EDTL, CmdSN
_RW10 = struct.Struct(">BBIxH")
_RW16 = struct.Struct(">BBQI")
_DATA_IN = struct.Struct(">BBxBB3s8sIIIIIIII")


def decode_burst_struct(buf: memoryview, n: int, capacity: int,
                        block: int) -> tuple[list[tuple[int, ...]], int]:
    """:func:`decode_burst` with ``struct``, a command at a time."""
    rows: list[tuple[int, ...]] = []
    pos = 0
    while pos + BHS <= n:
        op, ahs, dsl3, itt, edtl, cmdsn = _CMD.unpack_from(buf, pos)
        if op & 0x3F != 0x01:
            break
        dsl = int.from_bytes(dsl3, "big")
        total = BHS + ahs * 4 + ((dsl + 3) & ~3)
        if pos + total > n:
            break
        cdb = pos + 32
        code = buf[cdb]
        if code in (0x28, 0x2A):
            _, b1, lba, blocks = _RW10.unpack_from(buf, cdb)
            fua, dpo = (b1 >> 3) & 1, (b1 >> 4) & 1
        elif code in (0x88, 0x8A):
            _, b1, lba, blocks = _RW16.unpack_from(buf, cdb)
            fua, dpo = (b1 >> 3) & 1, (b1 >> 4) & 1
        elif code in (0x08, 0x0A):
            lba = int.from_bytes(buf[cdb + 1:cdb + 4], "big") & 0x1FFFFF
            blocks = buf[cdb + 4] or 256
            fua = dpo = 0
        else:
            break
        ok = int(lba + blocks <= capacity and blocks * block == edtl)
        rows.append((itt, code, lba, blocks, fua, dpo, ok, cmdsn))
        pos += total
    return rows, pos


def encode_data_in_struct(rows: list[tuple[int, ...]], lun: bytes, block: int, statsn: int, expcmdsn: int,
                          maxcmdsn: int, out: bytearray) -> int:
    """:func:`encode_data_in` with ``struct``, a header at a time."""
    for i, row in enumerate(rows):
        dsl = (row[BLOCKS] * block & 0xFFFFFF).to_bytes(3, "big")
        _DATA_IN.pack_into(out, i * BHS, 0x25, 0x81, 0, 0, dsl, lun, row[ITT], 0xFFFFFFFF, statsn, expcmdsn,
                           maxcmdsn, 0, 0, 0)
        statsn = (statsn + 1) & 0xFFFFFFFF
    return statsn
