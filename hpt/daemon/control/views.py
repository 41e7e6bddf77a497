"""What ``show`` answers: targets, LUs, sessions and connections as JSON objects, from the running
configuration and the live server (sizes, sessions). hptadm shapes them as tgtadm does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpt.scsi.core.alua import STATE_NAMES

if TYPE_CHECKING:
    from hpt.daemon.config import LunConfig, PortalConfig, TargetConfig
    from hpt.daemon.control.control import Control
    from hpt.iscsi.connection import Connection
    from hpt.iscsi.session import Session
    from hpt.scsi.target import ScsiTarget


def lun_view(lc: LunConfig, target: ScsiTarget | None) -> dict[str, Any]:
    lu = target.lu(lc.lun) if target is not None else None
    p = lc.params
    return {
        "lun": lc.lun, "type": lc.type, "store": lc.store,
        "size": lu.nblocks * lu.block_size if lu is not None else 0,
        "block_size": p.block_size, "serial": p.serial, "vendor": p.vendor, "product": p.product,
        "revision": p.revision, "readonly": p.readonly, "removable": p.removable, "thin": p.thin,
        "write_cache": p.write_cache, "online": lu is not None,
        "store_options": {k: v for k, v in lc.store_values.items() if isinstance(v, str | int | bool)},
    }  # fmt: skip


def connection_view(pc: PortalConfig, conn: Connection) -> dict[str, Any]:
    return {"cid": conn.cid, "peer": conn.peer, "local": conn.local, "portal": pc.address,
            "group": pc.group, "transport": pc.transport}


def session_view(ctl: Control, session: Session) -> dict[str, Any]:
    conns = [connection_view(pc, c) for pc, c in ctl.server.connections() if c.session is session]
    return {"sid": session.tsih, "tsih": session.tsih, "isid": f"{session.isid:012x}",
            "initiator": session.initiator_name, "target": session.target_name or None,
            "tid": ctl.document.tids.get(session.target_name), "type": session.session_type,
            "connections": conns}


def target_view(ctl: Control, tc: TargetConfig) -> dict[str, Any]:
    srv = ctl.server
    target = srv.targets.get(tc.name)
    return {
        "tid": ctl.document.tids.get(tc.name), "name": tc.name, "alias": tc.alias,
        "state": "offline" if tc.name in srv.offline else "ready",
        "sessions": [session_view(ctl, s) for s in srv.sessions_of(tc.name)],
        "luns": [lun_view(lc, target) for lc in sorted(tc.luns, key=lambda lc: lc.lun)],
        "incoming": list(tc.incoming), "outgoing": tc.outgoing,
        "initiators": list(tc.initiators), "addresses": [str(n) for n in tc.addresses],
        "portal_groups": list(tc.portal_groups), "iscsi": dict(tc.iscsi),
        "alua": _alua_view(target), "alua_explicit": tc.alua_explicit,
    }  # fmt: skip


def _alua_view(target: ScsiTarget | None) -> dict[str, str]:
    """Target port group -> its ALUA state as the configuration names it (SPC-5 5.16)."""
    names = {state: name for name, state in STATE_NAMES.items()}
    return {} if target is None else {str(g): names.get(s, s.name.lower())
                                      for g, s in sorted(target.port_groups.states.items())}
