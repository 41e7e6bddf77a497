"""A logical unit: parameters, shared SPC state and dispatch through its opcode table (SAM-5 4.6.4)."""

from __future__ import annotations

import errno
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.command import ScsiCommand, ScsiResult, TaskAttr
from hpt.scsi.core.constants import (
    INTERNAL_TARGET_FAILURE,
    INVALID_FIELD_IN_CDB,
    INVALID_OPCODE,
    POWER_ON_RESET,
    SPACE_ALLOCATION_FAILED_WRITE_PROTECT,
    UNRECOVERED_READ_ERROR,
    WRITE_ERROR,
    Status,
)
from hpt.scsi.core.opcodes import NACA, Access, OpcodeTable, control_offset
from hpt.scsi.core.sense import SenseError, build_sense
from hpt.scsi.core.unit_attention import UnitAttentions
from hpt.scsi.pr.reservations import Reservations

if TYPE_CHECKING:
    from hpt.scsi.core.profile import DeviceProfile
    from hpt.scsi.target import ScsiTarget
    from hpt.store.base import BackingStore

log = logging.getLogger("hpt.scsi")


@dataclass(slots=True)
class LuParams:
    """What an administrator configures for a logical unit (names follow tgt's LU params)."""

    block_size: int = 512
    readonly: bool = False
    thin: bool = False
    removable: bool = False
    vendor: str = "HPT"
    product: str = "VIRTUAL-DISK"
    revision: str = "0001"
    serial: str = ""
    naa: int | None = None  # 64-bit NAA IEEE Registered (type 5) identifier; derived when None
    rotation_rate: int = 1  # SBC-4 6.6.3: 1 = non-rotating medium
    write_cache: bool = True
    optimal_xfer_blocks: int = 0
    max_xfer_blocks: int = 0  # 0: no limit beyond the transport's
    extra: dict[str, Any] = field(default_factory=dict)  # keys of the device profile's own schema


class LogicalUnit:
    """A LU of any device type: its device profile's opcode table over the shared SPC state.

    State shared by SPC and the device-type code: unit attentions (``ua``), reservations (``pr``),
    mode-page state (``d_sense``, ``wce``, ``mode_state``) and the backing ``store``; the profile's
    own per-LU state is ``state`` (its ``state(params)`` factory makes it unless one is given).
    """

    def __init__(
        self,
        profile: DeviceProfile,
        params: LuParams,
        store: BackingStore | None = None,
        state: Any = None,
        *,
        lun: int = 0,
        target: ScsiTarget | None = None,
    ) -> None:
        self.profile = profile
        self.lun = lun
        self.params = params
        self.table: OpcodeTable = profile.table(params)
        self.store = store
        self.target = target
        self.state = profile.state(params) if state is None else state
        self.ua = UnitAttentions(POWER_ON_RESET)
        self.pr = Reservations(self)
        self.d_sense = False  # control mode page D_SENSE (SPC-5 7.5.10)
        self.wce = params.write_cache  # caching mode page WCE (SBC-4 6.5.5)
        self.mode_state: dict[Any, Any] = {}  # other saved/current mode-page fields, owned by mode.py
        # one command at a time per LU: makes COMPARE AND WRITE and PR changes atomic across sessions
        self.lock = threading.Lock()

    # -- geometry ------------------------------------------------------------------------------
    @property
    def block_size(self) -> int:
        return self.params.block_size

    @property
    def nblocks(self) -> int:
        return 0 if self.store is None else self.store.size // self.params.block_size

    # -- results -------------------------------------------------------------------------------
    def check_condition(self, err: SenseError) -> ScsiResult:
        return ScsiResult(Status.CHECK_CONDITION, err.encode(self.d_sense))

    # -- dispatch ------------------------------------------------------------------------------
    def execute(self, cmd: ScsiCommand) -> ScsiResult:
        """Run one command: table lookup, unit attention, reservation check, handler (SAM-5 5.1)."""
        with self.lock:
            return self._execute(cmd)

    def _execute(self, cmd: ScsiCommand) -> ScsiResult:
        entry = self.table.lookup(cmd.cdb)
        # NormACA is 0: the ACA task attribute and the NACA bit are refused before a unit attention is
        # reported (SAM-5 5.2, 8.6.5; as LIO does)
        if cmd.attr == TaskAttr.ACA:
            return self.check_condition(SenseError(INVALID_FIELD_IN_CDB))
        if entry is not None:
            ctrl = control_offset(entry)
            if ctrl < len(cmd.cdb) and cmd.cdb[ctrl] & NACA:
                return self.check_condition(SenseError(INVALID_FIELD_IN_CDB, field=ctrl, bit=2))
        key = cmd.nexus.initiator_port
        if entry is None or not entry.ua_exempt:
            ua = self.ua.pop(key)
            if ua is not None:
                return ScsiResult(Status.CHECK_CONDITION, build_sense(ua, self.d_sense))
        if entry is None:
            return self.check_condition(SenseError(INVALID_OPCODE, field=0))
        if entry.access != Access.ALWAYS and self.pr.conflict(cmd.nexus, entry, cmd.cdb):
            return ScsiResult(Status.RESERVATION_CONFLICT)
        try:
            return entry.handler(self, cmd)
        except SenseError as err:
            return self.check_condition(err)
        except OSError as err:
            log.error("lun %d %s: backing store error: %s", self.lun, entry.name, err)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                # the store could not allocate the blocks (SBC-4 4.7.3, thin provisioning resource exhaustion)
                return self.check_condition(SenseError(SPACE_ALLOCATION_FAILED_WRITE_PROTECT))
            asc = WRITE_ERROR if entry.access == Access.WRITE else UNRECOVERED_READ_ERROR
            return self.check_condition(SenseError(asc))
        except Exception:
            log.exception("lun %d %s: handler failed", self.lun, entry.name)
            return self.check_condition(SenseError(INTERNAL_TARGET_FAILURE))
