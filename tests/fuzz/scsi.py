"""What every command of the CDB harness must end in: a status SAM-5 allows here, with a well-formed sense
that names a defined condition (never the HARDWARE ERROR an escaped exception becomes), within a bound."""

from __future__ import annotations

import threading

from hpt.scsi.core.command import Nexus, ScsiCommand, ScsiResult, TaskAttr
from hpt.scsi.core.constants import SenseKey, Status
from hpt.scsi.lu import LogicalUnit

NEXUS = Nexus("iqn.2026-11.org.hpt.fuzz:ini,i,0x23d000000001", "iqn.2026-11.org.hpt:fuzz,t,0x0001",
              "iqn.2026-11.org.hpt.fuzz:ini", 0x23D000000001, 1)
HANG = 60.0  # seconds: a command still running then is a hang, not a slow machine
STATUSES = {Status.GOOD, Status.CHECK_CONDITION, Status.CONDITION_MET, Status.RESERVATION_CONFLICT,
            Status.BUSY, Status.TASK_SET_FULL}


def run(lu: LogicalUnit, cdb: bytes, data_out: bytes | None, alloc: int,
        attr: TaskAttr = TaskAttr.SIMPLE) -> ScsiResult:
    """Submit one command and wait for it (failing on a hang instead of waiting forever)."""
    box: list[ScsiResult] = []
    ended = threading.Event()

    def done(result: ScsiResult) -> None:
        box.append(result)
        ended.set()

    cmd = ScsiCommand(lu.lun, cdb, NEXUS, attr=attr,
                      data_out=None if data_out is None else memoryview(bytearray(data_out)),
                      data_in=memoryview(bytearray(alloc)), expected_in=alloc,
                      expected_out=0 if data_out is None else len(data_out))
    lu.submit(cmd, done)
    assert ended.wait(HANG), f"no answer to CDB {cdb.hex()} within {HANG} s"
    assert len(box) == 1, f"CDB {cdb.hex()} answered {len(box)} times"
    return box[0]


def check_sense(sense: bytes, cdb: bytes) -> None:
    """Fixed (70h/71h) or descriptor (72h/73h) sense whose ADDITIONAL SENSE LENGTH fits (SPC-5 4.4)."""
    assert len(sense) >= 8, f"CDB {cdb.hex()}: sense {sense.hex()} too short"
    code = sense[0] & 0x7F
    assert code in (0x70, 0x71, 0x72, 0x73), f"CDB {cdb.hex()}: response code {code:#x}"
    key = (sense[1] if code >= 0x72 else sense[2]) & 0x0F
    assert 8 + sense[7] == len(sense), f"CDB {cdb.hex()}: additional length {sense[7]} of {sense.hex()}"
    if code < 0x72:
        assert len(sense) >= 14, f"CDB {cdb.hex()}: fixed sense {sense.hex()} without its ASC"
    assert key != SenseKey.HARDWARE_ERROR, f"CDB {cdb.hex()}: an internal failure: {sense.hex()}"
    if key == SenseKey.NO_SENSE:
        assert flagged(sense), f"CDB {cdb.hex()}: CHECK CONDITION with nothing to report: {sense.hex()}"


def flagged(sense: bytes) -> bool:
    """NO SENSE says something with a FILEMARK, EOM or ILI flag or an additional sense code (a tape's
    READ, SPACE or early warning, SSC-5 4.2)."""
    if sense[0] & 0x7F in (0x70, 0x71):
        return bool(sense[2] & 0xE0) or sense[12] != 0
    return sense[2] != 0 or any(sense[8 + i] == 0x04 and sense[11 + i] & 0xE0 for i in range(0, sense[7], 4))


def check(result: ScsiResult, cdb: bytes) -> None:
    assert result.status in STATUSES, f"CDB {cdb.hex()}: status {result.status:#x}"
    if result.status == Status.CHECK_CONDITION:
        check_sense(bytes(result.sense), cdb)
