"""PERSISTENT RESERVE OUT (SPC-5 6.17) and the persistent reservation rules of SPC-5 5.13.

Service actions: REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT,
REGISTER AND IGNORE EXISTING KEY and REGISTER AND MOVE. ALL_TG_PT and SPEC_I_PT (iSCSI
TransportIDs) are supported; APTPL needs a state file (``persistent_store.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, Nexus, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INSUFFICIENT_REGISTRATION_RESOURCES,
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    INVALID_RELEASE_OF_PR,
    PARAMETER_LIST_LENGTH_ERROR,
    REGISTRATIONS_PREEMPTED,
    RESERVATIONS_PREEMPTED,
    RESERVATIONS_RELEASED,
    Status,
)
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.pr.persistent import LU_SCOPE, PersistentReservation, PrType, Registration, initiator_identity
from hpt.scsi.pr.persistent_store import save_state
from hpt.scsi.pr.transport_id import TransportId
from hpt.scsi.pr.transport_id import decode as decode_transport_id

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.pr.reservations import Reservations

REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT_AND_ABORT = 0, 1, 2, 3, 4, 5
REGISTER_AND_IGNORE_EXISTING_KEY, REGISTER_AND_MOVE = 6, 7
MAX_REGISTRATIONS = 1024
BASIC_LENGTH = 24  # the parameter list without SPEC_I_PT TransportIDs (SPC-5 6.17.3)


class ReservationConflict(Exception):
    """Ends the command with RESERVATION CONFLICT status (SPC-5 5.13.5)."""


@dataclass(slots=True)
class _Request:
    """One PR OUT command: the issuing nexus, its registration and the decoded fields."""

    lu: LogicalUnit
    nexus: Nexus
    reg: Registration | None
    key: int
    sa_key: int
    type: int
    scope: int
    data: memoryview

    @property
    def pr(self) -> Reservations:
        return self.lu.pr

    def registered(self) -> Registration:
        """The issuer's registration; RESERVATION CONFLICT if none or its key differs."""
        if self.reg is None or self.reg.key != self.key:
            raise ReservationConflict
        return self.reg

    def pr_type(self) -> PrType:
        """TYPE and SCOPE of the CDB, checked (SPC-5 6.17.2, 6.17.3)."""
        if self.scope != LU_SCOPE:
            raise SenseError(INVALID_FIELD_IN_CDB, field=2, bit=7)
        try:
            return PrType(self.type)
        except ValueError:
            raise SenseError(INVALID_FIELD_IN_CDB, field=2, bit=3) from None

    def new_registration(self, key: int, ident: tuple[str, int | None], port: str,
                         all_tg_pt: bool = False, protocol: int | None = None) -> Registration:
        name, isid = ident
        return Registration(key, name, isid, self.nexus.rtpi, all_tg_pt,
                            self.nexus.protocol if protocol is None else protocol, port)


# -- register ----------------------------------------------------------------------------------
def _unregister(req: _Request, reg: Registration) -> None:
    """Remove a registration; a holder's reservation goes with it (SPC-5 5.13.11.2.3)."""
    pr = req.pr
    pr.registrations.remove(reg)
    res = pr.reservation
    if res is None:
        return
    if res.type.all_registrants:
        if not pr.registrations:
            pr.reservation = None
    elif res.holder is reg:
        pr.reservation = None
        if res.type.registrants_only:
            pr.notify(RESERVATIONS_RELEASED, pr.registrations, exclude=req.nexus.initiator_port)


def _specified_ports(req: _Request, all_tg_pt: bool) -> list[Registration]:
    """Registrations for the TransportIDs of a SPEC_I_PT REGISTER (SPC-5 6.17.4 table 219)."""
    data = req.data
    if len(data) < BASIC_LENGTH + 4:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    (tid_len,) = struct.unpack_from(">I", data, BASIC_LENGTH)
    end = BASIC_LENGTH + 4 + tid_len
    if end > len(data):
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    own, rtpi = initiator_identity(req.nexus), req.nexus.rtpi
    seen: list[TransportId] = []
    out: list[Registration] = []
    off = BASIC_LENGTH + 4
    while off < end:
        tid, n = decode_transport_id(data[:end], off)
        names_issuer = Registration(0, tid.name, tid.isid, rtpi).matches(own, rtpi)
        isid = tid.isid
        taken = isid is not None and any(r.matches((tid.name, isid), rtpi) for r in req.pr.registrations)
        if tid in seen or names_issuer or taken:  # each I_T nexus once, none registered yet
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off, in_cdb=False)
        seen.append(tid)
        out.append(req.new_registration(req.sa_key, (tid.name, tid.isid), "", all_tg_pt, tid.protocol))
        off += n
    return out


def _register(req: _Request, ignore_key: bool, spec_i_pt: bool, all_tg_pt: bool) -> bool:
    """REGISTER / REGISTER AND IGNORE EXISTING KEY (SPC-5 5.13.7, table 65); True if state changed."""
    pr = req.pr
    reg = req.reg
    if reg is None:
        if req.key and not ignore_key:
            raise ReservationConflict
        if req.sa_key == 0:
            return False
        new = [req.new_registration(req.sa_key, initiator_identity(req.nexus), req.nexus.initiator_port,
                                    all_tg_pt)]
        if spec_i_pt:
            new += _specified_ports(req, all_tg_pt)
        if len(pr.registrations) + len(new) > MAX_REGISTRATIONS:
            raise SenseError(INSUFFICIENT_REGISTRATION_RESOURCES)
        pr.registrations.extend(new)
        return True
    if not ignore_key and reg.key != req.key:
        raise ReservationConflict
    if spec_i_pt:
        raise SenseError(INVALID_FIELD_IN_CDB)  # SPEC_I_PT from a registered nexus (SPC-5 6.17.4)
    if req.sa_key == 0:
        _unregister(req, reg)
    else:
        reg.key = req.sa_key
    return True


# -- reserve / release / clear -----------------------------------------------------------------
def _reserve(req: _Request) -> None:
    """RESERVE (SPC-5 5.13.9): a registered nexus takes the reservation or repeats its own."""
    pr_type = req.pr_type()
    reg = req.registered()
    res = req.pr.reservation
    if res is not None:
        if not req.pr.is_holder(reg) or res.type != pr_type:
            raise ReservationConflict
        return
    req.pr.reservation = PersistentReservation(pr_type, None if pr_type.all_registrants else reg)


def _release(req: _Request) -> None:
    """RELEASE (SPC-5 5.13.11.2.2): only the holder's RELEASE with the same type has an effect.

    RESERVATIONS RELEASED goes to the other registrants of a registrants-only or all-registrants
    reservation, never to the releasing nexus.
    """
    reg = req.registered()
    res = req.pr.reservation
    if res is None or not req.pr.is_holder(reg):
        return
    if req.scope != res.scope or req.type != res.type:
        raise SenseError(INVALID_RELEASE_OF_PR)
    req.pr.reservation = None
    if res.type.registrants_only or res.type.all_registrants:
        req.pr.notify(RESERVATIONS_RELEASED, req.pr.registrations, exclude=req.nexus.initiator_port)


def _clear(req: _Request) -> None:
    """CLEAR (SPC-5 5.13.11.2.6): drop the reservation and every registration."""
    req.registered()
    pr = req.pr
    pr.notify(RESERVATIONS_PREEMPTED, pr.registrations, exclude=req.nexus.initiator_port)
    pr.registrations.clear()
    pr.reservation = None


# -- preempt -----------------------------------------------------------------------------------
def _preempt(req: _Request) -> list[Registration]:
    """PREEMPT (SPC-5 5.13.11.4); returns the registrations removed."""
    pr_type = req.pr_type()
    me = req.registered()
    pr = req.pr
    res = pr.reservation
    sa_key = req.sa_key
    all_reg = res is not None and res.type.all_registrants
    holder_key = None if res is None or res.holder is None else res.holder.key
    takes_reservation = (all_reg and sa_key == 0) or (holder_key is not None and sa_key == holder_key)
    if sa_key == 0 and not takes_reservation:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=8, in_cdb=False)
    victims = [r for r in pr.registrations if r is not me and (sa_key == 0 or r.key == sa_key)]
    if not victims and not takes_reservation:
        raise ReservationConflict
    for r in victims:
        pr.registrations.remove(r)
    pr.notify(REGISTRATIONS_PREEMPTED, victims, exclude=req.nexus.initiator_port)
    if takes_reservation and res is not None:
        pr.reservation = PersistentReservation(pr_type, None if pr_type.all_registrants else me)
        if res.type != pr_type or res.scope != req.scope:
            pr.notify(RESERVATIONS_RELEASED, pr.registrations, exclude=req.nexus.initiator_port)
    elif res is not None and res.holder is not None and res.holder not in pr.registrations:
        pr.reservation = None
    return victims


def _preempt_and_abort(req: _Request) -> None:
    """PREEMPT AND ABORT (SPC-5 5.13.11.5): PREEMPT, then the transport aborts the victims' tasks."""
    victims = _preempt(req)
    target = req.lu.target
    if victims and target is not None:
        target.abort_preempted(req.lu.lun, req.pr.ports_of(victims))


# -- register and move -------------------------------------------------------------------------
def _register_and_move(req: _Request) -> bool:
    """REGISTER AND MOVE (SPC-5 5.13.8): hand the reservation to another I_T nexus."""
    pr_type = req.pr_type()
    me = req.registered()
    pr = req.pr
    res = pr.reservation
    if res is None or res.holder is not me:
        raise ReservationConflict  # no reservation, not the holder, or all-registrants
    if req.sa_key == 0:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=8, in_cdb=False)
    data = req.data
    unreg = bool(data[17] & 0x02)
    rtpi, tid_len = struct.unpack_from(">HI", data, 18)
    if BASIC_LENGTH + tid_len > len(data):
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    tid, _ = decode_transport_id(data[: BASIC_LENGTH + tid_len], BASIC_LENGTH)
    target = req.lu.target
    if target is not None and rtpi not in target.relative_port_ids:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=18, in_cdb=False)
    ident = (tid.name, tid.isid or 0)
    if me.matches(ident, rtpi):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=BASIC_LENGTH, in_cdb=False)
    dest = next((r for r in pr.registrations if r.matches(ident, rtpi)), None)
    if dest is None:
        dest = Registration(req.sa_key, tid.name, tid.isid, rtpi, False, tid.protocol)
        pr.registrations.append(dest)
    pr.reservation = PersistentReservation(pr_type, dest)
    if unreg:
        pr.registrations.remove(me)
    return True


# -- dispatch ----------------------------------------------------------------------------------
def _flags(data: memoryview, sa: int) -> tuple[bool, bool, bool]:
    """SPEC_I_PT, ALL_TG_PT and APTPL of the parameter list (REGISTER AND MOVE: APTPL only)."""
    if sa == REGISTER_AND_MOVE:
        return False, False, bool(data[17] & 0x01)
    b = data[20]
    return bool(b & 0x08), bool(b & 0x04), bool(b & 0x01)


def _check_length(length: int, sa: int, spec_i_pt: bool) -> None:
    if sa == REGISTER_AND_MOVE or spec_i_pt:
        return  # lengths of TransportID lists are checked as they are read
    if length != BASIC_LENGTH:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)


_SIMPLE: dict[int, Callable[[_Request], object]] = {
    RESERVE: _reserve,
    RELEASE: _release,
    CLEAR: _clear,
    PREEMPT: _preempt,
    PREEMPT_AND_ABORT: _preempt_and_abort,
}
_CHANGES_GENERATION = frozenset({CLEAR, PREEMPT, PREEMPT_AND_ABORT})


def _run(req: _Request, sa: int, spec_i_pt: bool, all_tg_pt: bool, aptpl: bool) -> None:
    pr = req.pr
    if sa in (REGISTER, REGISTER_AND_IGNORE_EXISTING_KEY, REGISTER_AND_MOVE):
        if aptpl and not pr.can_persist:
            field, bit = (17, 0) if sa == REGISTER_AND_MOVE else (20, 0)
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=field, bit=bit, in_cdb=False)
        if sa == REGISTER_AND_MOVE:
            changed = _register_and_move(req)
        else:
            changed = _register(req, sa == REGISTER_AND_IGNORE_EXISTING_KEY, spec_i_pt, all_tg_pt)
        if changed:
            pr.aptpl = aptpl
            pr.bump_generation()
    else:
        _SIMPLE[sa](req)
        if sa in _CHANGES_GENERATION:
            pr.bump_generation()
    save_state(pr)


def persistent_reserve_out(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """PERSISTENT RESERVE OUT: check the CDB and parameter list, then run the service action."""
    cdb = cmd.cdb
    sa = cdb[1] & 0x1F
    if sa > REGISTER_AND_MOVE:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    (length,) = struct.unpack_from(">I", cdb, 5)
    if length < BASIC_LENGTH:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    data = parameter_list(cmd, length)
    spec_i_pt, all_tg_pt, aptpl = _flags(data, sa)
    if spec_i_pt and sa != REGISTER:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=20, bit=3, in_cdb=False)
    _check_length(length, sa, spec_i_pt)
    key, sa_key = struct.unpack_from(">QQ", data, 0)
    pr = lu.pr
    pr.ports[cmd.nexus.initiator_port] = cmd.nexus

    def run() -> None:  # on the shared state as it is now, when the gateways share it
        req = _Request(lu, cmd.nexus, pr.find(cmd.nexus), key, sa_key, cdb[2] & 0x0F, cdb[2] >> 4, data)
        _run(req, sa, spec_i_pt, all_tg_pt, aptpl)

    try:
        pr.update(run)
    except ReservationConflict:
        return ScsiResult(Status.RESERVATION_CONFLICT)
    return GOOD
