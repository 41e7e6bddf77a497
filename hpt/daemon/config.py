"""hptd's declarative configuration: a TOML file loaded (``tomllib``) into validated dataclasses.

``hptd --config FILE`` reads a file of this form (every key shown; ``docs/config.md`` explains each one and
``examples/hptd.toml`` is a complete example)::

    [daemon]
    log_level = "info"          # debug|info|warning|error
    log_format = "text"         # text|json

    [iscsi]                     # iSCSI key overrides for every target (RFC 7143 section 13 names),
    MaxBurstLength = 1048576    # validated by hpt.iscsi.negotiation.TargetPolicy.from_overrides

    [[portal]]
    address = "127.0.0.1:3260"  # IPv4 "a.b.c.d:port", IPv6 "[::1]:3260", port optional (3260)
    transport = "tcp"           # tcp|iser
    group = 1                   # target portal group tag, 1..65535

    [[account]]                 # CHAP accounts; secret 12..255 bytes (RFC 7143 12.1.3)
    name = "alice"
    secret = "alice-secret-1"

    [discovery]
    auth = "none"               # none|chap
    incoming = ["alice"]        # accounts allowed to log in to discovery sessions
    outgoing = ""               # account the target answers mutual CHAP with ("" = none)

    [[target]]
    name = "iqn.2026-11.org.example:disk1"   # iqn./eui./naa. name (RFC 7143 4.2.7)
    alias = "disk1"
    portal_groups = [1]         # default: all groups
    initiators = ["iqn.1994-05.com.redhat:client"]   # ACL by initiator name; empty = any
    addresses = ["127.0.0.0/8", "::1/128"]           # ACL by initiator address (CIDR); empty = any
    incoming = ["alice"]        # CHAP required with one of these accounts when non-empty
    outgoing = ""               # mutual CHAP account
    [target.iscsi]              # per-target key overrides
      ImmediateData = true
      [[target.lun]]
      lun = 1                   # 0..16383
      type = "disk"
      store = "file"            # file|ram|null
      path = "/var/lib/hpt/disk1.img"   # file only; created sparse when missing and size given
      size = "1G"               # bytes or K/M/G/T suffix (binary)
      block_size = 512          # 512|4096
      readonly = false
      thin = false
      direct = false            # O_DIRECT
      serial = ""               # default derived from target name + LUN
      wwn = ""                  # NAA identifier, "0x" + 16 or 32 hex digits; default derived by the LU
      vendor = "HPT"            # <= 8 ASCII characters (SPC-5 6.7.2)
      product = "VIRTUAL-DISK"  # <= 16
      revision = "0001"         # <= 4
      removable = false
      rotation_rate = 1
      write_cache = true

Every error is a :class:`ConfigError` whose message names the file, the line and the key, e.g.
``hptd.toml:31: target[0].lun[1].block_size: must be 512 or 4096, got 520``. tomllib reports no line
numbers for values, so :class:`_SourceLines` finds them by scanning the text for table headers and keys.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hpt.iscsi.keys import KEYS, Kind
from hpt.iscsi.negotiation import TargetPolicy
from hpt.scsi.lu import LuParams
from hpt.scsi.profiles import PROFILES

IscsiValue = str | int | bool
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
TablePath = tuple[str | int, ...]

DEFAULT_PORT = 3260
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
TRANSPORTS = ("tcp", "iser")
STORES = ("file", "ram", "null")
BLOCK_SIZES = (512, 4096)
PLANNED_DEVICE_TYPES = ("tape", "changer", "cd", "osd")
MAX_LUN = 16383  # flat space addressing (SAM-5 4.7.7)
CHAP_SECRET_BYTES = (12, 255)  # RFC 7143 12.1.3: at least 96 bits
MAX_NAME_BYTES = 223  # RFC 7143 4.2.7.1
DEMO_TARGET = "iqn.2026-11.org.hpt:demo"


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message is ``FILE:LINE: key.path: what is wrong``."""


# -- the validated configuration -------------------------------------------------------------------


@dataclass(slots=True)
class DaemonConfig:
    log_level: str = "info"
    log_format: str = "text"


@dataclass(slots=True)
class PortalConfig:
    """A listening address in a target portal group (RFC 7143 4.4.1)."""

    host: str  # an IP literal without brackets
    port: int = DEFAULT_PORT
    transport: str = "tcp"
    group: int = 1

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
class LunConfig:
    """One logical unit of a target; the field names are the TOML keys."""

    lun: int
    type: str = "disk"
    store: str = "file"
    path: str = ""  # absolute; "" unless store == "file"
    size: int | None = None  # bytes; None: the existing file's size
    block_size: int = 512
    readonly: bool = False
    thin: bool = False
    direct: bool = False
    serial: str = ""  # filled in (derived) when the file leaves it empty
    wwn: str = ""  # "0x" + lowercase hex, or "" for an identifier derived by the LU
    vendor: str = "HPT"
    product: str = "VIRTUAL-DISK"
    revision: str = "0001"
    removable: bool = False
    rotation_rate: int = 1
    write_cache: bool = True

    def to_lu_params(self) -> LuParams:
        """The SCSI-side parameters of this LU (the store fields stay with the backing store)."""
        return LuParams(
            block_size=self.block_size,
            readonly=self.readonly,
            thin=self.thin,
            removable=self.removable,
            vendor=self.vendor,
            product=self.product,
            revision=self.revision,
            serial=self.serial,
            naa=int(self.wwn, 16) if self.wwn else None,
            rotation_rate=self.rotation_rate,
            write_cache=self.write_cache,
        )


@dataclass(slots=True)
class TargetConfig:
    name: str
    alias: str = ""
    portal_groups: list[int] = field(default_factory=list)
    initiators: list[str] = field(default_factory=list)
    addresses: list[IpNetwork] = field(default_factory=list)
    incoming: list[str] = field(default_factory=list)
    outgoing: str = ""
    iscsi: dict[str, IscsiValue] = field(default_factory=dict)
    luns: list[LunConfig] = field(default_factory=list)

    def allows(self, initiator_name: str, address: str) -> bool:
        """The ACL: the initiator's name and its IP address must both match (an empty list matches any)."""
        if self.initiators and initiator_name.lower() not in (i.lower() for i in self.initiators):
            return False
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

    def iscsi_for(self, target: TargetConfig) -> dict[str, IscsiValue]:
        """The key overrides in force for ``target``: the global ``[iscsi]`` table, then the target's."""
        return self.iscsi | target.iscsi

    def portals_for(self, target: TargetConfig) -> list[PortalConfig]:
        return [p for p in self.portals if p.group in target.portal_groups]


# -- public entry points ---------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; relative LUN paths are taken from the file's directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text: {err}") from None
    return parse_config(text, str(path), base_dir=path.parent)


def parse_config(text: str, source: str = "<config>", *, base_dir: str | Path | None = None) -> Config:
    """Validate configuration text; ``source`` names it in errors, relative paths start at ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"at line (\d+)", str(err))
        raise ConfigError(f"{source}:{m[1] if m else 1}: TOML syntax error: {err}") from None
    doc = _Doc(source, _SourceLines(text), Path(base_dir) if base_dir is not None else Path.cwd())
    return _build(doc, data)


def demo_config(portal: str = "127.0.0.1:3260", path: str | None = None) -> Config:
    """The demo: one open, CHAP-less, discoverable target ``iqn.2026-11.org.hpt:demo`` whose LUN 1 is
    1 GiB of RAM, or a file at ``path``."""
    store = f'store = "file"\npath = {json.dumps(path)}' if path else 'store = "ram"'
    text = (
        f"[[portal]]\naddress = {json.dumps(portal)}\n\n"
        f'[[target]]\nname = "{DEMO_TARGET}"\nalias = "demo"\n\n'
        f'[[target.lun]]\nlun = 1\nsize = "1G"\n{store}\n'
    )
    return parse_config(text, "<demo>")


def parse_size(value: int | str) -> int:
    """Bytes from an integer or a string such as ``"4096"``, ``"512M"``, ``"1G"``, ``"2TiB"`` (binary)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f'must be a byte count or a string like "1G", got {_show(value)}')
    if isinstance(value, int):
        size = value
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*", value.upper())
        if m is None:
            raise ValueError(f'must be bytes or a number with a K/M/G/T suffix, got "{value}"')
        size = int(m[1]) << (10 * " KMGT".index(m[2] or " "))
    if size <= 0:
        raise ValueError(f"must be positive, got {value!r}")
    return size


def iscsi_name_error(name: str) -> str | None:
    """Why ``name`` is not an iSCSI name in iqn., eui. or naa. form (RFC 7143 4.2.7), or None."""
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    if name != name.lower() and not name.lower().startswith(("eui.", "naa.")):
        return f'iSCSI names are lowercase (did you mean "{name.lower()}"?)'
    if name.startswith("iqn."):
        if not _IQN.fullmatch(name):
            return (
                'expected "iqn.YYYY-MM.reversed.domain[:unique]" of lowercase letters, digits, "-", ".", ":"'
            )
        return None
    if name.lower().startswith("eui."):
        return None if re.fullmatch(r"eui\.[0-9A-Fa-f]{16}", name) else 'expected "eui." and 16 hex digits'
    if name.lower().startswith("naa."):
        ok = re.fullmatch(r"naa\.(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})", name)
        return None if ok else 'expected "naa." and 16 or 32 hex digits'
    return 'must start with "iqn.", "eui." or "naa."'


_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_IQN = re.compile(rf"iqn\.\d{{4}}-(?:0[1-9]|1[0-2])\.{_LABEL}(?:\.{_LABEL})*(?::[a-z0-9.:-]*)?")


# -- iSCSI key overrides: validated by the key table (hpt/iscsi/keys.py) through TargetPolicy -----

_POLICY_FIELDS = {f.name for f in fields(TargetPolicy)}
CONFIGURABLE_KEYS = tuple(k for k, kd in KEYS.items() if kd.field in _POLICY_FIELDS and k != "TargetAlias")


def _iscsi_key_problem(name: str) -> str | None:
    """Why ``name`` cannot be set in an ``[iscsi]`` table, or None."""
    if name in CONFIGURABLE_KEYS:
        return None
    kd = KEYS.get(name)
    if name == "TargetAlias":
        return "set the target's alias key instead"
    if kd is None:
        return f"not an iSCSI key a target can configure{_did_you_mean(name, CONFIGURABLE_KEYS)}"
    if kd.kind is Kind.OBSOLETE:
        return f"obsolete key ({kd.section})"
    return f"not configurable: it is negotiated or declared per login ({kd.section})"


# -- line numbers ----------------------------------------------------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER_RE = re.compile(rf"\s*(\[\[?)\s*({_DOTTED})\s*\]")
_KEY_RE = re.compile(rf"\s*({_DOTTED})\s*=(.*)")
_STRINGS_RE = re.compile(r"""\"(?:[^"\\]|\\.)*"|'[^']*'|#.*""")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(_KEY_PART, text)
    return [p[1:-1] if p[0] in "\"'" else p for p in parts]


class _SourceLines:
    """Where each table instance and key is written: ``path`` -> line, ``(path, key)`` -> line.

    Array-of-table instances are numbered as tomllib numbers them: ``[[target.lun]]`` belongs to the
    latest ``[[target]]``, so ``("target", 0, "lun", 1)`` is the second LUN of the first target.
    """

    def __init__(self, text: str) -> None:
        self.headers: dict[TablePath, int] = {}
        self.keys: dict[tuple[TablePath, str], int] = {}
        counts: dict[TablePath, int] = {}
        latest: dict[tuple[str, ...], TablePath] = {}  # array name path -> its latest instance
        table: TablePath = ()
        depth = 0  # open brackets/braces of a multi-line value
        in_string = ""
        for lineno, line in enumerate(text.splitlines(), 1):
            if in_string:
                if line.count(in_string) % 2:
                    in_string = ""
                continue
            if depth > 0:
                depth += _bracket_delta(line)
                continue
            if (header := _HEADER_RE.match(line)) is not None:
                names = _split_dotted(header[2])
                table = _resolve(names[:-1], latest)
                if header[1] == "[[":
                    key = (*table, names[-1])
                    table = (*key, counts.get(key, 0))
                    counts[key] = counts.get(key, 0) + 1
                    latest[tuple(names)] = table
                else:
                    table = (*table, names[-1])
                self.headers.setdefault(table, lineno)
            elif (entry := _KEY_RE.match(line)) is not None:
                names = _split_dotted(entry[1])
                for i, name in enumerate(names):
                    self.keys.setdefault(((*table, *names[:i]), name), lineno)
                value = entry[2].strip()
                for quote in ('"""', "'''"):
                    if value.startswith(quote) and value.count(quote) == 1:
                        in_string = quote
                depth = 0 if in_string else _bracket_delta(value)

    def line_of(self, path: TablePath, key: str | None = None) -> int:
        """The line of ``key`` in table ``path``, else of the nearest enclosing table header or key."""
        if key is not None and (path, key) in self.keys:
            return self.keys[(path, key)]
        while path:
            if path in self.headers:
                return self.headers[path]
            parent = path[:-2] if isinstance(path[-1], int) else path[:-1]
            name = path[-2] if isinstance(path[-1], int) else path[-1]
            if isinstance(name, str) and (parent, name) in self.keys:
                return self.keys[(parent, name)]
            path = parent
        return 1


def _resolve(names: Sequence[str], latest: dict[tuple[str, ...], TablePath]) -> TablePath:
    """The concrete path of a header's parent names: array names resolve to their latest instance."""
    path: TablePath = ()
    for i, name in enumerate(names):
        path = latest.get(tuple(names[: i + 1]), (*path, name))
    return path


def _bracket_delta(text: str) -> int:
    code = _STRINGS_RE.sub("", text)
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


# -- reading tables --------------------------------------------------------------------------------


def _show(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[close[0]]}"?)' if close else ""


def _dotted(path: TablePath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(slots=True)
class _Doc:
    source: str
    lines: _SourceLines
    base_dir: Path

    def error(self, path: TablePath, key: str | None, message: str) -> ConfigError:
        where = _dotted((*path, key) if key else path) or "(top level)"
        return ConfigError(f"{self.source}:{self.lines.line_of(path, key)}: {where}: {message}")


class _Table:
    """One TOML table being read: typed getters whose errors name the key and its line."""

    def __init__(self, doc: _Doc, data: dict[str, Any], path: TablePath, keys: Sequence[str]) -> None:
        self.doc, self.data, self.path, self.keys = doc, data, path, keys
        for key in data:
            if key not in keys:
                raise self.fail(key, f"unknown key{_did_you_mean(key, keys)}")

    def fail(self, key: str | None, message: str) -> ConfigError:
        return self.doc.error(self.path, key, message)

    def _value(self, key: str, default: Any, kind: type | tuple[type, ...], what: str) -> Any:
        assert key in self.keys, key
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise self.fail(key, f"must be {what}, got {_show(value)}")
        return value

    def text(self, key: str, default: str = "", choices: Sequence[str] = ()) -> str:
        value: str = self._value(key, default, str, "a string")
        if choices and value not in choices:
            raise self.fail(
                key, f'must be one of {", ".join(choices)}, got "{value}"{_did_you_mean(value, choices)}'
            )
        return value

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value: int = self._value(key, default, int, "an integer")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be {lo}..{hi}, got {value}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value: bool = self._value(key, default, bool, "true or false")
        return value

    def texts(self, key: str) -> list[str]:
        values: list[Any] = self._value(key, [], list, "an array of strings")
        for item in values:
            if not isinstance(item, str):
                raise self.fail(key, f"must be an array of strings, has {_show(item)}")
        return list(values)

    def integers(self, key: str, lo: int, hi: int) -> list[int] | None:
        values: list[Any] | None = self._value(key, None, list, "an array of integers")
        for item in values or ():
            if isinstance(item, bool) or not isinstance(item, int) or not lo <= item <= hi:
                raise self.fail(key, f"must be integers {lo}..{hi}, has {_show(item)}")
        return values

    def table(self, key: str, keys: Sequence[str]) -> _Table:
        return _Table(self.doc, self._value(key, {}, dict, f"a table ([{key}])"), (*self.path, key), keys)

    def array(self, key: str, keys: Sequence[str]) -> list[_Table]:
        items: list[Any] = self._value(key, [], list, f"an array of tables ([[{key}]])")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(key, f"must be an array of tables ([[{key}]]), has {_show(item)}")
            out.append(_Table(self.doc, item, (*self.path, key, i), keys))
        return out

    def required(self, key: str) -> None:
        if key not in self.data:
            raise self.fail(key, "required")


# -- building the configuration --------------------------------------------------------------------

_ROOT_KEYS = ("daemon", "iscsi", "portal", "account", "discovery", "target", "fcoe_port")
_DAEMON_KEYS = ("log_level", "log_format")
_PORTAL_KEYS = ("address", "transport", "group")
_ACCOUNT_KEYS = ("name", "secret")
_DISCOVERY_KEYS = ("auth", "incoming", "outgoing")
_TARGET_KEYS = (
    "name", "alias", "portal_groups", "initiators", "addresses", "incoming", "outgoing", "iscsi", "lun",
)  # fmt: skip
_LUN_KEYS = tuple(LunConfig.__dataclass_fields__)
_FCOE_PORT_KEYS = tuple(FcoePortConfig.__dataclass_fields__)
FCOE_MODES = ("vn2vn", "fabric")
_DEFAULT_PORTAL = "0.0.0.0:3260"  # tgtd's default: every IPv4 address


def _build(doc: _Doc, data: dict[str, Any]) -> Config:
    root = _Table(doc, data, (), _ROOT_KEYS)
    daemon = root.table("daemon", _DAEMON_KEYS)
    config = Config(
        daemon=DaemonConfig(
            log_level=daemon.text("log_level", "info", LOG_LEVELS),
            log_format=daemon.text("log_format", "text", LOG_FORMATS),
        ),
        iscsi=_iscsi_values(iscsi := _iscsi_table(root)),
        portals=_portals(root),
        accounts=_accounts(root),
        discovery=DiscoveryConfig(),
        targets=[],
    )
    _check_iscsi([iscsi], config.iscsi)
    auth = _Auth(config.accounts)
    disc = root.table("discovery", _DISCOVERY_KEYS)
    config.discovery = DiscoveryConfig(
        auth=disc.text("auth", "none", ("none", "chap")),
        incoming=disc.texts("incoming"),
        outgoing=disc.text("outgoing"),
    )
    if config.discovery.auth == "none" and (config.discovery.incoming or config.discovery.outgoing):
        raise disc.fail("auth", 'is "none" but incoming/outgoing accounts are given: set auth = "chap"')
    if config.discovery.auth == "chap" and not config.discovery.incoming:
        raise disc.fail("incoming", 'auth = "chap" needs at least one incoming account')
    auth.check(disc, config.discovery.incoming, config.discovery.outgoing)
    groups = sorted({p.group for p in config.portals})
    seen: dict[str, int] = {}
    for i, table in enumerate(root.array("target", _TARGET_KEYS)):
        target = _target(table, groups, auth, iscsi, config.iscsi)
        if target.name in seen:
            raise table.fail("name", f"duplicate target name (also target[{seen[target.name]}])")
        seen[target.name] = i
        config.targets.append(target)
    auth.check_secrets()
    config.fcoe_ports = _fcoe_ports(root, seen)
    return config


def _iscsi_table(parent: _Table) -> _Table:
    """An ``[iscsi]`` table: key names checked here, values by :func:`_check_iscsi`."""
    raw = parent.data.get("iscsi")
    table = parent.table("iscsi", tuple(raw) if isinstance(raw, dict) else ())
    for name, value in table.data.items():
        problem = _iscsi_key_problem(name)
        if problem:
            raise table.fail(name, problem)
        if isinstance(value, dict) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            raise table.fail(name, f"must be a number, true/false, or text, got {_show(value)}")
    return table


def _iscsi_values(table: _Table) -> dict[str, IscsiValue]:
    """The overrides as given, an array of list values joined into the key's text form (``"CRC32C,None"``)."""
    return {k: ",".join(v) if isinstance(v, list) else v for k, v in table.data.items()}


def _check_iscsi(tables: Sequence[_Table], overrides: dict[str, IscsiValue]) -> None:
    """Validate the overrides in force (later tables win) as hpt's login negotiation will use them;
    an error points at the key it names in the last table that sets it."""
    try:
        TargetPolicy.from_overrides(overrides)
    except ValueError as err:
        message = str(err)
        name = next((k for k in overrides if message.startswith(k)), None)
        name = name or next((k for k in overrides if k in message), None)
        table = next((t for t in reversed(tables) if name in t.data), tables[-1])
        raise table.fail(name, message.removeprefix(f"{name}: ")) from None


def _portals(root: _Table) -> list[PortalConfig]:
    tables = root.array("portal", _PORTAL_KEYS)
    if not tables:
        host, port = _parse_address(_DEFAULT_PORTAL)
        return [PortalConfig(host, port)]
    portals: list[PortalConfig] = []
    for table in tables:
        table.required("address")
        try:
            host, port = _parse_address(table.text("address"))
        except ValueError as err:
            raise table.fail("address", str(err)) from None
        portal = PortalConfig(
            host, port, table.text("transport", "tcp", TRANSPORTS), table.integer("group", 1, 1, 65535)
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


def _parse_address(text: str) -> tuple[str, int]:
    """``a.b.c.d[:port]`` or ``[v6][:port]`` -> (IP literal, port)."""
    m = re.fullmatch(r"\[([^\]]+)\](?::(.*))?", text)
    if m is not None:
        host, port = m[1], m[2]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f'"{host}" is not an IPv6 address') from None
    elif text.count(":") > 1:
        raise ValueError(f'IPv6 addresses go in brackets, e.g. "[{text}]:{DEFAULT_PORT}"')
    else:
        host, _, port = text.partition(":")
        port = port if ":" in text else None
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f'"{host}" is not an IPv4 address (give an IP literal)') from None
    if port is None:
        return host, DEFAULT_PORT
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f'port must be 1..65535, got "{port}"')
    return host, int(port)


def _accounts(root: _Table) -> dict[str, str]:
    accounts: dict[str, str] = {}
    lo, hi = CHAP_SECRET_BYTES
    for table in root.array("account", _ACCOUNT_KEYS):
        table.required("name")
        table.required("secret")
        name, secret = table.text("name"), table.text("secret")
        if not name or len(name.encode()) > 255:
            raise table.fail("name", "must be 1..255 bytes")
        if name in accounts:
            raise table.fail("name", f'account "{name}" is defined twice')
        if not lo <= len(secret.encode()) <= hi:
            raise table.fail(
                "secret", f"must be {lo}..{hi} bytes (RFC 7143 12.1.3), got {len(secret.encode())}"
            )
        accounts[name] = secret
    return accounts


class _Auth:
    """CHAP account references, and the RFC 7143 12.1.3 rule that an initiator-authentication secret
    is never also used to authenticate a target."""

    def __init__(self, accounts: dict[str, str]) -> None:
        self.accounts = accounts
        self.incoming: set[str] = set()
        self.outgoing: list[tuple[_Table, str]] = []

    def check(self, table: _Table, incoming: list[str], outgoing: str) -> None:
        known = ", ".join(self.accounts) or "none defined"
        for name in incoming:
            if name not in self.accounts:
                raise table.fail("incoming", f'unknown account "{name}" (accounts: {known})')
        if outgoing and outgoing not in self.accounts:
            raise table.fail("outgoing", f'unknown account "{outgoing}" (accounts: {known})')
        if outgoing and not incoming:
            raise table.fail("outgoing", "mutual CHAP needs incoming accounts too")
        self.incoming.update(incoming)
        if outgoing:
            self.outgoing.append((table, outgoing))

    def check_secrets(self) -> None:
        for table, name in self.outgoing:
            secret = self.accounts[name]
            clash = sorted(n for n in self.incoming if self.accounts[n] == secret)
            if clash:
                raise table.fail(
                    "outgoing",
                    f'account "{name}" has the same secret as incoming account "{clash[0]}": '
                    "a target's secret must differ from every initiator's (RFC 7143 12.1.3)",
                )


def _target(
    table: _Table, groups: list[int], auth: _Auth, global_table: _Table, global_keys: dict[str, IscsiValue]
) -> TargetConfig:
    table.required("name")
    name = table.text("name")
    problem = iscsi_name_error(name)
    if problem:
        raise table.fail("name", problem)
    target = TargetConfig(
        name=name,
        alias=table.text("alias"),
        initiators=table.texts("initiators"),
        addresses=_networks(table),
        incoming=table.texts("incoming"),
        outgoing=table.text("outgoing"),
        iscsi=_iscsi_values(iscsi := _iscsi_table(table)),
    )
    wanted = table.integers("portal_groups", 1, 65535)
    for group in wanted or ():
        if group not in groups:
            raise table.fail("portal_groups", f"no portal has group {group} (groups: {groups})")
    target.portal_groups = sorted(set(wanted)) if wanted is not None else list(groups)
    for initiator in target.initiators:
        problem = iscsi_name_error(initiator)
        if problem:
            raise table.fail("initiators", f'"{initiator}": {problem}')
    auth.check(table, target.incoming, target.outgoing)
    _check_iscsi([global_table, iscsi], global_keys | target.iscsi)
    numbers: dict[int, int] = {}
    for i, lun_table in enumerate(table.array("lun", _LUN_KEYS)):
        lun = _lun(lun_table, name)
        if lun.lun in numbers:
            raise lun_table.fail("lun", f"LUN {lun.lun} is defined twice (also lun[{numbers[lun.lun]}])")
        numbers[lun.lun] = i
        target.luns.append(lun)
    return target


def _networks(table: _Table) -> list[IpNetwork]:
    nets: list[IpNetwork] = []
    for text in table.texts("addresses"):
        try:
            nets.append(ipaddress.ip_network(text))
        except ValueError as err:
            hint = ""
            try:
                hint = f' (did you mean "{ipaddress.ip_network(text, strict=False)}"?)'
            except ValueError:
                pass
            raise table.fail("addresses", f'"{text}" is not a CIDR network: {err}{hint}') from None
    return nets


def _ascii_field(table: _Table, key: str, default: str, limit: int) -> str:
    """Printable-ASCII INQUIRY/VPD text (SPC-5 4.3.1) of at most ``limit`` characters."""
    value = table.text(key, default)
    if len(value) > limit or not all(" " <= c <= "~" for c in value):
        raise table.fail(key, f'must be at most {limit} printable ASCII characters, got "{value}"')
    return value


def _lun(table: _Table, target_name: str) -> LunConfig:
    table.required("lun")
    lun = LunConfig(lun=table.integer("lun", 0, 0, MAX_LUN))
    lun.type = table.text("type", "disk", (*PROFILES, *PLANNED_DEVICE_TYPES))
    if lun.type not in PROFILES:
        raise table.fail(
            "type", f'device type "{lun.type}" is not supported yet (supported: {", ".join(PROFILES)})'
        )
    lun.store = table.text("store", "file", STORES)
    lun.block_size = table.integer("block_size", 512, 0, 1 << 20)
    if lun.block_size not in BLOCK_SIZES:
        raise table.fail("block_size", f"must be 512 or 4096, got {lun.block_size}")
    for key in ("readonly", "thin", "direct", "removable", "write_cache"):
        setattr(lun, key, table.flag(key, getattr(lun, key)))
    if "size" in table.data:
        try:
            lun.size = parse_size(table.data["size"])
        except ValueError as err:
            raise table.fail("size", str(err)) from None
        if lun.size % lun.block_size:
            raise table.fail("size", f"{lun.size} bytes is not a multiple of block_size {lun.block_size}")
    _lun_store(table, lun)
    lun.vendor = _ascii_field(table, "vendor", lun.vendor, 8)
    lun.product = _ascii_field(table, "product", lun.product, 16)
    lun.revision = _ascii_field(table, "revision", lun.revision, 4)
    lun.serial = _ascii_field(table, "serial", "", 64) or _derived_serial(target_name, lun.lun)
    lun.wwn = _wwn(table)
    lun.rotation_rate = table.integer("rotation_rate", 1, 0, 0xFFFE)
    if 2 <= lun.rotation_rate <= 0x400:
        raise table.fail("rotation_rate", "must be 0 (not reported), 1 (non-rotating) or 1025..65534 rpm")
    return lun


def _lun_store(table: _Table, lun: LunConfig) -> None:
    """The store fields: ``path`` for files only, ``size`` wherever no existing file gives one."""
    path = table.text("path")
    if lun.store != "file":
        for key in ("path", "direct"):
            if key in table.data:
                raise table.fail(key, f'only for store = "file" (store is "{lun.store}")')
        if lun.size is None:
            raise table.fail("size", f'required for store = "{lun.store}"')
        return
    if not path:
        raise table.fail("path", 'required for store = "file"')
    full = (table.doc.base_dir / path).resolve()
    lun.path = str(full)
    if full.is_dir():
        raise table.fail("path", f"{full} is a directory")
    if not full.exists():
        if lun.size is None:
            raise table.fail("size", f"required because {full} does not exist yet")
        if not full.parent.is_dir():
            raise table.fail("path", f"directory {full.parent} does not exist")


def _derived_serial(target_name: str, lun: int) -> str:
    """A stable unit serial number (VPD page 80h) from the target name and LUN."""
    return hashlib.sha256(f"{target_name}/{lun}".encode()).hexdigest()[:16]


def _wwn(table: _Table) -> str:
    """An NAA designator (device identification VPD page 83h): 16 hex digits of NAA 2/3/5, or 32 of NAA 6."""
    text = table.text("wwn")
    if not text:
        return ""
    digits = text[2:] if text[:2].lower() == "0x" else text
    ok = re.fullmatch(r"[0-9a-fA-F]+", digits) is not None and (
        (len(digits) == 16 and digits[0] in "235") or (len(digits) == 32 and digits[0] == "6")
    )
    if not ok:
        raise table.fail("wwn", f'must be "0x" + 16 hex digits (NAA 2, 3 or 5) or 32 (NAA 6), got "{text}"')
    return "0x" + digits.lower()


# -- FCoE ports ------------------------------------------------------------------------------------


def _port_wwn(table: _Table, key: str, text: str) -> int:
    from hpt.fcoe.frame import parse_wwn

    try:
        return parse_wwn(text)
    except ValueError:
        raise table.fail(key, f'"{text}" is not a world wide name (e.g. "20:00:52:54:00:aa:00:01")') from None


def _fcoe_port(table: _Table, targets: dict[str, int]) -> FcoePortConfig:
    """One ``[[fcoe_port]]``: an interface, its names, mode and VLAN, the target and the initiator ACL."""
    table.required("interface")
    interface = table.text("interface")
    if not 0 < len(interface) <= 15 or any(c in interface for c in "/ \t:") or interface in (".", ".."):
        raise table.fail("interface", f'"{interface}" is not a network interface name')
    wwnn, wwpn = (_port_wwn(table, k, text) if (text := table.text(k)) else None for k in ("wwnn", "wwpn"))
    table.required("targets")
    port_targets = table.texts("targets")
    if len(port_targets) != 1:
        raise table.fail("targets", "must name exactly one target (an FC port is one SCSI target port)")
    for name in port_targets:
        if name not in targets:
            raise table.fail("targets", f'unknown target "{name}"{_did_you_mean(name, targets)}')
    return FcoePortConfig(
        interface=interface,
        wwnn=wwnn,
        wwpn=wwpn,
        mode=table.text("mode", "vn2vn", FCOE_MODES),
        vlan=table.integer("vlan", 0, 0, 4094),
        targets=port_targets,
        initiators=[_port_wwn(table, "initiators", text) for text in table.texts("initiators")],
    )


def _fcoe_ports(root: _Table, targets: dict[str, int]) -> list[FcoePortConfig]:
    ports: list[FcoePortConfig] = []
    seen: dict[tuple[str, int], int] = {}
    for i, table in enumerate(root.array("fcoe_port", _FCOE_PORT_KEYS)):
        port = _fcoe_port(table, targets)
        key = (port.interface, port.vlan)
        if key in seen:
            where = f"{port.interface} VLAN {port.vlan}"
            raise table.fail("interface", f"{where} is used twice (also fcoe_port[{seen[key]}])")
        seen[key] = i
        ports.append(port)
    return ports
