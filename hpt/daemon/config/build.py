"""Loading a configuration: TOML text -> :class:`Config`, table by table, every error located."""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.daemon.config.auth import Auth, read_accounts
from hpt.daemon.config.fcoe import read_fcoe_ports
from hpt.daemon.config.iscsi import check_iscsi, iscsi_table, iscsi_values
from hpt.daemon.config.libraries import library_text
from hpt.daemon.config.limits import read_limits
from hpt.daemon.config.lines import SourceLines
from hpt.daemon.config.schema import (
    CONTROL_SOCKET,
    Config,
    DaemonConfig,
    DiscoveryConfig,
    MetricsConfig,
    PortalConfig,
)
from hpt.daemon.config.tables import ConfigError, Doc, Table
from hpt.daemon.config.target import TARGET_KEYS, read_target
from hpt.daemon.config.validators import parse_address
from hpt.daemon.config.workers import MAX_WORKERS, auto_workers, check_workers
from hpt.scsi.profiles import PROFILES

if TYPE_CHECKING:
    from hpt.scsi.core.profile import DeviceProfile

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
TRANSPORTS = ("tcp", "iser")
DEMO_TARGET = "iqn.2026-11.org.hpt:demo"
VTL_TARGET = "iqn.2026-11.org.hpt:vtl"
VTL_BARCODES = tuple(f"HPT{i:03d}L6" for i in range(1, 9))

ROOT_KEYS = ("daemon", "iscsi", "portal", "account", "discovery", "target", "fcoe_port", "limits", "metrics")
DAEMON_KEYS = ("log_level", "log_format", "control_socket", "workers", "event_loop")
PORTAL_KEYS = ("address", "transport", "group")
DISCOVERY_KEYS = ("auth", "incoming", "outgoing")
METRICS_KEYS = ("address",)
_DEFAULT_PORTAL = "0.0.0.0:3260"  # tgtd's default: every IPv4 address


def load_config(path: str | Path, *, profiles: Mapping[str, DeviceProfile] = PROFILES) -> Config:
    """Read and validate a configuration file; relative LUN paths are taken from the file's directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text: {err}") from None
    return parse_config(text, str(path), base_dir=path.parent, profiles=profiles)


def parse_config(text: str, source: str = "<config>", *, base_dir: str | Path | None = None,
                 profiles: Mapping[str, DeviceProfile] = PROFILES) -> Config:
    """Validate configuration text; ``source`` names it in errors, relative paths start at ``base_dir``,
    a LUN's ``type`` names one of ``profiles``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"at line (\d+)", str(err))
        raise ConfigError(f"{source}:{m[1] if m else 1}: TOML syntax error: {err}") from None
    doc = Doc(source, SourceLines(text), Path(base_dir) if base_dir is not None else Path.cwd())
    return _build(Table(doc, data, (), ROOT_KEYS), profiles)


def demo_text(portal: str = "127.0.0.1:3260", path: str | None = None) -> str:
    """The demo's configuration text: one open, CHAP-less, discoverable target
    ``iqn.2026-11.org.hpt:demo`` whose LUN 1 is 1 GiB of RAM, or a file at ``path``."""
    store = f'store = "file"\npath = {json.dumps(path)}' if path else 'store = "ram"'
    return (
        f"[[portal]]\naddress = {json.dumps(portal)}\n\n"
        f'[[target]]\nname = "{DEMO_TARGET}"\nalias = "demo"\n\n'
        f'[[target.lun]]\nlun = 1\nsize = "1G"\n{store}\n'
    )


def vtl_text(portal: str, media: str) -> str:
    """The virtual tape library demo: target ``iqn.2026-11.org.hpt:vtl`` with the changer at LUN 0
    (8 slots holding ``VTL_BARCODES``, 1 import/export slot, media in ``media``) and its two tape
    drives at LUNs 1 and 2."""
    return library_text(portal, VTL_TARGET, "vtl", media, "tape", [(code, None) for code in VTL_BARCODES])


def demo_config(portal: str = "127.0.0.1:3260", path: str | None = None) -> Config:
    """The demo configuration (:func:`demo_text`)."""
    return parse_config(demo_text(portal, path), "<demo>")


def _build(root: Table, profiles: Mapping[str, DeviceProfile]) -> Config:
    daemon = root.table("daemon", DAEMON_KEYS)
    config = Config(
        daemon=DaemonConfig(
            log_level=daemon.text("log_level", "info", LOG_LEVELS),
            log_format=daemon.text("log_format", "text", LOG_FORMATS),
            control_socket=_socket_path(daemon),
            workers=1 if (auto := _auto_workers(daemon)) else daemon.integer("workers", 1, 1, MAX_WORKERS),
            workers_auto=auto,
            event_loop=daemon.flag("event_loop", True),
        ),
        iscsi=iscsi_values(iscsi := iscsi_table(root)),
        portals=_portals(root),
        accounts=read_accounts(root),
        discovery=DiscoveryConfig(),
        targets=[],
    )
    check_iscsi([iscsi], config.iscsi)
    auth = Auth(config.accounts)
    config.discovery = _discovery(root, auth)
    groups = sorted({p.group for p in config.portals})
    seen: dict[str, int] = {}
    for i, table in enumerate(root.array("target", TARGET_KEYS)):
        target = read_target(table, groups, auth, iscsi, config.iscsi, profiles)
        if target.name in seen:
            raise table.fail("name", f"duplicate target name (also target[{seen[target.name]}])")
        seen[target.name] = i
        config.targets.append(target)
    auth.check_secrets()
    config.fcoe_ports = read_fcoe_ports(root, seen)
    config.limits = read_limits(root)
    config.metrics = _metrics(root)
    if auto:
        config.daemon.workers, config.daemon.workers_note = auto_workers(config)
    elif config.daemon.workers > 1:
        check_workers(config, daemon.where("workers"))
    return config


def _auto_workers(daemon: Table) -> bool:
    """``daemon.workers = "auto"``, the default (any other string is an error naming the choices)."""
    value = daemon.data.get("workers", "auto")
    if isinstance(value, str) and value != "auto":
        raise daemon.fail("workers", f'must be 1..{MAX_WORKERS} or "auto", got "{value}"')
    return value == "auto"


def _metrics(root: Table) -> MetricsConfig:
    """``[metrics] address``: an IP literal and a port (required: no port is a metrics default)."""
    if "metrics" not in root.data:
        return MetricsConfig()
    table = root.table("metrics", METRICS_KEYS)
    table.required("address")
    text = table.text("address")
    if not re.search(r":\d+$", text):
        raise table.fail("address", f'needs a port, e.g. "{text}:9410"')
    try:
        host, port = parse_address(text)
    except ValueError as err:
        raise table.fail("address", str(err)) from None
    return MetricsConfig(host, port)


def _socket_path(daemon: Table) -> str:
    """``control_socket``: "" for none; a relative path starts at the file's directory."""
    path = daemon.text("control_socket", CONTROL_SOCKET)
    return str((daemon.doc.base_dir / path).resolve()) if path and not path.startswith("/") else path


def _discovery(root: Table, auth: Auth) -> DiscoveryConfig:
    disc = root.table("discovery", DISCOVERY_KEYS)
    discovery = DiscoveryConfig(
        auth=disc.text("auth", "none", ("none", "chap")),
        incoming=disc.texts("incoming"),
        outgoing=disc.text("outgoing"),
    )
    if discovery.auth == "none" and (discovery.incoming or discovery.outgoing):
        raise disc.fail("auth", 'is "none" but incoming/outgoing accounts are given: set auth = "chap"')
    if discovery.auth == "chap" and not discovery.incoming:
        raise disc.fail("incoming", 'auth = "chap" needs at least one incoming account')
    auth.check(disc, discovery.incoming, discovery.outgoing)
    return discovery


def _portals(root: Table) -> list[PortalConfig]:
    tables = root.array("portal", PORTAL_KEYS)
    if not tables:
        host, port = parse_address(_DEFAULT_PORTAL)
        return [PortalConfig(host, port)]
    portals: list[PortalConfig] = []
    for table in tables:
        table.required("address")
        try:
            host, port = parse_address(table.text("address"))
        except ValueError as err:
            raise table.fail("address", str(err)) from None
        portal = PortalConfig(
            host, port, table.text("transport", "tcp", TRANSPORTS), table.integer("group", 1, 1, 65535),
            source=table.where("address"),
        )
        if portal.transport == "iser" and ipaddress.ip_address(host).is_unspecified:
            # an RDMA CM listener on a wildcard address belongs to no device: no PD to register the ring in
            raise table.fail("address", f"an iSER portal needs the address of an RDMA device, not {host}")
        for other in portals:
            # TCP ports and RDMA CM ports are separate spaces: iSCSI and iSER may share 3260
            if (other.host, other.port, other.transport) == (host, port, portal.transport):
                raise table.fail("address", f"{portal.address} ({portal.transport}) is listed twice")
        portals.append(portal)
    return portals
