"""Reservations of one LU: SPC-2 RESERVE/RELEASE, persistent reservation state, the conflict check.

SPC-2 reservations follow SPC-2 5.5 and 7.21/7.22 plus the SPC-3 5.6.3 rules for mixing them with
persistent reservations; persistent reservations follow SPC-5 5.13 (commands: ``persistent_in.py``,
``persistent_out.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, Nexus, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, Asc, Status
from hpt.scsi.core.opcodes import Access, OpcodeEntry
from hpt.scsi.core.sense import SenseError
from hpt.scsi.pr.persistent import PersistentReservation, Registration, initiator_identity
from hpt.scsi.pr.persistent_store import default_state_path, load_state
from hpt.scsi.pr.shared import SharedReservations

log = logging.getLogger("hpt.scsi")

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

TEST_UNIT_READY = 0x00
RESERVE_6, RELEASE_6, RESERVE_10, RELEASE_10 = 0x16, 0x17, 0x56, 0x57
PREVENT_ALLOW = 0x1E
READ_CAPACITY_10 = 0x25
SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16 = 0x9E, 0x10
PR_IN, PR_OUT = 0x5E, 0x5F

_RESERVE_RELEASE = frozenset({RESERVE_6, RELEASE_6, RESERVE_10, RELEASE_10})
_RELEASE = frozenset({RELEASE_6, RELEASE_10})
# Allowed through every persistent reservation type although not ALWAYS (SPC-5 table 64, SBC-4 table 13).
_PR_ALLOWED = frozenset({TEST_UNIT_READY, READ_CAPACITY_10, PR_IN, PR_OUT})


def _allow_medium_removal(op: int, cdb: bytes | memoryview) -> bool:
    """PREVENT ALLOW MEDIUM REMOVAL with PREVENT 00b never conflicts (SPC-5 table 64)."""
    return op == PREVENT_ALLOW and not cdb[4] & 0x03


class Reservations:
    """Reservation state of one LU and the RESERVATION CONFLICT rule for each command.

    ``spc2_holder``: initiator port holding an SPC-2 RESERVE. Persistent reservations:
    ``registrations``, ``reservation``, ``generation`` (PRGENERATION) and ``aptpl``. Callers hold
    the LU's lock (commands and task management are serialised per LU).
    """

    def __init__(self, lu: LogicalUnit) -> None:
        self.lu = lu
        self.spc2_holder: str | None = None
        self.registrations: list[Registration] = []
        self.reservation: PersistentReservation | None = None
        self.generation = 0
        self.aptpl = False
        self.ports: dict[str, Nexus] = {}  # initiator ports seen while registrations exist
        self.state_path = default_state_path(lu)  # APTPL state file, None: no persistence
        load_state(self)
        obj = lu.shared_state("pr")
        # the gateways' shared state (``shared.py``), None: this process's alone
        self.shared = None if obj is None else SharedReservations(self, obj)

    def close(self) -> None:
        """Stop sharing the state (the LU goes away)."""
        if self.shared is not None:
            self.shared.close()

    @property
    def can_persist(self) -> bool:
        """PTPL_C: APTPL is accepted only where the state can be kept (SPC-5 6.16.4)."""
        return self.state_path is not None or self.shared is not None

    def refresh(self) -> None:
        """Before a PERSISTENT RESERVE IN: the shared state as the gateways left it (if shared)."""
        if self.shared is not None:
            self.shared.refresh()

    def update(self, change: Callable[[], None]) -> None:
        """Run a PERSISTENT RESERVE OUT service action: on the shared state when there is one
        (``SharedReservations.update``), else on this process's."""
        if self.shared is None:
            change()
        else:
            self.shared.update(change)

    # -- the conflict check --------------------------------------------------------------------
    def conflict(self, nexus: Nexus, entry: OpcodeEntry, cdb: bytes | memoryview) -> bool:
        """True when ``nexus`` may not run this command now (SPC-5 5.13.1 table 64, SPC-2 5.5.1)."""
        op = cdb[0]
        if self.spc2_holder is not None:
            return self._spc2_conflict(nexus, op, cdb)
        if op in _RESERVE_RELEASE:
            return bool(self.registrations)  # SPC-3 5.6.3: RESERVE/RELEASE conflict once registered
        if not self.registrations:
            return False
        self.ports[nexus.initiator_port] = nexus
        res = self.reservation
        if res is None or op in _PR_ALLOWED or _allow_medium_removal(op, cdb):
            return False
        if op == SERVICE_ACTION_IN_16 and cdb[1] & 0x1F == SA_READ_CAPACITY_16:
            return False
        reg = self.find(nexus)
        if reg is not None and (res.type.all_registrants or res.holder is reg):
            return False
        if entry.access == Access.READ and not res.type.exclusive_access:
            return False
        # a write (or a read under an Exclusive Access type) by a non-holder
        return reg is None or not res.type.registrants_only

    def _spc2_conflict(self, nexus: Nexus, op: int, cdb: bytes | memoryview) -> bool:
        if op in (PR_IN, PR_OUT):
            return True  # SPC-3 5.6.3: any PR command conflicts while an SPC-2 reservation exists
        if self.spc2_holder == nexus.initiator_port or op in _RELEASE:
            return False  # RELEASE by a non-holder is a no-op (SPC-2 7.22)
        return not _allow_medium_removal(op, cdb)

    # -- persistent reservation helpers --------------------------------------------------------
    def find(self, nexus: Nexus) -> Registration | None:
        """The registration of this I_T nexus, if any."""
        ident = initiator_identity(nexus)
        for reg in self.registrations:
            if reg.matches(ident, nexus.rtpi):
                return reg
        return None

    def is_holder(self, reg: Registration | None) -> bool:
        res = self.reservation
        return reg is not None and res is not None and (res.type.all_registrants or res.holder is reg)

    def bump_generation(self) -> None:
        self.generation = (self.generation + 1) & 0xFFFFFFFF

    def ports_of(self, regs: Iterable[Registration]) -> set[str]:
        """Initiator ports (unit attention keys) of these registrations."""
        ports: set[str] = set()
        for reg in regs:
            if reg.port:
                ports.add(reg.port)
            if reg.isid is None or not reg.port:
                ports.update(p for p, n in self.ports.items() if reg.matches(initiator_identity(n), n.rtpi))
        return ports

    def notify(self, asc: Asc, regs: Iterable[Registration], exclude: str) -> None:
        """Queue ``asc`` for the initiator ports of ``regs`` except the one named ``exclude`` (and, when
        shared, for the other gateways' I_T nexuses of ``regs``)."""
        regs = list(regs)
        for port in self.ports_of(regs) - {exclude}:
            self.lu.ua.establish(asc, only=port)
        if self.shared is not None:
            self.shared.queue(asc, regs)

    # -- resets (SAM-5 6.3) --------------------------------------------------------------------
    def reset(self) -> None:
        """Logical unit or hard reset: SPC-2 reservations go, persistent ones stay (SAM-5 6.3.3)."""
        if self.spc2_holder is not None:
            self._release_spc2(None)

    def announce(self, asc: Asc) -> None:
        """After a reset: the other gateways' I_T nexuses get ``asc`` too (a no-op unless shared). The
        caller does not hold the LU's lock."""
        if self.shared is not None:
            self.shared.announce(asc)

    def nexus_lost(self, initiator_port: str) -> None:
        """I_T nexus loss releases an SPC-2 reservation held through it (SPC-2 5.5.1)."""
        if self.spc2_holder == initiator_port:
            self._release_spc2(initiator_port)
        self.ports.pop(initiator_port, None)

    def release_spc2(self, port: str | None) -> None:
        """The SPC-2 reservation held through ``port`` (None: whoever holds it) goes, on the shared state
        too when there is one (SPC-2 7.22)."""

        self.update(lambda: self._drop_spc2(port))

    def _drop_spc2(self, port: str | None) -> None:
        """This process's copy: the holder through ``port`` (None: whoever holds it) is gone."""
        if port is None or self.spc2_holder == port:
            self.spc2_holder = None

    def _release_spc2(self, port: str | None) -> None:
        """``release_spc2`` for a reset or a lost nexus, which cannot fail: if the shared state cannot be
        reached, this process's copy at least (logged)."""
        try:
            self.release_spc2(port)
        except (OSError, RuntimeError) as err:
            log.warning("lun %d: releasing the SPC-2 reservation on the shared state: %s", self.lu.lun, err)
            self._drop_spc2(port)


# -- SPC-2 RESERVE / RELEASE (SPC-2 7.21, 7.22) ---------------------------------------------------
def _check_no_third_party(cmd: ScsiCommand) -> None:
    """hpt makes no third-party or extent reservations: 3RDPTY, LONGID and EXTENT must be zero."""
    bad = cmd.cdb[1] & (0x13 if cmd.opcode in (RESERVE_10, RELEASE_10) else 0x11)
    if bad:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=bad.bit_length() - 1)


class _HeldElsewhere(Exception):
    """The shared state shows another initiator port holding the SPC-2 reservation."""


def reserve(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """RESERVE(6)/(10): conflicts were settled by :meth:`Reservations.conflict` on this process's copy;
    take or keep it, on the shared state as it is now when there is one (a reservation another process
    took meanwhile is a RESERVATION CONFLICT)."""
    _check_no_third_party(cmd)
    port = cmd.nexus.initiator_port

    def take() -> None:
        if lu.pr.spc2_holder not in (None, port):
            raise _HeldElsewhere
        lu.pr.spc2_holder = port

    try:
        lu.pr.update(take)
    except _HeldElsewhere:
        return ScsiResult(Status.RESERVATION_CONFLICT)
    return GOOD


def release(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """RELEASE(6)/(10): releases the holder's reservation; from anyone else GOOD and no effect."""
    _check_no_third_party(cmd)
    if lu.pr.spc2_holder == cmd.nexus.initiator_port:
        lu.pr.release_spc2(cmd.nexus.initiator_port)
    return GOOD
