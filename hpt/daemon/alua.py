"""A target's ALUA settings from its configuration (``alua``, ``alua_explicit``; SPC-5 5.16)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.alua import AO
from hpt.scsi.spc.alua import TPGS_EXPLICIT, TPGS_IMPLICIT

if TYPE_CHECKING:
    from hpt.daemon.config import TargetConfig
    from hpt.scsi.target import ScsiTarget


def configure_alua(target: ScsiTarget, tc: TargetConfig, old: TargetConfig | None = None) -> None:
    """Give ``target`` a target port group per portal group of ``tc``, one per peer gateway's group
    (``peer_port_groups``) and the configured states.
    With ``old`` (a running target's previous configuration) only the states the configuration
    changes are set, so that an initiator's SET TARGET PORT GROUPS outlives unrelated changes; a
    change raises ASYMMETRIC ACCESS STATE CHANGED (``ScsiTarget.set_alua_states``)."""
    ports = tc.portal_groups or [1]
    if target.relative_port_ids != ports or target.port_groups.peers != set(tc.peer_port_groups):
        target.set_ports(ports, tc.peer_port_groups)
    target.tpgs = TPGS_IMPLICIT | (TPGS_EXPLICIT if tc.alua_explicit else 0)
    before = {} if old is None else old.alua
    states = {g: tc.alua.get(g, AO) for g in (*ports, *tc.peer_port_groups)
              if old is None or before.get(g, AO) != tc.alua.get(g, AO)}
    target.set_alua_states(states)
