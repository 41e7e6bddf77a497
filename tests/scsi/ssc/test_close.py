"""A tape LU going away (hptd stopping, the LUN deleted) closes its cartridge in order: the index is
written and the header marked clean (docs/media.md), so the next load reads no record headers."""

from __future__ import annotations

from pathlib import Path

from hpt.media.tape import inspect
from hpt.scsi.lu import LogicalUnit
from tests.scsi.conftest import Initiator

from .tape import write6


def test_release_closes_the_cartridge(lu: LogicalUnit, a: Initiator, cartridge: Path) -> None:
    assert a.run(write6(100), b"x" * 100).good
    assert not inspect(cartridge).clean  # written to: recovery would walk the records
    lu.release()
    info = inspect(cartridge)
    assert info.clean and info.index_offset > 0 and lu.state.cartridge is None
