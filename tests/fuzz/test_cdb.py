"""CDBs through every device type's opcode table: any bytes after the opcode (its service action kept so
the table finds the command, or any opcode at all), any Data-Out, any allocation, a few commands in a row
on a fresh LU of each type. Every command ends in a status with a well-formed sense naming a defined
condition (``tests/fuzz/scsi.py``), none hangs, and none makes the target allocate beyond a bound."""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpt.scsi.core.command import TaskAttr
from hpt.scsi.core.constants import Status
from hpt.scsi.core.opcodes import SA_IN_BYTE1, VARIABLE_LENGTH, OpcodeEntry
from hpt.scsi.lu import LogicalUnit
from tests.fuzz import budget
from tests.fuzz.devices import DEVICES, close
from tests.fuzz.scsi import check, run

MEMORY = 64 << 20  # what one command may allocate on top of its buffers
INQUIRY = bytes((0x12, 0, 0, 0, 96, 0))

# bytes that reach the interesting values of length, LBA and flag fields more often than uniform bytes
BYTE = st.one_of(st.sampled_from((0, 0, 0, 1, 2, 0x08, 0x10, 0x80, 0xFF)), st.integers(0, 255))


def entries(builder_name: str) -> list[OpcodeEntry]:
    with tempfile.TemporaryDirectory() as tmp:
        lu = DEVICES[builder_name](Path(tmp))
        found = sorted(lu.table, key=lambda e: (e.opcode, e.service_action or 0))
        close(lu)
    return found


TABLES = {name: entries(name) for name in DEVICES}


@st.composite
def cdbs(draw: st.DrawFn, table: list[OpcodeEntry]) -> bytes:
    """A CDB of a command in ``table`` (opcode and service action kept), or now and then of any opcode."""
    if draw(st.integers(0, 9)) == 0:
        return bytes(draw(st.lists(BYTE, min_size=1, max_size=32)))
    entry = draw(st.sampled_from(table))
    size = entry.cdb_len if entry.cdb_len else draw(st.integers(10, 260))
    raw = bytearray(draw(st.lists(BYTE, min_size=size, max_size=size)))
    raw[0] = entry.opcode
    if entry.service_action is not None:
        if entry.opcode in SA_IN_BYTE1:
            raw[1] = (raw[1] & 0xE0) | entry.service_action
        elif entry.opcode == VARIABLE_LENGTH:
            raw[8:10] = entry.service_action.to_bytes(2, "big")
    if entry.opcode == VARIABLE_LENGTH and draw(st.booleans()):
        raw[7] = len(raw) - 8  # ADDITIONAL CDB LENGTH right more often than not
    return bytes(raw)


@st.composite
def commands(draw: st.DrawFn, table: list[OpcodeEntry]) -> tuple[bytes, bytes | None, int, TaskAttr]:
    cdb = draw(cdbs(table))
    data = draw(st.one_of(st.none(), st.binary(max_size=4096), st.binary(min_size=512, max_size=512)))
    alloc = draw(st.sampled_from((0, 8, 96, 512, 4096, 65536)))
    attr = draw(st.sampled_from((TaskAttr.SIMPLE,) * 6 + (TaskAttr.ORDERED, TaskAttr.HEAD_OF_QUEUE,
                                                          TaskAttr.ACA)))
    return cdb, data, alloc, attr


@pytest.fixture(scope="module")
def memory() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def exercise(name: str, lu: LogicalUnit, sequence: list[tuple[bytes, bytes | None, int, TaskAttr]]) -> None:
    for cdb, data, alloc, attr in sequence:
        budget.count(f"cdb-{name}")
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        check(run(lu, cdb, data, alloc, attr), cdb)
        peak = tracemalloc.get_traced_memory()[1] - base
        assert peak < MEMORY + alloc + len(data or b""), f"CDB {cdb.hex()} allocated {peak} bytes"
    # the LU still serves: INQUIRY is answered whatever came before
    assert run(lu, INQUIRY, None, 96).status == Status.GOOD


def harness(name: str, examples: int):  # type: ignore[no-untyped-def]
    @budget.fuzz_settings(examples)
    @given(sequence=st.lists(commands(TABLES[name]), min_size=1, max_size=4))
    def test(memory: None, sequence: list[tuple[bytes, bytes | None, int, TaskAttr]]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            lu = DEVICES[name](Path(tmp))
            try:
                exercise(name, lu, sequence)
            finally:
                close(lu)
    test.__name__ = f"test_cdbs_{name.replace('-', '_')}"
    test.__doc__ = f"Random command sequences on a fresh {name} LU."
    return test


test_cdbs_disk = harness("disk", 80)
test_cdbs_disk_4k_file = harness("disk-4k-file", 40)
test_cdbs_tape = harness("tape", 60)
test_cdbs_changer = harness("changer", 80)
test_cdbs_dvd_rom = harness("dvd-rom", 40)
test_cdbs_dvd_blank = harness("dvd-blank", 30)
test_cdbs_dvd_empty = harness("dvd-empty", 30)
test_cdbs_osd = harness("osd", 40)
