"""Asymmetric logical unit access states and what each allows (SPC-5 5.16.2): the engine's one check.

A target's relative target ports (iSCSI: its portal group tags) belong to target port groups
(:class:`PortGroups`: by default one group per port, numbered as the port). ``LogicalUnit`` asks
:func:`refusal` once per command, by the relative port of the command's I_T nexus, and only while
some port is not active; the commands themselves are in ``hpt.scsi.spc.alua``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum

from hpt.scsi.core.constants import (
    ASYMMETRIC_ACCESS_TRANSITION,
    TARGET_PORT_IN_STANDBY,
    TARGET_PORT_UNAVAILABLE,
    Asc,
)


class AluaState(IntEnum):
    """SPC-5 6.36.2 table 280 asymmetric access states."""

    ACTIVE_OPTIMIZED = 0x0
    ACTIVE_NON_OPTIMIZED = 0x1
    STANDBY = 0x2
    UNAVAILABLE = 0x3
    LBA_DEPENDENT = 0x4
    OFFLINE = 0xE
    TRANSITIONING = 0xF


AO, AN, S, U, T = (AluaState.ACTIVE_OPTIMIZED, AluaState.ACTIVE_NON_OPTIMIZED, AluaState.STANDBY,
                   AluaState.UNAVAILABLE, AluaState.TRANSITIONING)
#: the states an administrator names in the configuration or through hptadm
STATE_NAMES: dict[str, AluaState] = {"active/optimized": AO, "active/non-optimized": AN, "standby": S,
                                     "unavailable": U, "transitioning": T}
SUPPORTED_STATES = (AO, AN, S, U, T)
SETTABLE_STATES = (AO, AN, S, U)  # SET TARGET PORT GROUPS may ask for these (6.46, table 300)

# What each inaccessible state still allows (5.16.2.4.4-6): opcodes, or (opcode, service action).
_INQUIRY, _REQUEST_SENSE, _REPORT_LUNS, MAINTENANCE_IN, MAINTENANCE_OUT = 0x12, 0x03, 0xA0, 0xA3, 0xA4
SET_TARGET_PORT_GROUPS = 0x0A
_ALWAYS: frozenset[int | tuple[int, int | None]] = frozenset(
    {_INQUIRY, _REQUEST_SENSE, _REPORT_LUNS, (MAINTENANCE_IN, 0x0A), (MAINTENANCE_IN, 0x0C),
     (MAINTENANCE_IN, 0x0D)})
_STPG = (MAINTENANCE_OUT, SET_TARGET_PORT_GROUPS)
# LOG SELECT/SENSE, MODE SELECT/SENSE (6, 10), RECEIVE DIAGNOSTIC, SEND DIAGNOSTIC, PR IN/OUT; and READ
# CAPACITY (10) and (16), which 5.16.2.4.5 leaves to the vendor: Linux sizes a path's disk when it finds it,
# so a path found in standby would stay 0 blocks long (and useless once its group becomes active) without it
_READ_CAPACITY = (0x25, (0x9E, 0x10))
_STANDBY = _ALWAYS | {_STPG, MAINTENANCE_IN, 0x4C, 0x4D, 0x15, 0x55, 0x1A, 0x5A, 0x1C, 0x1D, 0x5E, 0x5F,
                      *_READ_CAPACITY}
_ALLOWED: dict[AluaState, tuple[frozenset[int | tuple[int, int | None]], Asc]] = {
    S: (_STANDBY, TARGET_PORT_IN_STANDBY),
    U: (_ALWAYS | {_STPG}, TARGET_PORT_UNAVAILABLE),
    T: (_ALWAYS, ASYMMETRIC_ACCESS_TRANSITION),
}


def refusal(state: AluaState, opcode: int, service_action: int | None) -> Asc | None:
    """The NOT READY sense a command gets through a port in ``state`` (None: it may run)."""
    allowed, asc = _ALLOWED.get(state, (None, None))
    if allowed is None or opcode in allowed or (opcode, service_action) in allowed:
        return None
    return asc


def parse_state(name: str) -> AluaState:
    """An administrator's state name (``STATE_NAMES``); ValueError naming the choices."""
    state = STATE_NAMES.get(name.lower())
    if state is None:
        raise ValueError(f'"{name}" is not an ALUA state (one of {", ".join(STATE_NAMES)})')
    return state


class PortGroups:
    """A target's target port groups: group id -> its relative target ports and ALUA state (5.16.2).

    ``peers`` are the groups of the other gateways (hptd processes) serving the same LUs under the
    same target name (scale-out, 5.16.2.1): reported with their state, each holding the one relative
    port numbered as it, but no port of this process. ``restricted`` maps each port of this process
    in a group that is not active to its state: empty while every one is active, so the per-command
    check costs one truth test.
    """

    def __init__(self, ports: Iterable[int], group: int | None = None) -> None:
        ports = list(ports)
        self.members: dict[int, list[int]] = {p: [p] for p in ports} if group is None else {group: ports}
        self.states: dict[int, AluaState] = dict.fromkeys(self.members, AO)
        self.restricted: dict[int, AluaState] = {}
        self.peers: frozenset[int] = frozenset()

    def group_of(self, port: int) -> int:
        """The group of a relative port (a port in none, such as an FCoE port's, is its own)."""
        return next((g for g, ports in self.members.items() if port in ports), port)

    def state_of(self, port: int) -> AluaState:
        return self.states.get(self.group_of(port), AO)

    def set_ports(self, ports: Iterable[int], peers: Iterable[int] | None = None) -> None:
        """One group per port again (portal groups changed), plus the peer gateways' groups ``peers``
        (None: those there were): groups still there keep their state."""
        if peers is not None:
            self.peers = frozenset(peers)
        old = self.states
        self.members = {p: [p] for p in (*ports, *sorted(self.peers))}
        self.states = {g: old.get(g, AO) for g in self.members}
        self._restrict()

    def change(self, states: Mapping[int, AluaState]) -> list[int]:
        """Set these groups' states; returns the groups whose state changed. KeyError: no such group."""
        for group in states:
            if group not in self.states:
                raise KeyError(group)
        changed = [g for g, s in states.items() if self.states[g] != s]
        self.states = {**self.states, **states}
        self._restrict()
        return changed

    def _restrict(self) -> None:
        self.restricted = {p: s for g, s in self.states.items() if s not in (AO, AN) and g not in self.peers
                           for p in self.members[g]}


