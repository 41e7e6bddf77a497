"""The validated configuration: what ``load_config`` returns, one dataclass per kind of table."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpt.iscsi.limits import Limits

if TYPE_CHECKING:
    from hpt.scsi.core.alua import AluaState
    from hpt.scsi.core.profile import DeviceProfile
    from hpt.scsi.lu import LuParams

IscsiValue = str | int | bool
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORT = 3260

#: where hptd listens for hptadm by default (docs/control.md)
CONTROL_SOCKET = "/run/hpt/control.sock"


@dataclass(slots=True)
class DaemonConfig:
    log_level: str = "info"
    log_format: str = "text"
    control_socket: str = CONTROL_SOCKET  # hptadm's JSON-RPC socket (docs/control.md); "": none
    workers: int = 1  # processes serving the iSCSI/TCP sessions (docs/workers.md); 1: this process
    workers_auto: bool = False  # workers = "auto": one per core, when the configuration allows several
    workers_note: str = ""  # with "auto" and one process: what only one process serves
    event_loop: bool = True  # each TCP portal's loop serves its busy connections (False: a thread each)


@dataclass(slots=True)
class MetricsConfig:
    """``[metrics]``: where hptd serves Prometheus metrics (no host: not served)."""

    host: str = ""  # an IP literal without brackets
    port: int = 0

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(slots=True)
class PortalConfig:
    """A listening address in a target portal group (RFC 7143 4.4.1)."""

    host: str  # an IP literal without brackets
    port: int = DEFAULT_PORT
    transport: str = "tcp"
    group: int = 1
    source: str = field(default="", compare=False, repr=False)  # "file:line: portal[i].address"

    @property
    def address(self) -> str:
        """The ``host:port`` form, IPv6 hosts in brackets (as in SendTargets TargetAddress)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(slots=True)
class DiscoveryConfig:
    auth: str = "none"
    incoming: list[str] = field(default_factory=list)
    outgoing: str = ""


@dataclass(slots=True)
class CartridgeConfig:
    """A cartridge's place when the library starts without a state file: its storage slot (0-based
    index; ``slot = 1`` in the file), its file in the media directory and its barcode."""

    slot: int
    file: str
    barcode: str


@dataclass(slots=True)
class LibraryConfig:
    """A changer LU's library: its slots, drives (LUNs of its target, data transfer element 0 first),
    media directory and the cartridges' first placement."""

    slots: int
    import_export: int
    media: Path
    drives: list[int] = field(default_factory=list)
    cartridges: list[CartridgeConfig] = field(default_factory=list)


@dataclass(slots=True)
class LunConfig:
    """One logical unit: its number, device type, SCSI parameters and backing store.

    ``params`` holds the common keys and the device type's (a key the type declares that is not a
    :class:`LuParams` field is in ``params.extra``); ``store_values`` are the store kind's keys,
    resolved through its schema, as ``hpt.store.registry.open_store`` takes them.
    """

    lun: int
    profile: DeviceProfile = field(repr=False)  # the type: a name of PROFILES (or of the loader's mapping)
    params: LuParams
    store: str = "file"  # "" for a LU without a store (a changer)
    store_values: dict[str, Any] = field(default_factory=dict)
    library: LibraryConfig | None = None  # a changer's library
    source: str = field(default="", compare=False, repr=False)  # "file:line: target[i].lun[j]"

    @property
    def type(self) -> str:
        """The device type's name (the ``type`` key)."""
        return self.profile.name


@dataclass(slots=True)
class TargetConfig:
    name: str
    alias: str = ""
    portal_groups: list[int] = field(default_factory=list)
    initiators: list[str] = field(default_factory=list)
    addresses: list[IpNetwork] = field(default_factory=list)
    acl_match: str = "all"  # "all": name and address must match; "any": either (as tgt)
    incoming: list[str] = field(default_factory=list)
    outgoing: str = ""
    iscsi: dict[str, IscsiValue] = field(default_factory=dict)
    luns: list[LunConfig] = field(default_factory=list)
    alua: dict[int, AluaState] = field(default_factory=dict)  # portal group -> its target port group's state
    alua_explicit: bool = False  # SET TARGET PORT GROUPS allowed (TPGS 11b, SPC-5 5.16.2.3)
    peer_port_groups: list[int] = field(default_factory=list)  # other gateways' groups (SPC-5 5.16.2.1)

    def allows(self, initiator_name: str, address: str) -> bool:
        """The ACL: the initiator's name and its IP address must both match (an empty list matches
        any); with ``acl_match = "any"`` one of them is enough, as in tgt (both lists given)."""
        name_ok = not self.initiators or initiator_name.lower() in (i.lower() for i in self.initiators)
        if self.acl_match == "any" and self.initiators and self.addresses:
            return name_ok or self._address_ok(address)
        return name_ok and self._address_ok(address)

    def _address_ok(self, address: str) -> bool:
        if not self.addresses:
            return True
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.addresses)


@dataclass(slots=True)
class FcoePortConfig:
    """An FCoE port (``[[fcoe_port]]``) exposing one target's LUNs; WWNs None: derived from the MAC."""

    interface: str
    wwnn: int | None = None
    wwpn: int | None = None
    mode: str = "vn2vn"
    vlan: int = 0
    targets: list[str] = field(default_factory=list)
    initiators: list[int] = field(default_factory=list)  # allowed initiator WWPNs; empty: any


@dataclass(slots=True)
class Config:
    daemon: DaemonConfig
    iscsi: dict[str, IscsiValue]
    portals: list[PortalConfig]
    accounts: dict[str, str]
    discovery: DiscoveryConfig
    targets: list[TargetConfig]
    fcoe_ports: list[FcoePortConfig] = field(default_factory=list)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    limits: Limits = field(default_factory=Limits)  # [limits]

    def iscsi_for(self, target: TargetConfig) -> dict[str, IscsiValue]:
        """The key overrides in force for ``target``: the global ``[iscsi]`` table, then the target's."""
        return self.iscsi | target.iscsi

    def portals_for(self, target: TargetConfig) -> list[PortalConfig]:
        return [p for p in self.portals if p.group in target.portal_groups]
