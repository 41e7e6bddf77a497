"""Physical blocks (``physical_block_size``), and the control mode page's SWP (software write protect)."""

from __future__ import annotations

import struct

import pytest

from hpt.options import OptionError, resolve
from hpt.scsi.core.constants import WRITE_PROTECTED, Status
from hpt.scsi.sbc.profile import DISK_OPTIONS
from tests.scsi.sbc_support import BS, Disk, cdb10, cdb16, sa16

SWP = 0x08


def test_read_capacity16_reports_physical_block_exponent() -> None:
    reply = Disk(extra={"physical_block_size": 4096}).run(sa16(0x10, 0, 32), alloc=32)
    exponent, lowest = reply.data[13] & 0x0F, struct.unpack_from(">H", reply.data, 14)[0] & 0x3FFF
    assert (exponent, lowest) == (3, 0)
    assert Disk().run(sa16(0x10, 0, 32), alloc=32).data[13] == 0


@pytest.mark.parametrize(("block", "physical", "ok"), [
    (512, 0, True), (512, 512, True), (512, 4096, True), (4096, 4096, True), (512, 1 << 24, True),
    (512, 1536, False), (512, 256, False), (4096, 2048, False), (4096, 12288, False), (512, 1 << 25, False),
])
def test_physical_block_size_must_be_a_power_of_two_multiple(block: int, physical: int, ok: bool) -> None:
    given = {"block_size": block, "physical_block_size": physical}
    if ok:
        assert resolve(DISK_OPTIONS, given)["physical_block_size"] == physical
        return
    with pytest.raises(OptionError) as info:
        resolve(DISK_OPTIONS, given)
    assert info.value.key == "physical_block_size" and f"block_size ({block})" in info.value.message


def _control_page(disk: Disk, pc: int = 0) -> bytes:
    data = disk.run(bytes((0x1A, 0x08, pc << 6 | 0x0A, 0, 255, 0)), alloc=255).data
    return data[4:]


def _select(disk: Disk, page: bytes) -> Status:
    body = bytes(4) + page
    return disk.run(bytes((0x15, 0x10, 0, 0, len(body), 0)), body).status


def test_software_write_protect_is_changeable_and_refuses_writes() -> None:
    disk = Disk(spc=True)
    assert _control_page(disk, pc=1)[4] & SWP  # changeable
    page = bytearray(_control_page(disk))
    page[4] |= SWP
    assert _select(disk, bytes(page)) == Status.GOOD
    header = disk.run(bytes((0x1A, 0x08, 0x0A, 0, 255, 0)), alloc=255).data
    assert header[2] & 0x80  # WP in the device-specific parameter
    assert disk.run(cdb16(0x8A, 0, 1), bytes(BS)).asc == WRITE_PROTECTED
    assert disk.run(cdb10(0x41, 0, 1), bytes(BS)).asc == WRITE_PROTECTED
    assert disk.run(cdb16(0x88, 0, 1), alloc=BS).status == Status.GOOD  # reads go on
    page[4] &= ~SWP
    assert _select(disk, bytes(page)) == Status.GOOD
    assert disk.run(cdb16(0x8A, 0, 1), b"\x01" * BS).status == Status.GOOD
