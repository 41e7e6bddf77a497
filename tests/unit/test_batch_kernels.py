"""The benchmarks' batch kernels (perf/batch_kernels.py) decode and encode what struct does, so the
figures in perf/README.md compare like with like."""

from __future__ import annotations

import random
import struct

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed (pip install .[perf])")
k = pytest.importorskip("perf.batch_kernels", reason="numba is not installed (pip install .[perf])")


def command(itt: int, cdb: bytes, edtl: int, cmdsn: int, data: bytes = b"") -> bytes:
    hdr = bytearray(48)
    hdr[0] = 0x01
    hdr[1] = 0xC1
    hdr[5:8] = len(data).to_bytes(3, "big")
    struct.pack_into(">III", hdr, 16, itt, edtl, cmdsn)
    hdr[32:32 + len(cdb)] = cdb
    return bytes(hdr) + data + bytes(-len(data) & 3)


def random_cdb(rng: random.Random) -> tuple[bytes, int]:
    """A READ or WRITE of 6, 10 or 16 bytes, flags and all; its blocks."""
    op = rng.choice([0x08, 0x0A, 0x28, 0x2A, 0x88, 0x8A])
    flags = rng.choice([0, 0x08, 0x10, 0x18])
    if op in (0x08, 0x0A):
        blocks = rng.randrange(256)
        return struct.pack(">BBHBB", op, rng.randrange(32), rng.randrange(1 << 16), blocks, 0), blocks or 256
    if op in (0x28, 0x2A):
        blocks = rng.randrange(1 << 16)
        return struct.pack(">BBIBHB", op, flags, rng.randrange(1 << 32), 0, blocks, 0), blocks
    blocks = rng.randrange(1 << 20)
    return struct.pack(">BBQIBB", op, flags, rng.randrange(1 << 40), blocks, 0, 0), blocks


@pytest.mark.parametrize("seed", range(20))
def test_numba_and_struct_decode_and_encode_alike(seed: int) -> None:
    rng = random.Random(seed)
    burst = b""
    for i in range(rng.randrange(1, 40)):
        cdb, blocks = random_cdb(rng)
        edtl = blocks * 512 if rng.random() < 0.8 else rng.randrange(1 << 24)
        burst += command(i + 7, cdb, edtl, 100 + i, bytes(rng.randrange(3)) if rng.random() < 0.2 else b"")
    if rng.random() < 0.5:
        burst += bytes([0x00]) + bytes(47)  # a NOP-Out ends the batch
    cut = len(burst) - rng.randrange(0, 60)  # and maybe a PDU cut short
    capacity = rng.randrange(1 << 33)
    rows = np.empty((64, k.COLUMNS), dtype=np.int64)
    n, taken = k.decode_burst(np.frombuffer(burst, dtype=np.uint8), cut, capacity, 512, rows)
    expected, taken_struct = k.decode_burst_struct(memoryview(burst), cut, capacity, 512)
    assert (n, taken) == (len(expected), taken_struct)
    assert [tuple(r) for r in rows[:n].tolist()] == expected
    lun = bytes(range(8))
    out = np.zeros(48 * 64, dtype=np.uint8)
    out_struct = bytearray(48 * 64)
    assert (k.encode_data_in(rows, n, np.frombuffer(lun, dtype=np.uint8), 512, 0xFFFFFFF0, 5, 9, out)
            == k.encode_data_in_struct(expected, lun, 512, 0xFFFFFFF0, 5, 9, out_struct))
    assert out.tobytes()[:48 * n] == bytes(out_struct[:48 * n])


def test_a_read_decodes_to_its_fields() -> None:
    cdb = struct.pack(">BBIBHB", 0x28, 0x18, 1000, 0, 8, 0)  # READ(10), DPO and FUA
    burst = command(9, cdb, 4096, 3) + command(10, cdb, 4096, 4)
    rows = np.empty((4, k.COLUMNS), dtype=np.int64)
    assert k.decode_burst(np.frombuffer(burst, dtype=np.uint8), len(burst), 1008, 512, rows) == (2, 96)
    assert rows[0].tolist() == [9, 0x28, 1000, 8, 1, 1, 1, 3]
    assert k.decode_burst(np.frombuffer(burst, dtype=np.uint8), len(burst), 1007, 512, rows)[0] == 2
    assert rows[0, k.OK] == 0  # past the capacity
