"""The target server: builds SCSI targets and LUs from a :class:`Config`, answers the iSCSI core's
questions (policies, ACLs, CHAP secrets, SendTargets) and runs the TCP portals."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from hpt.daemon.alua import configure_alua
from hpt.daemon.config import Config, PortalConfig, TargetConfig
from hpt.daemon.fcoe import start_fcoe_ports, stop_fcoe_ports
from hpt.daemon.luns import build_lu, build_lus
from hpt.iscsi.errors import LoginError
from hpt.iscsi.limits import Admission, AuthPenalty, Penalty, host_of
from hpt.iscsi.negotiation import AuthPolicy, TargetPolicy
from hpt.iscsi.sendtargets import TargetEntry, sendtargets_response
from hpt.iscsi.session import Session, SessionTable
from hpt.iscsi.tcp import TcpPortal
from hpt.native.ring import Ring
from hpt.scsi.target import ScsiTarget

if TYPE_CHECKING:
    from hpt.daemon.config import LunConfig
    from hpt.fcoe.packet import PacketDriver
    from hpt.iscsi.connection import Connection
    from hpt.scsi.lu import LogicalUnit
    from hpt.store.base import SharedMemory
    from hpt.store.shared import SharedObject

log = logging.getLogger("hpt.daemon.server")

RING_SLOT = 1 << 20  # one slot holds the largest usual burst (Linux max_sectors_kb defaults to 512 KiB)
RING_SLOTS = 256


def _snapshot(status: Callable[[], dict[str, object]]) -> dict[str, object]:
    """``status()`` of a port another thread is changing: retried if a table changed under it."""
    for _ in range(3):
        try:
            return status()
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return {"error": "busy"}


def _describe(lc: LunConfig, lu: LogicalUnit) -> str:
    """A LUN as the start-up log names it: a disk by its store and size; a drive, changer or object
    store (no store) by its type alone."""
    if not lc.store:
        return f"{lc.type}{', read-only' if lc.params.readonly else ''}"
    params = lc.params
    return (f"{lc.type} {lc.store}, {lu.nblocks * lu.block_size} bytes, block {params.block_size}"
            f"{', thin' if params.thin else ''}{', read-only' if params.readonly else ''}")


class Listener(Protocol):
    """A started iSCSI portal (TCP or iSER)."""

    def cores(self) -> list[Connection]:
        """The iSCSI connections (sans-I/O cores) open through it now."""
        ...

    def stop(self) -> None: ...


class StartError(ValueError):
    """A configured portal or LUN that cannot be started, named with its line in the configuration."""


class Server:
    """Everything one hptd process serves."""

    def __init__(self, config: Config, *, sessions: SessionTable | None = None,
                 sharing: Callable[[str, int, str], SharedObject | None] | None = None,
                 memory: Callable[[str, int, int], SharedMemory] | None = None,
                 auth_penalty: Penalty | None = None, ring: Ring | None = None) -> None:
        """``sessions``, ``sharing(target, lun, name)``, ``memory(target, lun, n)``, ``auth_penalty``,
        ``ring``: the session table, the LUs' shared objects, the memory of their ``ram`` stores, the
        CHAP failure delay and the buffer ring of a worker process (``hpt.daemon.workers``), kept by
        hptd's main process; else this process's."""
        self.config = config
        self.sessions = SessionTable() if sessions is None else sessions
        self.sharing = sharing
        self.memory = memory
        # a worker's: its connections are handed to it; told when one ends and when one logs in
        self.handed: tuple[Callable[[str], None], Callable[[str], None]] | None = None
        self.limits = config.limits
        self.auth_penalty = AuthPenalty(config.limits) if auth_penalty is None else auth_penalty
        self.admission = Admission(config.limits)  # connections of every TCP portal
        #: the main process's, which every worker maps (it reports its use); else this process's own
        self.ring_shared = ring is not None
        self.ring = Ring(RING_SLOT, RING_SLOTS) if ring is None else ring
        self.targets: dict[str, ScsiTarget] = {}
        self.target_configs: dict[str, TargetConfig] = {t.name: t for t in config.targets}
        for tc in config.targets:
            self.targets[tc.name] = self.build_target(tc)
        self.portals: list[Listener] = []
        self.portal_configs: list[PortalConfig] = []  # the started portals' configurations, in order
        self.fcoe_ports: list[PacketDriver] = []
        self.offline: set[str] = set()  # targets that refuse new logins (hptadm ... --name state)

    # ------------------------------------------------------------------------------ building
    def build_target(self, tc: TargetConfig) -> ScsiTarget:
        """A SCSI target with a LU for each of ``tc``'s LUNs (stores opened through ``build_lu``)."""
        target = ScsiTarget(tc.name, tc.portal_groups or [1])
        configure_alua(target, tc)  # a target port group per portal group (SPC-5 5.16)
        target.copy_domain = self.targets.values  # EXTENDED COPY between the LUs of this hptd
        sharing = None if self.sharing is None else partial(self.sharing, tc.name)
        memory = None if self.memory is None else partial(self.memory, tc.name)
        for lc, lu in zip(tc.luns, build_lus(tc.luns, sharing, memory), strict=True):
            target.add_lu(lu)
            log.info("target %s lun %d: %s", tc.name, lc.lun, _describe(lc, lu))
        return target

    def build_lu(self, target: str, lc: LunConfig) -> LogicalUnit:
        """A LU added to ``target`` live (``hpt.daemon.control.apply``), sharing what the target's others
        share with the other workers."""
        sharing = None if self.sharing is None else partial(self.sharing, target, lc.lun)
        memory = None if self.memory is None else partial(self.memory, target, lc.lun)
        return build_lu(lc, sharing, memory)

    def context_for(self, portal: PortalConfig) -> _PortalContext:
        """The iSCSI core's view of the server through one portal (its portal group)."""
        return _PortalContext(self, portal)

    def start(self) -> None:
        """Start every portal and FCoE port; a portal that cannot listen is a :class:`StartError`
        naming it and its line in the configuration."""
        for pc in self.config.portals:
            try:
                portal = self.start_portal(pc)
            except OSError as err:
                where = pc.source or "portal"
                raise StartError(f"{where}: cannot listen on {pc.address} ({pc.transport}): "
                                 f"{err.strerror or err}") from None
            if portal is not None:
                self.portals.append(portal)
                self.portal_configs.append(pc)
        self.fcoe_ports = start_fcoe_ports(self)

    def start_portal(self, pc: PortalConfig) -> Listener | None:
        """Listen on ``pc``; None when its transport is unavailable here (logged); OSError when the
        address cannot be bound."""
        if pc.transport == "iser":
            from hpt.daemon.iser import start_iser_portal

            return start_iser_portal(pc, self.context_for(pc), self.ring)
        if self.handed is not None:  # a worker: the main process listens
            return TcpPortal(pc.host, pc.port, self.context_for(pc), self.ring, listen=False,
                             on_gone=self.handed[0], on_login=self.handed[1],
                             serve_on_loop=self.config.daemon.event_loop)
        portal = TcpPortal(pc.host, pc.port, self.context_for(pc), self.ring,
                           serve_on_loop=self.config.daemon.event_loop)
        portal.start()
        log.info("listening on %s (iSCSI/TCP, portal group %d)", pc.address, pc.group)
        return portal

    def take_handed(self, on_gone: Callable[[str], None], on_login: Callable[[str], None]) -> None:
        """Serve as a worker process: each (TCP) portal, configured now or added later, listens nowhere;
        hptd's main process accepts and hands each connection over (``handed_portal``, ``adopt``);
        ``on_gone(peer)`` when one ends, ``on_login(peer)`` when one reaches the full feature phase."""
        self.handed = (on_gone, on_login)
        self.start()

    def shed_handed(self, peer: str, reason: str) -> bool:
        """Close the handed connection from ``peer`` if it is still logging in (a worker's)."""
        return any(p.shed_peer(peer, reason) for p in self.portals if isinstance(p, TcpPortal))

    def handed_portal(self, address: str) -> TcpPortal | None:
        """The portal whose configured address is ``address`` (a worker's, for a handed connection)."""
        for pc, portal in zip(self.portal_configs, self.portals, strict=True):
            if pc.address == address and isinstance(portal, TcpPortal):
                return portal
        return None

    def add_portal(self, pc: PortalConfig, portal: Listener) -> None:
        """Count a portal started by :meth:`start_portal` as one of the server's."""
        self.portals.append(portal)
        self.portal_configs.append(pc)

    def remove_portal(self, pc: PortalConfig) -> None:
        """Stop the portal started for ``pc`` (its initiators are asked to log out first)."""
        i = self.portal_configs.index(pc)
        portal = self.portals.pop(i)
        del self.portal_configs[i]
        portal.stop()
        log.info("portal %s (%s) removed", pc.address, pc.transport)

    def connections(self) -> list[tuple[PortalConfig, Connection]]:
        """The iSCSI connections open now (TCP and iSER), with the portal each came through."""
        return [(pc, conn) for pc, portal in zip(self.portal_configs, self.portals, strict=True)
                for conn in portal.cores()]

    @property
    def serving(self) -> bool:
        """True when at least one portal or FCoE port is up."""
        return bool(self.portals or self.fcoe_ports)

    def stop(self) -> None:
        stop_fcoe_ports(self.fcoe_ports)
        self.fcoe_ports = []
        for portal in self.portals:
            portal.stop()
        self.portals = []
        self.portal_configs = []
        for target in self.targets.values():
            for lun in target.luns():
                lu = target.lu(lun)
                if lu is not None:
                    lu.release()

    def sessions_of(self, target_name: str) -> list[Session]:
        """The normal sessions logged in to ``target_name`` now."""
        return [s for s in self.sessions.all() if s.session_type == "Normal" and s.target_name == target_name]

    def status(self) -> dict[str, object]:
        """What hptd serves now: portals, iSCSI sessions, and FCoE ports with their remote ports."""
        return {
            "portals": [{"address": pc.address, "transport": pc.transport, "group": pc.group}
                        for pc in self.portal_configs],
            "sessions": [
                {"initiator": s.initiator_name, "isid": f"{s.isid:012x}", "tsih": s.tsih,
                 "target": s.target_name or None, "type": s.session_type, "connections": len(s.connections)}
                for s in self.sessions.all()
            ],
            "fcoe_ports": [_snapshot(driver.port.status) for driver in self.fcoe_ports],
        }

    # ------------------------------------------------------------------------------ policies
    def target_policy(self, overrides: dict[str, object]) -> TargetPolicy:
        return TargetPolicy.from_overrides({k: v for k, v in overrides.items()})

    def auth_policy(self, incoming: list[str], outgoing: str) -> AuthPolicy:
        accounts = self.config.accounts
        allowed = set(incoming)

        def secret_for(user: str) -> bytes | None:
            return accounts[user].encode() if user in allowed and user in accounts else None

        mutual = (outgoing, accounts[outgoing].encode()) if outgoing else None
        return AuthPolicy(chap_required=bool(incoming), secret_for=secret_for, mutual=mutual)

    def allowed_targets(self, initiator_name: str, peer: str, group: int) -> list[TargetConfig]:
        host = host_of(peer)
        return [
            t
            for t in self.config.targets
            if group in (t.portal_groups or [group]) and t.allows(initiator_name, host)
        ]


class _PortalContext:
    """The :class:`IscsiContext` one portal group gives its connections."""

    def __init__(self, server: Server, portal: PortalConfig) -> None:
        self.server = server
        self.portal = portal
        self.portal_group_tag = portal.group
        self.sessions: SessionTable = server.sessions
        self.limits = server.limits
        self.auth_penalty = server.auth_penalty
        self.admission = server.admission

    def policies(
        self, conn: Connection, session_type: str, initiator_name: str, target_name: str
    ) -> tuple[TargetPolicy, AuthPolicy]:
        srv = self.server
        cfg = srv.config
        if session_type == "Discovery":
            disc = cfg.discovery
            incoming = disc.incoming if disc.auth == "chap" else []
            return srv.target_policy(cfg.iscsi), srv.auth_policy(incoming, disc.outgoing)
        tc = srv.target_configs.get(target_name)
        if tc is None or (tc.portal_groups and self.portal.group not in tc.portal_groups):
            raise LoginError(2, 3, f"target {target_name!r} not found")
        if target_name in srv.offline:  # RFC 7143 11.13.5: 0301 service unavailable
            raise LoginError(3, 1, f"target {target_name} is offline")
        if not tc.allows(initiator_name, host_of(conn.peer)):
            raise LoginError(2, 2, f"initiator {initiator_name} at {conn.peer} not allowed on {target_name}")
        limit = srv.limits.max_sessions_per_initiator
        isid = conn.login.isid  # a login that reinstates one of them replaces it: it does not count
        held = srv.sessions.held(initiator_name, isid)  # of every worker, with workers = N
        if held >= limit:  # RFC 7143 11.13.5: 0302 out of resources
            raise LoginError(3, 2, f"initiator {initiator_name} has {held} sessions "
                                   f"(limits.max_sessions_per_initiator = {limit})")
        return srv.target_policy(cfg.iscsi_for(tc)), srv.auth_policy(tc.incoming, tc.outgoing)

    def scsi_target(self, target_name: str) -> ScsiTarget | None:
        return self.server.targets.get(target_name)

    def send_targets(self, conn: Connection, value: str) -> list[tuple[str, str]]:
        srv = self.server
        session = conn.session
        assert session is not None
        local_host = host_of(conn.local)
        entries = []
        for tc in srv.allowed_targets(session.initiator_name, conn.peer, self.portal.group):
            portals = []
            for pc in srv.config.portals:
                if tc.portal_groups and pc.group not in tc.portal_groups:
                    continue
                host = pc.host
                if ipaddress.ip_address(host).is_unspecified:
                    host = local_host  # a wildcard portal answers with the address this connection reached
                portals.append((host, pc.port, pc.group))
            entries.append(TargetEntry(tc.name, portals))
        return sendtargets_response(
            value, entries, session_type=session.session_type, current_target=session.target_name or None
        )

    def nexus_lost(self, session: Session, done: Callable[[], None] | None = None) -> None:
        if session.scsi_target is not None:
            session.scsi_target.nexus_lost(session.nexus, done or (lambda: None))
        elif done is not None:
            done()

    def drop_target_sessions(self, target_name: str) -> None:
        for s in self.sessions.all():
            if s.target_name == target_name:
                s.close("target cold reset")
