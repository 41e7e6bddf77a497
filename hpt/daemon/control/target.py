"""``target.*``: create, delete, show, bind/unbind ACLs and update a target (tgtadm ``--mode target``)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from hpt.daemon.control.rpc import EXISTS, IN_USE, INVALID_PARAMS, NOT_FOUND, Params, RpcError
from hpt.daemon.control.views import target_view

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control
    from hpt.daemon.control.document import Document

STATES = ("ready", "offline")


def show(ctl: Control, p: Params) -> list[dict[str, Any]]:
    """Every target, or the one ``tid``/``name`` names."""
    with ctl.lock:
        wanted = ctl.target_name(p) if p.has("tid") or p.has("name") else None
        return [target_view(ctl, tc) for tc in ctl.server.config.targets if wanted in (None, tc.name)]


def new(ctl: Control, p: Params) -> dict[str, Any]:
    name = p.get("name", str)
    tid = p.get("tid", int, 0)

    def edit(doc: Document) -> dict[str, Any]:
        if doc.target(name) is not None:
            raise RpcError(EXISTS, f"target {name} exists (tid {doc.tids[name]})")
        if tid and doc.name_of(tid) is not None:
            raise RpcError(EXISTS, f"tid {tid} is used by {doc.name_of(tid)}")
        if tid < 0:
            raise RpcError(INVALID_PARAMS, f"tid must be positive, got {tid}")
        target: dict[str, Any] = {"name": name}
        if p.has("alias"):
            target["alias"] = p.get("alias", str)
        doc.targets().append(target)
        if tid:
            doc.tids[name] = tid
        doc.number_targets()
        return {"tid": doc.tids[name], "name": name}

    return ctl.change(edit)  # type: ignore[no-any-return]


def delete(ctl: Control, p: Params) -> dict[str, Any]:
    """Refused while sessions are logged in, unless ``force``: then they close and its LUs drain."""
    with ctl.lock:
        name = ctl.target_name(p)
        if any(name in port.targets for port in ctl.server.config.fcoe_ports):
            raise RpcError(IN_USE, f"target {name} is served by an FCoE port: remove the port first")

        def edit(doc: Document) -> None:
            doc.data["target"] = [t for t in doc.targets() if t.get("name") != name]

        ctl.change(edit, force=p.get("force", bool, False))
        return {"name": name}


def update(ctl: Control, p: Params) -> dict[str, Any]:
    """``state`` (ready/offline: an offline target refuses logins), ``alias``, ``alua.<portal group>``
    (an ALUA state, live with a unit attention), ``alua_explicit``, or an iSCSI key."""
    with ctl.lock:
        name = ctl.target_name(p)
        key = p.get("param", str)
        value = p.get("value", (str, int, bool))
        if key.lower() == "state":
            if value not in STATES:
                raise RpcError(INVALID_PARAMS, f"state must be ready or offline, got {value}")
            (ctl.server.offline.add if value == "offline" else ctl.server.offline.discard)(name)
            return {"name": name, "state": value}

        def edit(doc: Document) -> None:
            target = ctl.target_in(doc, name)
            if key == "alias":
                target["alias"] = str(value)
            elif key.startswith("alua."):
                target.setdefault("alua", {})[key.removeprefix("alua.")] = str(value)
            elif key == "alua_explicit":
                target["alua_explicit"] = _flag(value)
            else:
                target.setdefault("iscsi", {})[key] = _typed(value)

        ctl.change(edit)
        return {"name": name, key: value}


def _typed(value: str | int | bool) -> str | int | bool:
    """tgtadm gives every value as text: numbers become integers for the key table."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _flag(value: str | int | bool) -> str | int | bool:
    """tgtadm's text for true or false (other values stay, for the configuration to refuse)."""
    return {"true": True, "false": False}.get(value.lower(), value) if isinstance(value, str) else value


def _acl(p: Params) -> tuple[str, str]:
    """(config key, value) of an ACL entry: an initiator address (network) or name."""
    if p.has("address"):
        address = p.get("address", str)
        if address.upper() != "ALL":
            try:
                address = str(ipaddress.ip_network(address, strict=False))
            except ValueError as err:
                raise RpcError(INVALID_PARAMS, f"initiator address {address}: {err}") from None
        return "addresses", address
    return "initiators", p.get("initiator", str)


def bind(ctl: Control, p: Params) -> dict[str, Any]:
    """Allow an initiator address or name (an empty list allows any; ``ALL`` empties it). Existing
    sessions stay; the ACL applies to new logins."""
    with ctl.lock:
        name = ctl.target_name(p)
        key, value = _acl(p)

        def edit(doc: Document) -> None:
            target = ctl.target_in(doc, name)
            if value.upper() == "ALL":
                target.pop(key, None)
            elif value not in target.setdefault(key, []):
                target[key].append(value)

        ctl.change(edit)
        return {"name": name, key: value}


def unbind(ctl: Control, p: Params) -> dict[str, Any]:
    with ctl.lock:
        name = ctl.target_name(p)
        key, value = _acl(p)

        def edit(doc: Document) -> None:
            target = ctl.target_in(doc, name)
            if value not in target.get(key, []):
                raise RpcError(NOT_FOUND, f"{value} is not bound to {name}")
            target[key].remove(value)
            if not target[key]:
                # an empty list would open the target to every initiator: unbinding the last one closes it
                raise RpcError(INVALID_PARAMS, f"{value} is the last {key[:-1]} of {name}: unbinding it "
                                               "would allow every initiator; bind ALL to mean that")

        ctl.change(edit)
        return {"name": name, key: value}
