"""The ``[[fcoe_port]]`` tables: FCoE ports, each exposing one target's LUNs (FC-BB-6)."""

from __future__ import annotations

from hpt.daemon.config.schema import FcoePortConfig
from hpt.daemon.config.tables import Table, did_you_mean
from hpt.daemon.config.validators import interface_error, parse_port_wwn

FCOE_MODES = ("vn2vn", "fabric")
FCOE_PORT_KEYS = tuple(FcoePortConfig.__dataclass_fields__)


def read_fcoe_ports(root: Table, targets: dict[str, int]) -> list[FcoePortConfig]:
    """Every port; an interface and VLAN carry one port at most."""
    ports: list[FcoePortConfig] = []
    seen: dict[tuple[str, int], int] = {}
    for i, table in enumerate(root.array("fcoe_port", FCOE_PORT_KEYS)):
        port = _fcoe_port(table, targets)
        key = (port.interface, port.vlan)
        if key in seen:
            where = f"{port.interface} VLAN {port.vlan}"
            raise table.fail("interface", f"{where} is used twice (also fcoe_port[{seen[key]}])")
        seen[key] = i
        ports.append(port)
    return ports


def _wwn(table: Table, key: str, text: str) -> int:
    try:
        return parse_port_wwn(text)
    except ValueError as err:
        raise table.fail(key, str(err)) from None


def _fcoe_port(table: Table, targets: dict[str, int]) -> FcoePortConfig:
    """One port: an interface, its names, mode and VLAN, the target and the initiator ACL."""
    table.required("interface")
    interface = table.text("interface")
    if problem := interface_error(interface):
        raise table.fail("interface", problem)
    wwnn, wwpn = (_wwn(table, k, text) if (text := table.text(k)) else None for k in ("wwnn", "wwpn"))
    table.required("targets")
    port_targets = table.texts("targets")
    if len(port_targets) != 1:
        raise table.fail("targets", "must name exactly one target (an FC port is one SCSI target port)")
    for name in port_targets:
        if name not in targets:
            raise table.fail("targets", f'unknown target "{name}"{did_you_mean(name, targets)}')
    return FcoePortConfig(
        interface=interface,
        wwnn=wwnn,
        wwpn=wwpn,
        mode=table.text("mode", "vn2vn", FCOE_MODES),
        vlan=table.integer("vlan", 0, 0, 4094),
        targets=port_targets,
        initiators=[_wwn(table, "initiators", text) for text in table.texts("initiators")],
    )
