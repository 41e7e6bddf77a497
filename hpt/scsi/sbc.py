"""The direct-access block device (SBC-4): its opcode table and the disk LU factory.

Every SBC opcode hpt implements is listed here once, with its handler, reservation access
(SPC-5 5.13.1, SBC-4 4.17 table 13) and REPORT SUPPORTED OPERATION CODES usage map
(SPC-5 6.35.3: the opcode, then a one for every CDB bit the handler evaluates; reserved and
ignored bits, and fields hpt only rejects when non-zero, are zero).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi import sbc_capacity, sbc_medium, sbc_misc, sbc_provisioning, sbc_rw, sbc_verify
from hpt.scsi.command import ScsiResult
from hpt.scsi.constants import DeviceType
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.opcodes import Access, OpcodeEntry, OpcodeTable
from hpt.scsi.sbc_common import check_ready
from hpt.scsi.sbc_medium import release_prevention

if TYPE_CHECKING:
    from hpt.scsi.target import ScsiTarget
    from hpt.store.base import BackingStore

R, W, A = Access.READ, Access.WRITE, Access.ALWAYS


def _entry(usage: str, name: str, handler: Callable[..., ScsiResult], access: Access,
           service_action: int | None = None) -> OpcodeEntry:
    """An entry whose opcode and CDB length come from its usage map (hex, one byte per CDB byte)."""
    data = bytes.fromhex(usage)
    return OpcodeEntry(data[0], name, handler, len(data), access, service_action, data)


SBC_ENTRIES: list[OpcodeEntry] = [
    _entry("04 37 00 00 00 00", "FORMAT UNIT", sbc_misc.format_unit, W),
    _entry("08 1f ff ff ff 00", "READ(6)", sbc_rw.read6, R),
    _entry("0a 1f ff ff ff 00", "WRITE(6)", sbc_rw.write6, W),
    _entry("1b 00 00 00 f7 00", "START STOP UNIT", sbc_medium.start_stop_unit, W),
    _entry("1e 00 00 00 03 00", "PREVENT ALLOW MEDIUM REMOVAL", sbc_medium.prevent_allow, W),
    _entry("25 00 ff ff ff ff 00 00 01 00", "READ CAPACITY(10)", sbc_capacity.read_capacity10, A),
    _entry("28 18 ff ff ff ff 00 ff ff 00", "READ(10)", sbc_rw.read10, R),
    _entry("2a 18 ff ff ff ff 00 ff ff 00", "WRITE(10)", sbc_rw.write10, W),
    _entry("2e 12 ff ff ff ff 00 ff ff 00", "WRITE AND VERIFY(10)", sbc_verify.write_verify10, W),
    _entry("2f 16 ff ff ff ff 00 ff ff 00", "VERIFY(10)", sbc_verify.verify10, R),
    _entry("34 00 ff ff ff ff 00 ff ff 00", "PRE-FETCH(10)", sbc_misc.prefetch10, R),
    _entry("35 00 ff ff ff ff 00 ff ff 00", "SYNCHRONIZE CACHE(10)", sbc_misc.sync_cache10, W),
    _entry("37 00 1f 00 00 00 00 ff ff 00", "READ DEFECT DATA(10)", sbc_misc.read_defect_data10, R),
    _entry("41 08 ff ff ff ff 00 ff ff 00", "WRITE SAME(10)", sbc_provisioning.write_same10, W),
    _entry("42 00 00 00 00 00 00 ff ff 00", "UNMAP", sbc_provisioning.unmap, W),
    _entry("88 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "READ(16)", sbc_rw.read16, R),
    _entry("89 18 ff ff ff ff ff ff ff ff 00 00 00 ff 00 00", "COMPARE AND WRITE",
           sbc_verify.compare_and_write, W),
    _entry("8a 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE(16)", sbc_rw.write16, W),
    _entry("8b 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "ORWRITE(16)", sbc_rw.orwrite16, W),
    _entry("8e 12 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE AND VERIFY(16)",
           sbc_verify.write_verify16, W),
    _entry("8f 16 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "VERIFY(16)", sbc_verify.verify16, R),
    _entry("90 00 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "PRE-FETCH(16)", sbc_misc.prefetch16, R),
    _entry("91 00 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "SYNCHRONIZE CACHE(16)",
           sbc_misc.sync_cache16, W),
    _entry("93 09 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE SAME(16)",
           sbc_provisioning.write_same16, W),
    _entry("9e 10 00 00 00 00 00 00 00 00 ff ff ff ff 00 00", "READ CAPACITY(16)",
           sbc_capacity.read_capacity16, A, 0x10),
    _entry("9e 12 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "GET LBA STATUS",
           sbc_capacity.get_lba_status, R, 0x12),
    _entry("a8 18 ff ff ff ff ff ff ff ff 00 00", "READ(12)", sbc_rw.read12, R),
    _entry("aa 18 ff ff ff ff ff ff ff ff 00 00", "WRITE(12)", sbc_rw.write12, W),
    _entry("ae 12 ff ff ff ff ff ff ff ff 00 00", "WRITE AND VERIFY(12)", sbc_verify.write_verify12, W),
    _entry("af 16 ff ff ff ff ff ff ff ff 00 00", "VERIFY(12)", sbc_verify.verify12, R),
    _entry("b7 1f 00 00 00 00 ff ff ff ff 00 00", "READ DEFECT DATA(12)", sbc_misc.read_defect_data12, R),
]

THIN_ONLY = frozenset({0x42})  # UNMAP: a fully provisioned LU does not offer it (LBPU 0)


_hooked = False


def _spc_entries() -> list[OpcodeEntry]:
    """SPC_ENTRIES from hpt.scsi.spc when that module exists (it is built alongside this one).

    The first call also tells the SPC layer about the removable medium: TEST UNIT READY reports an
    unloaded one (``check_ready``), resets and I_T nexus loss drop PREVENTs (``release_prevention``).
    """
    global _hooked
    if importlib.util.find_spec("hpt.scsi.spc") is None:
        return []
    spc = importlib.import_module("hpt.scsi.spc")
    if not _hooked:
        spc.register_ready_check(DeviceType.DISK, check_ready)
        importlib.import_module("hpt.scsi.target").register_reset_hook(release_prevention)
        _hooked = True
    return list(spc.SPC_ENTRIES)


def disk_table(params: LuParams) -> OpcodeTable:
    """SPC's shared commands plus the SBC commands this LU offers."""
    sbc = [e for e in SBC_ENTRIES if params.thin or e.opcode not in THIN_ONLY]
    return OpcodeTable(_spc_entries()).extend(sbc)


def make_disk(lun: int, params: LuParams, store: BackingStore,
              target: ScsiTarget | None = None) -> LogicalUnit:
    """A direct-access LU over ``store``; the capacity is the store's size in ``params.block_size`` blocks."""
    if params.block_size <= 0 or params.block_size % 512:
        raise ValueError(f"block size {params.block_size}: must be a positive multiple of 512")
    return LogicalUnit(lun, params, disk_table(params), store, target)
