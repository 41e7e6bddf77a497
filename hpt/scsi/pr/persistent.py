"""Persistent reservation model: types, registrations and the reservation itself (SPC-5 5.13).

The state lives in :class:`hpt.scsi.pr.reservations.Reservations`; PERSISTENT RESERVE IN and OUT
(``persistent_in.py``, ``persistent_out.py``) read and change it through the helpers here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hpt.scsi.core.command import Nexus


class PrType(IntEnum):
    """SPC-5 6.17.3 table 216: persistent reservation TYPE codes."""

    WRITE_EXCLUSIVE = 1
    EXCLUSIVE_ACCESS = 3
    WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5
    EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6
    WRITE_EXCLUSIVE_ALL_REGISTRANTS = 7
    EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 8

    @property
    def all_registrants(self) -> bool:
        """Every registered I_T nexus is a reservation holder (SPC-5 5.13.10)."""
        return self in (PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS)

    @property
    def registrants_only(self) -> bool:
        return self in (PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY)

    @property
    def exclusive_access(self) -> bool:
        """Reads by non-holders conflict too (SPC-5 5.13.1 table 64)."""
        return self in (
            PrType.EXCLUSIVE_ACCESS,
            PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
            PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS,
        )


LU_SCOPE = 0  # SPC-5 6.17.2: the only scope in SPC-5


def initiator_identity(nexus: Nexus) -> tuple[str, int]:
    """(initiator device name, ISID) of a nexus; names compare case-insensitively (RFC 3722).

    A transport that gives no ``initiator_name`` is identified by its initiator port name alone.
    """
    if nexus.initiator_name:
        return nexus.initiator_name.lower(), nexus.isid
    return nexus.initiator_port.lower(), 0


@dataclass(slots=True)
class Registration:
    """One registered I_T nexus (or, with ``isid`` None, every initiator port of that name).

    ``all_tg_pt``: registered through every target port (SPC-5 5.13.7); else only ``rtpi``.
    ``port``: the initiator port name unit attentions are queued under ("" if not seen yet).
    """

    key: int
    name: str
    isid: int | None
    rtpi: int
    all_tg_pt: bool = False
    protocol: int = 5
    port: str = ""

    def matches(self, ident: tuple[str, int], rtpi: int) -> bool:
        name, isid = ident
        return (
            self.name == name
            and (self.isid is None or self.isid == isid)
            and (self.all_tg_pt or self.rtpi == rtpi)
        )


@dataclass(slots=True)
class PersistentReservation:
    """The reservation: its type and scope and, unless all-registrants, the holder's registration."""

    type: PrType
    holder: Registration | None
    scope: int = LU_SCOPE
