"""Device profiles: everything that makes a LU a disk, a tape, a changer ... in one object.

A :class:`DeviceProfile` is tgt's device template made whole: the peripheral device type, the opcode
table the LU dispatches through, its VPD and mode pages beyond SPC's own, its version descriptors,
how TEST UNIT READY tells it is not ready, what a reset or a lost I_T nexus drops, its LU parameter
schema and the factory of its per-LU state. SPC code asks ``lu.profile`` for these; nothing is
registered globally, and a new device type is a new profile that leaves SPC untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpt.options import Option

if TYPE_CHECKING:
    from hpt.scsi.core.constants import DeviceType
    from hpt.scsi.core.opcodes import OpcodeTable
    from hpt.scsi.lu import LogicalUnit, LuParams
    from hpt.scsi.spc.mode import Medium, ModePage
    from hpt.scsi.spc.vpd import VpdPage


def _no_state(params: LuParams) -> None:
    return None


@dataclass(frozen=True, slots=True, eq=False)
class DeviceProfile:
    """One device type (SAM-5 4.6.4 peripheral device types; SPC-5 6.7.2 table 150).

    * ``table(params)``: the LU's opcode table (SPC's entries plus the type's, as ``params`` allow);
    * ``vpd_pages`` / ``mode_pages``: the type's own pages, served next to SPC's (a page of the same
      code replaces SPC's); ``medium``: the mode parameter header and block descriptor;
    * ``versions``: command-set version descriptors for standard INQUIRY data (SPC-5 6.7.2);
    * ``ready(lu)``: raises SenseError while the LU is not ready (TEST UNIT READY, media access);
    * ``reset(lu, initiator_port)``: state to drop on a LU or target reset (port None) or when that
      I_T nexus is lost (e.g. a PREVENT MEDIUM REMOVAL it held);
    * ``close(lu)``: the LU goes away (hptd stops, the LU is deleted): write out and close what its
      state holds open (a drive's medium file);
    * ``options``: the LU parameter keys this type accepts beyond the common ones (``COMMON_OPTIONS``);
    * ``state(params)``: a new LU's per-type state (``lu.state``);
    * ``shared``: what the type tells the other processes serving the LU (hptd's workers, rbd gateways;
      ``SharedReservations.share``), by key, with the handler that takes it there, ``handler(lu, value)``
      (run under the LU's lock);
    * ``store_bound``: its commands do no I/O of their own beyond the store's (so whether serving them
      may wait on the caller's thread is the store's ``waits``); False: they may wait (a drive's medium).
    """

    name: str
    device_type: DeviceType
    table: Callable[[LuParams], OpcodeTable]
    medium: Medium
    vpd_pages: tuple[VpdPage, ...] = ()
    mode_pages: tuple[ModePage, ...] = ()
    versions: tuple[int, ...] = ()
    ready: Callable[[LogicalUnit], None] | None = None
    reset: Callable[[LogicalUnit, str | None], None] | None = None
    close: Callable[[LogicalUnit], None] | None = None
    options: tuple[Option, ...] = ()
    state: Callable[[LuParams], Any] = _no_state
    product: str = "VIRTUAL-DEVICE"  # the default PRODUCT IDENTIFICATION
    extended_vpd_flags: int = 0  # byte 6 of the Extended INQUIRY Data VPD page (V_SUP: volatile cache)
    # whether a WRITE may take a fast lane now (writable, write cache on: no FUA implied); None: never
    quick_writable: Callable[[LogicalUnit], bool] | None = None
    shared: Mapping[str, Callable[[LogicalUnit, Any], None]] = field(default_factory=dict)
    store_bound: bool = False

    def option(self, key: str) -> Option | None:
        for opt in self.options:
            if opt.key == key:
                return opt
        return None
