"""The in-memory index of a cartridge, and its on-medium copy written at an orderly close.

``checkpoints[i]`` is the header offset of logical object ``i * STRIDE``, so finding any object reads
at most ``STRIDE - 1`` record headers after one array lookup; ``filemarks`` lists the object numbers of
the filemarks in order, so SPACE over filemarks and READ POSITION's file number are a bisection. The
index is rebuilt from the record headers when no valid copy is on the medium (after a crash).
"""

from __future__ import annotations

import struct
import zlib
from array import array
from bisect import bisect_left

STRIDE = 64  # objects between checkpoints
MAGIC = b"HIDX"
_HEAD = struct.Struct(">4sIQQQ")  # magic, stride, objects, checkpoints, filemarks


_LITTLE = array("Q", [1]).tobytes()[0] == 1


def _big_endian(values: array[int]) -> bytes:
    if not _LITTLE:
        return values.tobytes()
    copy = array("Q", values)
    copy.byteswap()
    return copy.tobytes()


class Index:
    """Checkpoint offsets and filemark object numbers of the records before end of data."""

    def __init__(self) -> None:
        self.checkpoints = array("Q")
        self.filemarks = array("Q")
        self.objects = 0  # logical objects before end of data

    def add(self, obj: int, offset: int, filemark: bool) -> None:
        """Record object ``obj`` (always the next one) at ``offset``."""
        if obj % STRIDE == 0:
            self.checkpoints.append(offset)
        if filemark:
            self.filemarks.append(obj)
        self.objects = obj + 1

    def truncate(self, obj: int) -> None:
        """Forget objects ``obj`` and later (a write or erase made ``obj`` end of data)."""
        del self.checkpoints[(obj + STRIDE - 1) // STRIDE:]
        del self.filemarks[bisect_left(self.filemarks, obj):]
        self.objects = obj

    def start(self, obj: int) -> tuple[int, int]:
        """(object, header offset) of the checkpoint at or before ``obj``."""
        i = obj // STRIDE
        return i * STRIDE, self.checkpoints[i]

    def files_before(self, obj: int) -> int:
        """Filemarks among objects ``0 .. obj - 1``: the logical file identifier at ``obj``."""
        return bisect_left(self.filemarks, obj)

    def encode(self) -> bytes:
        body = (_HEAD.pack(MAGIC, STRIDE, self.objects, len(self.checkpoints), len(self.filemarks))
                + _big_endian(self.checkpoints) + _big_endian(self.filemarks))
        return body + struct.pack(">I", zlib.crc32(body))


def decode(raw: bytes) -> Index | None:
    """The index in ``raw`` (read at end of data), or None when it is missing, torn or of another stride."""
    if len(raw) < _HEAD.size + 4:
        return None
    magic, stride, objects, nck, nfm = _HEAD.unpack_from(raw)
    end = _HEAD.size + 8 * (nck + nfm)
    if magic != MAGIC or stride != STRIDE or end + 4 > len(raw):
        return None
    if struct.unpack_from(">I", raw, end)[0] != zlib.crc32(raw[:end]):
        return None
    index = Index()
    index.objects = objects
    index.checkpoints.frombytes(raw[_HEAD.size:_HEAD.size + 8 * nck])
    index.filemarks.frombytes(raw[_HEAD.size + 8 * nck:end])
    if _LITTLE:  # arrays are native-endian; the medium is big-endian
        index.checkpoints.byteswap()
        index.filemarks.byteswap()
    return index if len(index.checkpoints) == (objects + STRIDE - 1) // STRIDE else None


def encoded_size(raw_head: bytes) -> int:
    """The size of the index whose first bytes are ``raw_head`` (0 when it is not one)."""
    if len(raw_head) < _HEAD.size or raw_head[:4] != MAGIC:
        return 0
    _, _, _, nck, nfm = _HEAD.unpack_from(raw_head)
    return _HEAD.size + 8 * (nck + nfm) + 4


HEAD_SIZE = _HEAD.size
