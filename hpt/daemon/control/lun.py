"""``lun.*``: add, delete, update and count a target's logical units (tgtadm ``--mode logicalunit``).

A LUN's keys are those of ``[[target.lun]]`` (docs/config.md): any device type and store kind the
configuration accepts, built through the same factory. Adding one raises REPORTED LUNS DATA HAS CHANGED
on the target's other LUs (SPC-5 6.33); deleting one in use needs ``force`` and drains its commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpt.daemon.control.rpc import EXISTS, INVALID_PARAMS, NOT_FOUND, Params, RpcError

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control
    from hpt.daemon.control.document import Document


def _keys(p: Params) -> dict[str, Any]:
    keys = dict(p.get("keys", dict, {}))
    if "lun" in keys:
        raise RpcError(INVALID_PARAMS, "give the LUN number as the lun parameter, not among keys")
    return keys


def _find(doc: Document, ctl: Control, name: str, lun: int) -> dict[str, Any]:
    for entry in ctl.target_in(doc, name).get("lun", []):
        if entry.get("lun") == lun:
            return entry  # type: ignore[no-any-return]
    raise RpcError(NOT_FOUND, f"can't find the logical unit {lun} of {name}")


def new(ctl: Control, p: Params) -> dict[str, Any]:
    with ctl.lock:
        name = ctl.target_name(p)
        lun = p.get("lun", int)
        keys = _keys(p)

        def edit(doc: Document) -> None:
            luns = ctl.target_in(doc, name).setdefault("lun", [])
            if any(entry.get("lun") == lun for entry in luns):
                raise RpcError(EXISTS, f"logical unit {lun} of {name} exists")
            luns.append({"lun": lun, **keys})

        ctl.change(edit)
        return {"name": name, "lun": lun}


def delete(ctl: Control, p: Params) -> dict[str, Any]:
    with ctl.lock:
        name = ctl.target_name(p)
        lun = p.get("lun", int)

        def edit(doc: Document) -> None:
            target = ctl.target_in(doc, name)
            target["lun"] = [e for e in target.get("lun", []) if e is not _find(doc, ctl, name, lun)]

        ctl.change(edit, force=p.get("force", bool, False))
        return {"name": name, "lun": lun}


def update(ctl: Control, p: Params) -> dict[str, Any]:
    """New values for a LUN's keys: the LU is rebuilt with them (in use: ``force``, as for delete)."""
    with ctl.lock:
        name = ctl.target_name(p)
        lun = p.get("lun", int)
        keys = _keys(p)

        def edit(doc: Document) -> None:
            _find(doc, ctl, name, lun).update(keys)

        ctl.change(edit, force=p.get("force", bool, False))
        return {"name": name, "lun": lun, **keys}
