"""tgtadm's command line (tgtadm(8): ``--lld --mode --op`` and their options) turned into requests to
hptd's control socket: :func:`parse` reads the arguments, :func:`request` names the method and its
parameters (docs/control.md), so a tgt script's commands mean the same to hptd."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from functools import partial
from typing import Any

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

MODES = {"target": "target", "tgt": "target", "logicalunit": "logicalunit", "lu": "logicalunit",
         "account": "account", "portal": "portal", "pt": "portal", "session": "session", "sess": "session",
         "connection": "connection", "conn": "connection", "system": "sys", "sys": "sys"}
OPS = ("new", "delete", "bind", "unbind", "show", "update", "stat")


class UsageError(ValueError):
    """A command tgtadm's language does not allow; the message says what is missing or wrong."""


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="hptadm", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Administer a running hptd live, in tgtadm's language, over its control socket.",
        epilog=EPILOG)
    a = ap.add_argument
    a("-L", "--lld", choices=("iscsi", "iser"), default="iscsi", help="low-level driver (both are served)")
    a("-m", "--mode", help="target|logicalunit|account|portal|session|connection|sys (tgtadm's aliases too)")
    a("-o", "--op", choices=OPS, help="the operation")
    a("-t", "--tid", type=int, help="target id")
    a("-s", "--sid", type=int, help="session id (the session's TSIH)")
    a("-c", "--cid", type=int, help="connection id")
    a("-l", "--lun", type=int, help="logical unit number")
    a("-T", "--targetname", help="iSCSI name of a new target")
    a("-b", "--backing-store", help="the LU's file or block device (or the store's path)")
    a("-E", "--bstype", help="store: rdwr/aio (a file, the default), null, ram, or a plug-in's kind")
    a("-S", "--bsopts", help="store options, key=value;key=value (e.g. size=1G for ram and null)")
    a("-f", "--bsoflags", help="direct, sync or sync:direct")
    a("-y", "--blocksize", type=int, help="logical block size (512 or 4096)")
    a("-Y", "--device-type", help="disk (default), tape, changer, cd")
    a("-I", "--initiator-address", help="ACL: an initiator address or network, or ALL")
    a("-Q", "--initiator-name", help="ACL: an initiator name")
    a("-u", "--user", help="CHAP account name")
    a("-p", "--password", help="CHAP account secret (12 bytes at least, RFC 7143 12.1.3)")
    a("-O", "--outgoing", action="store_true", help="the account is the target's (mutual CHAP)")
    a("-n", "--name", help="setting to update (target: state, alias, an iSCSI key; sys: state)")
    a("-v", "--value", help="its new value")
    a("-P", "--params", help="key=value,... : LU parameters (tgt's or hptd's names); portal=ADDR[:PORT]")
    a("-F", "--force", action="store_true", help="delete in use: close sessions, drain the LU's commands")
    a("-C", "--control-port", type=int, help="accepted for tgt scripts; hptd has one control socket")
    a("--control-socket", metavar="PATH", help="hptd's control socket (default $HPT_CONTROL_SOCKET, "
                                               "else /run/hpt/control.sock)")
    a("--json", action="store_true", help="print the answer as JSON")
    a("--dump", action="store_true", help="print the running configuration as TOML for hptd --config")
    return ap


EPILOG = """examples (as with tgtadm):
  hptadm --lld iscsi --op new --mode target --tid 1 -T iqn.2026-11.org.example:disk1
  hptadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b /srv/disk1.img
  hptadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 --bstype ram --bsopts size=1G
  hptadm --lld iscsi --op bind --mode target --tid 1 -I 10.0.0.0/8
  hptadm --lld iscsi --op new --mode account --user alice --password alice-secret-1234
  hptadm --lld iscsi --op bind --mode account --tid 1 --user alice
  hptadm --lld iscsi --op update --mode target --tid 1 --name state --value offline
  hptadm --lld iscsi --op delete --mode logicalunit --tid 1 --lun 2 --force
  hptadm --lld iscsi --op show --mode target
  hptadm --lld iscsi --op stat --mode logicalunit --tid 1
  hptadm --dump > /etc/hpt/hptd.toml
  hptadm import-tgt /etc/tgt/targets.conf > /etc/hpt/hptd.toml   (hptadm import-tgt --help)

every command prints hptd's answer (--json: as JSON) and exits non-zero, with the reason, when hptd
refuses it; a refused change changes nothing."""


def parse(argv: list[str]) -> argparse.Namespace:
    return parser().parse_args(argv)


def _need(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is None:
            raise UsageError(f"--{name.replace('_', '-')} is required for --mode {args.mode} --op {args.op}")


def _pairs(text: str | None, sep: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (text or "").split(sep)):
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"expected key=value, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def lun_keys(args: argparse.Namespace) -> dict[str, Any]:
    """A LUN's hptd keys from tgtadm's LU options: ``--backing-store`` without ``--bstype`` is a file."""
    keys: dict[str, Any] = {}
    try:
        if args.bstype is not None or args.backing_store is not None:
            keys["store"] = store_kind(args.bstype)
        if args.backing_store is not None and keys["store"] == "file":
            keys["path"] = os.path.abspath(args.backing_store)
        for key, value in _pairs(args.bsopts, ";"):
            keys[key] = value_of(key, value)
        keys.update(bsoflags(args.bsoflags or ""))
        if args.blocksize is not None:
            keys["block_size"] = args.blocksize
        if args.device_type is not None:
            keys["type"] = device_type(args.device_type)
        for name, value in _pairs(args.params, ","):
            key, val = lu_param(name, value)
            keys[key] = val
        physical_block(keys, 512 if args.op == "new" else None)  # a live LU's block size is hptd's
        removable_medium(keys)
    except TgtNameError as err:
        raise UsageError(str(err)) from None
    return keys


def _target(args: argparse.Namespace) -> dict[str, Any]:
    return {"tid": args.tid} if args.tid is not None else {}


def request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The control method and parameters of one tgtadm command."""
    if args.dump:
        return "sys.dump", {}
    if args.mode is None or args.op is None:
        raise UsageError("--mode and --op are required (or --dump)")
    mode = MODES.get(args.mode)
    if mode is None:
        raise UsageError(f"unknown mode {args.mode!r}")
    return _MODES[mode](args)


def _target_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    op = args.op
    if op == "show":
        return "target.show", _target(args)
    _need(args, "tid")
    if op == "new":
        _need(args, "targetname")
        return "target.new", {"tid": args.tid, "name": args.targetname}
    if op == "delete":
        return "target.delete", {"tid": args.tid, "force": args.force}
    if op == "update":
        _need(args, "name", "value")
        return "target.update", {"tid": args.tid, "param": args.name, "value": args.value}
    if op in ("bind", "unbind"):
        if args.initiator_address is not None:
            return f"target.{op}", {"tid": args.tid, "address": args.initiator_address}
        if args.initiator_name is not None:
            return f"target.{op}", {"tid": args.tid, "initiator": args.initiator_name}
        raise UsageError(f"--op {op} needs --initiator-address or --initiator-name")
    if op == "stat":
        return "lun.stat", {"tid": args.tid}
    raise UsageError(f"--mode target has no --op {op}")


def _lun_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    op = args.op
    if op == "stat":
        return "lun.stat", {**_target(args), **({"lun": args.lun} if args.lun is not None else {})}
    if op == "show":
        return "target.show", _target(args)
    _need(args, "tid", "lun")
    if op == "new":
        keys = lun_keys(args)
        if "store" not in keys and keys.get("type", "disk") == "disk":
            raise UsageError("--backing-store (or --bstype) is required for a new disk logical unit")
        return "lun.new", {"tid": args.tid, "lun": args.lun, "keys": keys}
    if op == "delete":
        return "lun.delete", {"tid": args.tid, "lun": args.lun, "force": args.force}
    if op == "update":
        keys = lun_keys(args)
        if args.name is not None:
            try:
                key, value = lu_param(args.name, args.value or "")
                keys[key] = value
                physical_block(keys, None)
            except ValueError as err:
                raise UsageError(str(err)) from None
        if not keys:
            raise UsageError("--op update needs --params key=value,... (or --name and --value)")
        return "lun.update", {"tid": args.tid, "lun": args.lun, "keys": keys, "force": args.force}
    raise UsageError(f"--mode logicalunit has no --op {op}")


def _account_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    op = args.op
    if op == "show":
        return "account.show", {}
    _need(args, "user")
    if op == "new":
        _need(args, "password")
        return "account.new", {"user": args.user, "password": args.password}
    if op == "delete":
        return "account.delete", {"user": args.user}
    if op in ("bind", "unbind"):
        return f"account.{op}", {**_target(args), "user": args.user, "outgoing": args.outgoing}
    raise UsageError(f"--mode account has no --op {op}")


def _portal_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    op = args.op
    if op == "show":
        return "portal.show", {}
    params = dict(_pairs(args.params, ","))
    if "portal" not in params:
        raise UsageError(f"--op {op} --mode portal needs --params portal=ADDR[:PORT]")
    address = params["portal"]
    if re.fullmatch(r"\[[^\]]*\]|[^:]*", address):  # no port given: iSCSI's (RFC 7143 4.2.7.7)
        address += ":3260"
    body: dict[str, Any] = {"address": address, "transport": "iser" if args.lld == "iser" else "tcp"}
    if op == "new":
        return "portal.new", body | ({"group": int(params["group"])} if "group" in params else {})
    if op == "delete":
        return "portal.delete", body | {"force": args.force}
    raise UsageError(f"--mode portal has no --op {op}")


def _session_request(args: argparse.Namespace, mode: str) -> tuple[str, dict[str, Any]]:
    sid = {"sid": args.sid} if args.sid is not None else {}
    if args.op == "show":
        return f"{mode}.show", {**_target(args), **sid}
    if args.op == "delete":
        _need(args, "sid", *(("cid",) if mode == "connection" else ()))
        cid = {"cid": args.cid} if args.cid is not None else {}
        return f"{mode}.delete", {**_target(args), **sid, **cid}
    raise UsageError(f"--mode {mode} has no --op {args.op}")


def _sys_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    if args.op == "show":
        return "sys.show", {}
    if args.op == "update":
        _need(args, "name", "value")
        return "sys.update", {"param": args.name, "value": args.value}
    if args.op == "delete":
        return "sys.stop", {"force": args.force}
    raise UsageError(f"--mode sys has no --op {args.op}")


_MODES: dict[str, Callable[[argparse.Namespace], tuple[str, dict[str, Any]]]] = {
    "target": _target_request, "logicalunit": _lun_request, "account": _account_request,
    "portal": _portal_request, "session": partial(_session_request, mode="session"),
    "connection": partial(_session_request, mode="connection"),
    "sys": _sys_request,
}  # fmt: skip
