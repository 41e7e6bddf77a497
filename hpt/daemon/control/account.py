"""``account.*``: CHAP accounts and their binding to targets or discovery (tgtadm ``--mode account``).

A binding applies to the next login (RFC 7143 12.1.3 secrets are checked as in the file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpt.daemon.control.rpc import EXISTS, NOT_FOUND, Params, RpcError

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control
    from hpt.daemon.control.document import Document


def show(ctl: Control, p: Params) -> list[str]:
    with ctl.lock:
        return sorted(ctl.server.config.accounts)


def new(ctl: Control, p: Params) -> dict[str, Any]:
    user, password = p.get("user", str), p.get("password", str)

    def edit(doc: Document) -> None:
        if any(a.get("name") == user for a in doc.array("account")):
            raise RpcError(EXISTS, f"account {user} exists")
        doc.array("account").append({"name": user, "secret": password})

    ctl.change(edit)
    return {"user": user}


def _holders(doc: Document) -> list[dict[str, Any]]:
    """The tables that may name accounts: ``[discovery]`` and every target."""
    return [doc.section("discovery"), *doc.targets()]


def _unbind(table: dict[str, Any], user: str) -> bool:
    found = user in table.get("incoming", []) or table.get("outgoing") == user
    if user in table.get("incoming", []):
        table["incoming"].remove(user)
    if table.get("outgoing") == user:
        del table["outgoing"]
    if "auth" in table and not table.get("incoming"):  # [discovery] without accounts: CHAP off
        table.pop("outgoing", None)
        table["auth"] = "none"
    return found


def delete(ctl: Control, p: Params) -> dict[str, Any]:
    """Remove an account and every binding of it."""
    user = p.get("user", str)

    def edit(doc: Document) -> None:
        accounts = doc.array("account")
        if not any(a.get("name") == user for a in accounts):
            raise RpcError(NOT_FOUND, f"can't find the account {user}")
        doc.data["account"] = [a for a in accounts if a.get("name") != user]
        for table in _holders(doc):
            _unbind(table, user)

    ctl.change(edit)
    return {"user": user}


def _table(ctl: Control, doc: Document, p: Params) -> dict[str, Any]:
    """The target (``tid``/``name``) or, with neither, ``[discovery]``."""
    if p.has("tid") or p.has("name"):
        return ctl.target_in(doc, ctl.target_name(p))
    return doc.section("discovery")


def bind(ctl: Control, p: Params) -> dict[str, Any]:
    """Incoming (the initiator's CHAP name) or, with ``outgoing``, the target's name for mutual CHAP."""
    user, outgoing = p.get("user", str), p.get("outgoing", bool, False)

    def edit(doc: Document) -> None:
        table = _table(ctl, doc, p)
        if "name" not in table:
            table["auth"] = "chap"
        if outgoing:
            table["outgoing"] = user
        elif user not in table.setdefault("incoming", []):
            table["incoming"].append(user)

    with ctl.lock:
        ctl.change(edit)
    return {"user": user, "outgoing": outgoing}


def unbind(ctl: Control, p: Params) -> dict[str, Any]:
    user = p.get("user", str)

    def edit(doc: Document) -> None:
        if not _unbind(_table(ctl, doc, p), user):
            raise RpcError(NOT_FOUND, f"account {user} is not bound there")

    with ctl.lock:
        ctl.change(edit)
    return {"user": user}
