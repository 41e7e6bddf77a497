"""Applying a new configuration to the running server, all or nothing.

:func:`prepare` checks what the change would take away from initiators (a target or LUN with sessions
logged in is refused unless ``force``), then builds everything new: LUs (stores opened through the one
factory, ``hpt.daemon.luns.build_lu``), targets and portals. If any of that fails, what was built is
closed again and the server is untouched. :meth:`Change.commit` cannot fail: it swaps the new maps in
(readers see the old or the new one, never a mix), then ends what went away: sessions of deleted
targets close, deleted LUs drain their commands (``ScsiTarget.remove_lu``) and close their stores,
removed portals stop. A LUN added to a target raises REPORTED LUNS DATA HAS CHANGED on its other LUs
(SPC-5 6.33); a target's ALUA states change at once, with ASYMMETRIC ACCESS STATE CHANGED (SPC-5
5.16.2.6); ACL and CHAP changes apply to the next login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hpt.daemon.alua import configure_alua
from hpt.daemon.control.rpc import IN_USE, UNAVAILABLE, RpcError

if TYPE_CHECKING:
    from hpt.daemon.config import Config, LunConfig, PortalConfig, TargetConfig
    from hpt.daemon.server import Listener, Server
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.target import ScsiTarget

log = logging.getLogger("hpt.daemon.control")

DRAIN_TIMEOUT = 30.0  # seconds a deleted LU's commands in flight are waited for


def _portal_key(pc: PortalConfig) -> tuple[str, int, str, int]:
    return (pc.host, pc.port, pc.transport, pc.group)


@dataclass
class Change:
    """A prepared change: everything new is built, nothing is applied yet."""

    server: Server
    config: Config
    new_targets: dict[str, ScsiTarget] = field(default_factory=dict)
    gone_targets: list[str] = field(default_factory=list)
    new_luns: list[tuple[str, LogicalUnit]] = field(default_factory=list)
    gone_luns: list[tuple[str, int]] = field(default_factory=list)
    new_portals: list[tuple[PortalConfig, Listener]] = field(default_factory=list)
    gone_portals: list[PortalConfig] = field(default_factory=list)

    def summary(self) -> dict[str, list[str]]:
        """What the change does, for the caller and the log."""
        return {
            "targets_added": sorted(self.new_targets),
            "targets_removed": sorted(self.gone_targets),
            "luns_added": [f"{t} lun {lu.lun}" for t, lu in self.new_luns],
            "luns_removed": [f"{t} lun {n}" for t, n in self.gone_luns],
            "portals_added": [pc.address for pc, _ in self.new_portals],
            "portals_removed": [pc.address for pc in self.gone_portals],
        }

    def discard(self) -> None:
        """Close what :func:`prepare` built (the change is not applied)."""
        for _, portal in self.new_portals:
            portal.stop()
        for target in self.new_targets.values():
            for lun in target.luns():
                lu = target.lu(lun)
                if lu is not None:
                    lu.release()
        for _, lu in self.new_luns:
            lu.release()  # its store, and what it shares with other workers

    def commit(self) -> None:
        srv = self.server
        old_configs = srv.target_configs
        # 1. the new maps: logins and SendTargets see the new targets, ACLs and accounts from here on
        targets = {n: t for n, t in srv.targets.items() if n not in self.gone_targets} | self.new_targets
        old = srv.targets
        srv.targets = targets
        srv.target_configs = {t.name: t for t in self.config.targets}
        srv.config = self.config
        srv.offline &= set(targets)
        for pc, portal in self.new_portals:
            srv.add_portal(pc, portal)
        # 2. LUNs of the targets that stay: removed first (same number re-added with new settings)
        for name, lun in self.gone_luns:
            targets[name].remove_lu(lun, close=True, timeout=DRAIN_TIMEOUT)
        for name, lu in self.new_luns:
            targets[name].add_lu(lu)
        for name, tc in srv.target_configs.items():  # ALUA states and ports: live, with a unit attention
            if name not in self.new_targets:
                configure_alua(targets[name], tc, old_configs[name])
        # 3. what went away
        for name in self.gone_targets:
            for session in srv.sessions_of(name):
                session.close("target deleted")
            target = old[name]
            for lun in target.luns():
                target.remove_lu(lun, close=True, timeout=DRAIN_TIMEOUT)
        for pc in self.gone_portals:
            srv.remove_portal(pc)
        done = {k: v for k, v in self.summary().items() if v}
        log.info("configuration applied: %s", done or "settings for new logins (accounts, ACLs, keys)")


def _in_use(server: Server, name: str, what: str, force: bool) -> None:
    sessions = server.sessions_of(name)
    if sessions and not force:
        raise RpcError(IN_USE, f"{what} is in use by {len(sessions)} session(s) "
                               f"({', '.join(sorted({s.initiator_name for s in sessions}))}); use --force")


def _lun_diff(old: TargetConfig, new: TargetConfig) -> tuple[list[int], list[LunConfig]]:
    """LUN numbers to remove (gone or changed) and LUN configurations to build (new or changed)."""
    before = {lc.lun: lc for lc in old.luns}
    after = {lc.lun: lc for lc in new.luns}
    gone = [n for n, lc in before.items() if after.get(n) != lc]
    added = [lc for n, lc in after.items() if before.get(n) != lc]
    return gone, added


def prepare(server: Server, config: Config, *, force: bool = False) -> Change:
    """Check and build ``config``'s difference from what ``server`` runs (see the module's text)."""
    if config.fcoe_ports != server.config.fcoe_ports:
        raise RpcError(UNAVAILABLE, "FCoE ports cannot change while hptd runs: restart it")
    if config.metrics != server.config.metrics:
        raise RpcError(UNAVAILABLE, "[metrics] cannot change while hptd runs: restart it")
    if config.daemon.event_loop != server.config.daemon.event_loop:
        raise RpcError(UNAVAILABLE, "daemon.event_loop cannot change while hptd runs: restart it")
    now, asked = server.config.daemon.workers, config.daemon.workers
    if config.daemon.workers_auto and (now == 1 or asked > 1):
        config.daemon.workers = now  # "auto" keeps the processes it started with while they can serve it
    elif asked != now:
        why = f"; {config.daemon.workers_note}" if config.daemon.workers_note else ""
        raise RpcError(UNAVAILABLE, f"daemon.workers cannot change while hptd runs ({now} now, "
                                    f"{asked} asked{why}): restart it")
    change = Change(server, config)
    old = {t.name: t for t in server.config.targets}
    new = {t.name: t for t in config.targets}
    for name in old.keys() - new.keys():
        _in_use(server, name, f"target {name}", force)
        change.gone_targets.append(name)
    luns: list[tuple[str, LunConfig]] = []
    for name in old.keys() & new.keys():
        gone, added = _lun_diff(old[name], new[name])
        for lun in gone:
            _in_use(server, name, f"target {name} lun {lun}", force)
            change.gone_luns.append((name, lun))
        luns.extend((name, lc) for lc in added)
    running = {_portal_key(pc) for pc in server.portal_configs}
    wanted = {_portal_key(pc) for pc in config.portals}
    change.gone_portals = [pc for pc in server.portal_configs if _portal_key(pc) not in wanted]
    try:
        for name in new.keys() - old.keys():
            change.new_targets[name] = server.build_target(new[name])
        for name, lc in luns:
            change.new_luns.append((name, server.build_lu(name, lc)))
        for pc in config.portals:
            if _portal_key(pc) not in running:
                portal = server.start_portal(pc)
                if portal is None:
                    raise RpcError(UNAVAILABLE, f"portal {pc.address}: {pc.transport} is unavailable here")
                change.new_portals.append((pc, portal))
    except RpcError:
        change.discard()
        raise
    except (OSError, ValueError) as err:
        change.discard()
        raise RpcError(UNAVAILABLE, f"cannot apply: {err}") from None
    return change
