"""A ``[[target]]`` table: name, alias, portal groups, ACLs, CHAP, key overrides and its LUNs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hpt.daemon.config.auth import Auth
from hpt.daemon.config.iscsi import check_iscsi, iscsi_table, iscsi_values
from hpt.daemon.config.library import check_drives
from hpt.daemon.config.lun import read_lun
from hpt.daemon.config.schema import IpNetwork, IscsiValue, TargetConfig
from hpt.daemon.config.tables import Table
from hpt.daemon.config.validators import iscsi_name_error, parse_network
from hpt.scsi.core.alua import AluaState, parse_state

if TYPE_CHECKING:
    from hpt.scsi.core.profile import DeviceProfile

TARGET_KEYS = (
    "name", "alias", "portal_groups", "initiators", "addresses", "acl_match", "incoming", "outgoing", "iscsi",
    "alua", "alua_explicit", "peer_port_groups", "lun",
)  # fmt: skip


def read_target(table: Table, groups: list[int], auth: Auth, global_table: Table,
                global_keys: dict[str, IscsiValue], profiles: Mapping[str, DeviceProfile]) -> TargetConfig:
    """One target; ``groups`` are the portal groups that exist, ``global_table`` the ``[iscsi]`` table."""
    table.required("name")
    name = table.text("name")
    if problem := iscsi_name_error(name):
        raise table.fail("name", problem)
    target = TargetConfig(
        name=name,
        alias=table.text("alias"),
        initiators=table.texts("initiators"),
        addresses=_networks(table),
        acl_match=table.text("acl_match", "all", ("all", "any")),
        incoming=table.texts("incoming"),
        outgoing=table.text("outgoing"),
        iscsi=iscsi_values(iscsi := iscsi_table(table)),
    )
    wanted = table.integers("portal_groups", 1, 65535)
    for group in wanted or ():
        if group not in groups:
            raise table.fail("portal_groups", f"no portal has group {group} (groups: {groups})")
    target.portal_groups = sorted(set(wanted)) if wanted is not None else list(groups)
    target.peer_port_groups = _peer_groups(table, target.portal_groups)
    target.alua = _alua(table, target.portal_groups, target.peer_port_groups)
    target.alua_explicit = table.flag("alua_explicit", False)
    for initiator in target.initiators:
        if problem := iscsi_name_error(initiator):
            raise table.fail("initiators", f'"{initiator}": {problem}')
    auth.check(table, target.incoming, target.outgoing)
    check_iscsi([global_table, iscsi], global_keys | target.iscsi)
    numbers: dict[int, int] = {}
    lun_tables = table.array("lun", None)
    for i, lun_table in enumerate(lun_tables):  # a LUN's keys depend on its type and store
        lun = read_lun(lun_table, name, profiles)
        if lun.lun in numbers:
            raise lun_table.fail("lun", f"LUN {lun.lun} is defined twice (also lun[{numbers[lun.lun]}])")
        numbers[lun.lun] = i
        target.luns.append(lun)
    check_drives(lun_tables, target.luns)
    return target


def _networks(table: Table) -> list[IpNetwork]:
    nets: list[IpNetwork] = []
    for text in table.texts("addresses"):
        try:
            nets.append(parse_network(text))
        except ValueError as err:
            raise table.fail("addresses", str(err)) from None
    return nets


def _peer_groups(table: Table, groups: list[int]) -> list[int]:
    """``peer_port_groups = [2]``: the target port groups of the other gateways serving this target's
    LUs (scale-out, SPC-5 5.16.2.1); each must differ from this hptd's portal groups, as relative
    target port identifiers are unique in the SCSI target device."""
    peers = table.integers("peer_port_groups", 1, 65535) or []
    for group in peers:
        if group in groups:
            raise table.fail("peer_port_groups", f"group {group} is a portal group of this target here "
                                                 f"(its groups: {groups}); a peer's group must differ")
    if len(set(peers)) != len(peers):
        raise table.fail("peer_port_groups", f"a group is listed twice: {peers}")
    return sorted(peers)


def _alua(table: Table, groups: list[int], peers: list[int]) -> dict[int, AluaState]:
    """``alua = { 2 = "standby" }``: the ALUA state of the target port group of each portal group or
    peer gateway's group named (SPC-5 5.16.2.4); the others are active/optimized."""
    raw = table.data.get("alua", {})
    alua = table.table("alua", list(raw) if isinstance(raw, dict) else ())
    states: dict[int, AluaState] = {}
    for key in alua.data:
        if not key.isdigit() or int(key) not in (*groups, *peers):
            known = f"its groups: {groups}" + (f", peer groups: {peers}" if peers else "")
            raise alua.fail(key, f"not a portal group of this target ({known})")
        name = alua.text(key)
        try:
            states[int(key)] = parse_state(name)
        except ValueError as err:
            raise alua.fail(key, str(err)) from None
    return states
