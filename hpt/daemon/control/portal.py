"""``portal.*``: listening addresses added and removed live (tgtadm ``--mode portal``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpt.daemon.control.rpc import EXISTS, IN_USE, INVALID_PARAMS, NOT_FOUND, Params, RpcError

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control
    from hpt.daemon.control.document import Document


def show(ctl: Control, p: Params) -> list[dict[str, Any]]:
    return [{"address": pc.address, "transport": pc.transport, "group": pc.group}
            for pc in ctl.server.portal_configs]


def _same(entry: dict[str, Any], address: str, transport: str) -> bool:
    return entry.get("address") == address and entry.get("transport", "tcp") == transport


def new(ctl: Control, p: Params) -> dict[str, Any]:
    address, transport = p.get("address", str), p.get("transport", str, "tcp")
    group = p.get("group", int, 1)

    def edit(doc: Document) -> None:
        portals = doc.array("portal")
        if not portals:  # the default portal (no [[portal]] given) becomes explicit and stays
            portals.extend({"address": pc.address, "transport": pc.transport, "group": pc.group}
                           for pc in ctl.server.config.portals)
        if any(_same(e, address, transport) for e in portals):
            raise RpcError(EXISTS, f"portal {address} ({transport}) exists")
        portals.append({"address": address, "transport": transport, "group": group})

    ctl.change(edit)
    return {"address": address, "transport": transport, "group": group}


def delete(ctl: Control, p: Params) -> dict[str, Any]:
    """Stop listening; refused while initiators are connected through it, unless ``force`` (they are
    then asked to log out, RFC 7143 11.9.1 AsyncEvent 1)."""
    address, transport = p.get("address", str), p.get("transport", str, "tcp")
    with ctl.lock:
        connected = [c for pc, c in ctl.server.connections() if pc.address == address]
        if connected and not p.get("force", bool, False):
            raise RpcError(IN_USE, f"portal {address} has {len(connected)} connection(s); use --force")

        def edit(doc: Document) -> None:
            portals = doc.array("portal")
            if not any(_same(e, address, transport) for e in portals):
                raise RpcError(NOT_FOUND, f"can't find the portal {address} ({transport})")
            doc.data["portal"] = [e for e in portals if not _same(e, address, transport)]
            if not doc.data["portal"]:
                raise RpcError(INVALID_PARAMS, "the last portal cannot be removed (with none, hptd would "
                                               "listen on 0.0.0.0:3260)")

        ctl.change(edit)
    return {"address": address, "transport": transport}
