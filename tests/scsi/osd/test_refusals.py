"""The bad paths of the service actions not covered beside their good paths: each refused with the
field it names, the store unchanged."""

from __future__ import annotations

import pytest

from tests.osd.initiator import (
    COLLECTION,
    CREATE_AND_WRITE,
    CREATE_COLLECTION,
    FLUSH_OSD,
    FLUSH_PARTITION,
    FORMAT_OSD,
    LIST_COLLECTION,
    PARTITION,
    OsdClient,
    capability,
    cdb,
)

from .support import refused

INVALID_CDB = (0x5, 0x24, 0x00)
MISSING = 0x7777777


@pytest.fixture
def ids(osd: OsdClient) -> tuple[int, int]:
    pid = osd.create_partition()
    return pid, osd.create(pid)


def test_format_osd_needs_a_root_capability(osd: OsdClient, ids: tuple[int, int]) -> None:
    refused(osd, cdb(FORMAT_OSD, cap=capability(0, 0, PARTITION)), INVALID_CDB, field=80 + 48)
    refused(osd, cdb(FORMAT_OSD, cap=capability(0, 0, 0x01, permissions=0x8000)), INVALID_CDB, field=80 + 49)
    assert osd.list(0)[0] == [ids[0]]  # nothing was formatted


def test_creates_need_a_partition(osd: OsdClient, ids: tuple[int, int]) -> None:
    refused(osd, cdb(CREATE_COLLECTION, MISSING), INVALID_CDB, field=16)
    refused(osd, cdb(CREATE_AND_WRITE, MISSING, length=4), INVALID_CDB, field=16, out=b"data")
    refused(osd, cdb(CREATE_AND_WRITE, ids[0], length=8), (0x5, 0x1A, 0x00), out=b"data")  # short Data-Out
    assert osd.list(ids[0])[0] == [ids[1]]


def test_list_collection_of_a_user_object(osd: OsdClient, ids: tuple[int, int]) -> None:
    refused(osd, cdb(LIST_COLLECTION, *ids, length=64, otype=COLLECTION), INVALID_CDB, field=24, read=64)


def test_flush_partition_and_osd_refusals(osd: OsdClient, ids: tuple[int, int]) -> None:
    refused(osd, cdb(FLUSH_PARTITION, MISSING), INVALID_CDB, field=16)
    refused(osd, cdb(FLUSH_OSD, cap=capability(ids[0], 0, PARTITION)), INVALID_CDB, field=80 + 48)
