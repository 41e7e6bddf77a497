"""tgt's targets.conf in hptd's terms: the TOML document ``hptd --config`` reads (docs/config.md), for
``hptadm import-tgt FILE`` to print and ``hptd --tgt-config FILE`` to serve.

What each directive means is tgt-admin's (tgt's scripts/tgt-admin and conf/examples/targets.conf.example):
``backing-store`` and ``direct-store`` make LUNs (the plain ones numbered from 1 in file order, the
backing stores before the direct stores; a ``<backing-store PATH>`` block may give its ``lun``, the
others take the next free number; a relative path starts at its file's directory); LU parameters
given in the target apply to each of its LUNs unless the LUN's block gives its own;
``incominguser``/``outgoinguser`` are CHAP accounts, ``initiator-address`` and ``initiator-name`` the
ACL, the RFC 7143 key names the target's iSCSI keys, ``controller_tid`` its tid. tgt's LU parameter,
store and device type names map through ``hpt.admin.tgtnames``.

A directive hpt has no equivalent for is named with its file and line in :attr:`Imported.notes` (and
otherwise ignored) when serving without it changes no data and no access: ``direct-store``'s identity
read from the device, ``scsi_id``, mode pages, iSNS, the marker keys ... A store type, device type or
value hpt cannot serve, an unknown directive, or a conflict is a :class:`TgtConfError` naming its line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpt.admin.tgtconf import Block, Directive, TgtConfError, read_conf
from hpt.admin.tgtnames import (
    TgtNameError,
    bsoflags,
    device_type,
    lu_param,
    physical_block,
    removable_medium,
    store_kind,
    value_of,
)

#: LU parameters a target or a store block may give (tgt-admin's add_params and the per-LUN options)
LU_KEYS = {"vendor_id", "product_id", "product_rev", "scsi_sn", "removable", "readonly",
           "thin_provisioning", "write-cache", "block-size", "blocksize", "rotation_rate", "device-type",
           "bs-type", "bsopts", "bsoflags", "params", "optimal_xfer_len", "lbppbe"}
#: LU parameters with no hpt equivalent whose absence changes no data: named, then ignored
LU_IGNORED = {"scsi_id": "hpt derives the device identification (VPD 83h) from the serial number",
              "sense_format": "hpt chooses fixed or descriptor sense by the control mode page (D_SENSE)",
              "online": "hpt's LUs are online", "mode_page": "hpt's mode pages are its own",
              "path": "a tape's or changer's path is hpt's [[target.lun]] cartridge or media key",
              "la_lba": "hpt reports lowest aligned LBA 0",
              "optimal_xfer_gran": "hpt reports a physical block (physical_block_size) as the granularity",
              "allow-in-use": "hpt does not check whether a device is in use"}
#: RFC 7143 section 13 keys a target block may give: its [target.iscsi]
ISCSI_KEYS = {"MaxRecvDataSegmentLength", "HeaderDigest", "DataDigest", "InitialR2T", "MaxOutstandingR2T",
              "ImmediateData", "FirstBurstLength", "MaxBurstLength", "DataPDUInOrder", "DataSequenceInOrder",
              "ErrorRecoveryLevel", "DefaultTime2Wait", "DefaultTime2Retain", "MaxConnections"}
_OBSOLETE = "the marker keys are obsolete, RFC 7143 13.25"
TARGET_IGNORED = {"IFMarker": _OBSOLETE, "OFMarker": _OBSOLETE, "IFMarkInt": _OBSOLETE,
                  "OFMarkInt": _OBSOLETE,
                  "MaxXmitDataSegmentLength": "hpt sends what the initiator's MaxRecvDataSegmentLength says"}
GLOBAL_IGNORED = {"iSNSServerIP": "hpt does not register with iSNS", "iSNSServerPort": "no iSNS in hpt",
                  "iSNSAccessControl": "no iSNS in hpt", "iSNS": "no iSNS in hpt",
                  "ignore-errors": "hpt applies a configuration whole or not at all"}
DRIVERS = ("iscsi", "iser")  # hptd serves both on its portals
IDENTITY_WIDTHS = {"vendor": 8, "product": 16, "revision": 4}
NULL_SIZE = "1T"  # tgt's null backing store reports 1 TiB


@dataclass
class Imported:
    """The TOML document (``data``), tids by target name, the notes on what was ignored, and where in
    targets.conf each target, LUN and account was written (``places``: ``target[i]``,
    ``target[i].lun[j]``, ``account[k]`` -> ``FILE:LINE``, numbered as in the document)."""

    data: dict[str, Any] = field(default_factory=dict)
    tids: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    places: dict[str, str] = field(default_factory=dict)


@dataclass
class _Store:
    """One backing-store or direct-store: its path, its own parameters and where it is written."""

    path: str
    direct: bool
    where: str
    params: list[Directive] = field(default_factory=list)


def import_tgt(path: str | Path) -> Imported:
    """Read a targets.conf (includes and all) into hptd's configuration document."""
    path = Path(path)
    out = Imported()
    accounts: dict[str, tuple[str, str]] = {}  # name -> (secret, where)
    blocks: list[Block] = []
    for item in read_conf(path):
        if isinstance(item, Block):
            if item.kind != "target":
                raise TgtConfError(f"{item.where}: <{item.kind}> blocks are not tgt's (only <target>)")
            _merge_target(blocks, item)
        elif item.key in GLOBAL_IGNORED:
            _ignored(out, item.where, item.key, GLOBAL_IGNORED)
        elif item.key == "default-driver":
            _driver(item)
        else:
            raise TgtConfError(f"{item.where}: unknown directive {item.key}")
    targets = [_target(out, block, i, accounts) for i, block in enumerate(blocks)]
    _tgt_identity(out, targets)
    for k, (name, (secret, where)) in enumerate(accounts.items()):
        out.data.setdefault("account", []).append({"name": name, "secret": secret})
        out.places[f"account[{k}]"] = where
    if targets:
        out.data["target"] = targets
    return out


def _note(out: Imported, note: str) -> None:
    """Note once what a directive given for a whole target means for each of its LUNs."""
    if note not in out.notes:
        out.notes.append(note)


def _ignored(out: Imported, where: str, key: str, why: dict[str, str]) -> None:
    _note(out, f"{where}: {key}: not supported by hpt ({why[key]}): ignored")


def _merge_target(blocks: list[Block], block: Block) -> None:
    """Config::General's MergeDuplicateBlocks, as tgt-admin reads: a second block of a name adds to
    the first."""
    if not block.name:
        raise TgtConfError(f"{block.where}: <target> needs the target's name")
    for seen in blocks:
        if seen.name == block.name:
            seen.items.extend(block.items)
            return
    blocks.append(Block(block.kind, block.name, block.where, list(block.items)))


def _driver(d: Directive) -> None:
    if d.value.lower() not in DRIVERS:
        raise TgtConfError(f"{d.where}: {d.key} {d.value}: hpt serves iscsi and iser only")


def _secret(d: Directive) -> tuple[str, str]:
    parts = d.value.split()
    if len(parts) != 2:
        raise TgtConfError(f"{d.where}: {d.key} takes a user name and a password, got {d.value!r}")
    return parts[0], parts[1]


def _account(accounts: dict[str, tuple[str, str]], d: Directive) -> str:
    user, secret = _secret(d)
    if user in accounts and accounts[user][0] != secret:
        raise TgtConfError(f"{d.where}: user {user} has another password at {accounts[user][1]}")
    accounts.setdefault(user, (secret, d.where))
    return user


def _target(out: Imported, block: Block, i: int, accounts: dict[str, tuple[str, str]]) -> dict[str, Any]:
    target: dict[str, Any] = {"name": block.name}
    out.places[f"target[{i}]"] = block.where
    shared: list[Directive] = []  # LU parameters for every LUN of the target
    stores: list[_Store] = []
    lun_given: list[Directive] = []
    named: Directive | None = None  # the first initiator-name
    for item in block.items:
        if isinstance(item, Block):
            if item.kind not in ("backing-store", "direct-store"):
                raise TgtConfError(f"{item.where}: <{item.kind}> cannot be inside <target>")
            if item.blocks():
                raise TgtConfError(f"{item.blocks()[0].where}: <{item.kind}> holds no blocks")
            stores.append(_Store(item.name, item.kind == "direct-store", item.where, item.directives()))
            continue
        key = item.key
        if key in ("backing-store", "direct-store"):
            stores.append(_Store(item.value, key == "direct-store", item.where))
        elif key == "lun":
            lun_given.append(item)
        elif key in LU_KEYS or key in LU_IGNORED:
            shared.append(item)
        elif key == "incominguser":
            target.setdefault("incoming", []).append(_account(accounts, item))
        elif key == "outgoinguser":
            if "outgoing" in target:
                raise TgtConfError(f"{item.where}: a target has one outgoinguser")
            target["outgoing"] = _account(accounts, item)
        elif key == "initiator-address":
            if item.value.upper() != "ALL":
                target.setdefault("addresses", []).append(item.value)
        elif key == "initiator-name":
            target.setdefault("initiators", []).append(item.value)
            named = named or item
        elif key in ISCSI_KEYS:
            target.setdefault("iscsi", {})[key] = int(item.value) if item.value.isdigit() else item.value
        elif key in TARGET_IGNORED:
            _ignored(out, item.where, key, TARGET_IGNORED)
        elif key == "controller_tid":
            _tid(out, block.name, item)
        elif key == "driver":
            _driver(item)
        else:
            raise TgtConfError(f"{item.where}: unknown directive {key} in <target {block.name}>")
    if named is not None:
        _name_acl(out, target, named)
    luns = _luns(out, stores, shared, lun_given)
    for j, (where, _) in enumerate(luns):
        out.places[f"target[{i}].lun[{j}]"] = where
    if luns:
        target["lun"] = [lun for _, lun in luns]
    return target


def _name_acl(out: Imported, target: dict[str, Any], named: Directive) -> None:
    """tgt lets in an initiator whose name or address is bound (``acl_match = "any"``), and tgt-admin
    binds every address (ALL) when a target gives no ``initiator-address``: then the names restrict
    nothing."""
    if not target.get("addresses"):
        del target["initiators"]
        _note(out, f"{named.where}: initiator-name without initiator-address: tgt-admin binds ALL "
                   "addresses as well, so any initiator may log in (served the same way)")
        return
    target["acl_match"] = "any"  # with both kinds bound, tgt lets in an initiator that matches either


def _tgt_identity(out: Imported, targets: list[dict[str, Any]]) -> None:
    """The identity tgtd gives a LUN without ``vendor_id`` or ``scsi_sn`` (vendor ``IET``, serial
    ``beaf`` + tid + LUN), so LUNs keep what initiators know them by (udev's by-id names, multipath)
    when hptd serves the file; tids as tgt-admin numbers the targets: ``controller_tid``, else the
    next free one in the order of their names (tgt-admin sorts them)."""
    taken = set(out.tids.values())
    tid = 0
    for target in sorted(targets, key=lambda t: str(t["name"])):
        mine = out.tids.get(target["name"])
        if mine is None:
            tid += 1
            while tid in taken:
                tid += 1
            mine = tid
        for lun in target.get("lun", ()):
            lun.setdefault("vendor", "IET")
            lun.setdefault("serial", f"beaf{mine}{lun['lun']}")


def _tid(out: Imported, name: str, d: Directive) -> None:
    if not d.value.isdigit() or int(d.value) < 1:
        raise TgtConfError(f"{d.where}: controller_tid must be a number from 1, got {d.value!r}")
    tid = int(d.value)
    other = next((n for n, t in out.tids.items() if t == tid and n != name), None)
    if other is not None:
        raise TgtConfError(f"{d.where}: controller_tid {tid} is also {other}'s")
    out.tids[name] = tid


def _luns(out: Imported, stores: list[_Store], shared: list[Directive],
          lun_given: list[Directive]) -> list[tuple[str, dict[str, Any]]]:
    """The target's LUNs in tgt-admin's order: backing stores, then direct stores, each numbered by its
    ``lun`` or the next free number from 1."""
    if len(lun_given) > 1 or (lun_given and len(stores) > 1):
        where = lun_given[-1].where
        raise TgtConfError(f"{where}: lun in <target> is for a target of one store; "
                           "put it in a <backing-store> block")
    ordered = [s for s in stores if not s.direct] + [s for s in stores if s.direct]
    explicit: dict[int, str] = {}
    numbers: list[int | None] = []
    for store in ordered:
        given = [d for d in store.params if d.key == "lun"] or lun_given
        number = _number(given[-1]) if given else None
        if number is not None and number in explicit:
            raise TgtConfError(f"{given[-1].where}: LUN {number} is also {explicit[number]}'s")
        if number is not None:
            explicit[number] = store.where
        numbers.append(number)
    free = (n for n in range(1, 1 << 14) if n not in explicit)
    luns = []
    for store, number in zip(ordered, numbers, strict=True):
        lun = {"lun": number if number is not None else next(free)}
        lun.update(_lu_keys(out, store, shared))
        luns.append((store.where, lun))
    return luns


def _number(d: Directive) -> int:
    if not d.value.isdigit():
        raise TgtConfError(f"{d.where}: lun must be a number, got {d.value!r}")
    return int(d.value)


def _lu_keys(out: Imported, store: _Store, shared: list[Directive]) -> dict[str, Any]:
    """A LUN's hptd keys: the target's LU parameters, then the store block's own over them."""
    own = {d.key for d in store.params}
    given = [d for d in shared if d.key not in own or d.key == "params"]
    given += [d for d in store.params if d.key != "lun"]
    kind_name = "direct-store" if store.direct else "backing-store"
    for d in store.params:
        if d.key not in LU_KEYS and d.key not in LU_IGNORED and d.key != "lun":
            raise TgtConfError(f"{d.where}: unknown directive {d.key} in <{kind_name} {store.path}>")
    bstype = next((d for d in reversed(given) if d.key == "bs-type"), None)
    try:
        kind = store_kind(bstype.value if bstype is not None else None)
    except TgtNameError as err:
        raise TgtConfError(f"{bstype.where if bstype else store.where}: {err}") from None
    keys: dict[str, Any] = {"store": kind}
    if kind == "null":
        keys["size"] = NULL_SIZE
    else:
        keys["path"] = os.path.normpath(Path(store.where.rsplit(":", 1)[0]).parent / store.path)
    if store.direct:
        _note(out, f"{store.where}: direct-store {store.path}: hpt serves it as a file store and "
                         "does not copy the device's identity (sg_inq): give vendor_id, product_id, "
                         "product_rev, scsi_sn")
    for d in given:
        _lu_param(out, keys, d)
    try:
        physical_block(keys)
        removable_medium(keys)
    except TgtNameError as err:
        raise TgtConfError(f"{store.where}: {err}") from None
    return keys


def _lu_param(out: Imported, keys: dict[str, Any], d: Directive) -> None:
    """One LU parameter directive into ``keys``; one without an hpt equivalent is noted."""
    if d.key in LU_IGNORED:
        _ignored(out, d.where, d.key, LU_IGNORED)
        return
    try:
        if d.key == "bs-type":
            return
        if d.key == "device-type":
            keys["type"] = device_type(d.value)
        elif d.key == "bsoflags":
            keys.update(bsoflags(d.value))
        elif d.key in ("bsopts", "params"):
            sep = ";" if d.key == "bsopts" else ","
            for item in filter(None, (p.strip() for p in d.value.split(sep))):
                name, eq, value = item.partition("=")
                if not eq:
                    raise TgtNameError(f"expected key=value, got {item!r}")
                if name.strip() in LU_IGNORED:
                    _ignored(out, d.where, name.strip(), LU_IGNORED)
                    continue
                key, val = lu_param(name.strip(), value.strip())
                keys[key] = value_of(key, value.strip()) if d.key == "bsopts" else val
        else:
            key, val = lu_param(d.key, d.value)
            keys[key] = _identity(out, d, key, val)
    except TgtNameError as err:
        raise TgtConfError(f"{d.where}: {d.key}: {err}") from None


def _identity(out: Imported, d: Directive, key: str, value: Any) -> Any:
    """INQUIRY's identification fields have fixed lengths (SPC-5 6.7.2): a longer value is cut, and
    the cut noted."""
    width = IDENTITY_WIDTHS.get(key)
    if width is None or len(value) <= width:
        return value
    _note(out, f"{d.where}: {d.key} {value!r} is longer than INQUIRY's {width} characters: "
                     f"{value[:width]!r}")
    return value[:width]
