"""Every MMC opcode, with any CDB bytes and parameter data, on a DVD-ROM, a blank DVD+R and an empty
drive, ends in GOOD or CHECK CONDITION with a sense the command set defines: never an internal failure
(HARDWARE ERROR, the handler crashed) and never a hang."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpt.media import disc
from hpt.scsi.core.constants import SenseKey, Status
from hpt.scsi.mmc.table import MMC_ENTRIES
from tests.scsi.conftest import HOST_A, _initiator

from .conftest import _target, dvd_lu, make_iso

OPCODES = sorted({e.opcode for e in MMC_ENTRIES})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opcode=st.sampled_from(OPCODES), rest=st.binary(min_size=11, max_size=11),
       data=st.binary(max_size=96), which=st.sampled_from(("rom", "blank", "empty")))
def test_no_cdb_crashes_the_drive(tmp_path: Path, opcode: int, rest: bytes, data: bytes, which: str) -> None:
    path: Path | None = None
    if which == "rom":
        path = tmp_path / "r.iso"
        if not path.exists():
            make_iso(path)
    elif which == "blank":
        path = tmp_path / "BLANK"
        path.unlink(missing_ok=True)
        disc.create(path, 512)
    lu = dvd_lu(path)
    ini = _initiator(_target(lu), HOST_A, 1)
    cdb = bytes((opcode,)) + rest
    entry = next(e for e in MMC_ENTRIES if e.opcode == opcode)
    r = ini.run(cdb[:entry.cdb_len - 1] + b"\x00", data or None, alloc=64 << 10)
    assert r.status in (Status.GOOD, Status.CHECK_CONDITION), r.result
    if r.status == Status.CHECK_CONDITION:
        assert r.asc.key not in (SenseKey.HARDWARE_ERROR, SenseKey.NO_SENSE), (cdb.hex(), r.asc)
    if lu.state.disc is not None:
        lu.state.disc.close()
