"""The CUnit output reader that conformance numbers depend on."""

from tests.integration.cunit import parse_cunit

SAMPLE = """
Suite: CompareAndWrite
  Test: Simple ...    [SKIPPED] COMPAREANDWRITE is not implemented.
    [SKIPPED] COMPAREANDWRITE is not implemented.
passed
  Test: DpoFua ...passed
Suite: GetLBAStatus
  Test: BeyondEol ...    [FAILED] GET_LBA_STATUS successful but should have failed
FAILED
    1. test_get_lba_status_beyond_eol.c:38  - CU_ASSERT_EQUAL(_r,0)
Suite: Reserve6
  Test: LUNReset ...passed    [FAILED] PRIN command: failed with sense.
  Test: Hang ...    something logged
"""


def test_outcomes() -> None:
    r = parse_cunit(SAMPLE)
    assert r.outcomes == {
        "CompareAndWrite.Simple": "skipped",
        "CompareAndWrite.DpoFua": "passed",
        "GetLBAStatus.BeyondEol": "failed",
        "Reserve6.LUNReset": "passed",
        "Reserve6.Hang": "failed",  # output ended inside the test: the run died there
    }
    c = r.count()
    assert (c["passed"], c["skipped"], c["failed"]) == (2, 1, 2)
    assert r.failed() == ["GetLBAStatus.BeyondEol", "Reserve6.Hang"]
    assert "TOTAL" in r.table().splitlines()[-1]
