"""NullStore: zeroes in, nothing kept."""

from __future__ import annotations

import pytest

from hpt.store.null import NullStore


@pytest.mark.parametrize("n", [1, 4096, (1 << 20) + 7, 3 << 20])
def test_reads_zeroes_whatever_was_written(n) -> None:
    s = NullStore(8 << 20)
    s.write_from(0, memoryview(b"\xff" * n))
    buf = bytearray(b"\xaa" * n)
    s.read_into(0, memoryview(buf))
    assert buf == bytes(n)


def test_everything_is_deallocated() -> None:
    s = NullStore(1 << 20)
    s.discard(0, 4096)
    s.write_zeroes(0, 4096)
    s.sync()
    assert s.supports_discard
    assert s.mapped_extent(4096) == (False, (1 << 20) - 4096)


def test_bad_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        NullStore(-1)
