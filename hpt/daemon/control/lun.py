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
    from hpt.scsi.lu import LogicalUnit


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


def stat(ctl: Control, p: Params) -> list[dict[str, Any]]:
    """The counters of the LUs of the target named (every target's without one; one LUN with ``lun``):
    the numbers hptd's metrics have (:func:`lu_counters`)."""
    with ctl.lock:
        named = p.has("tid") or p.has("name")
        names = [ctl.target_name(p)] if named else [t.name for t in ctl.server.config.targets]
        wanted = p.get("lun", int) if p.has("lun") else None
        out = []
        for name in names:
            target = ctl.server.targets.get(name)
            for lun in target.luns() if target is not None else []:
                lu = target.lu(lun)  # type: ignore[union-attr]
                if lu is not None and wanted in (None, lun):
                    out.append({"tid": ctl.document.tids.get(name), "name": name, "lun": lun,
                                "counters": lu_counters(lu)})
        if wanted is not None and not out:
            raise RpcError(NOT_FOUND, f"can't find the logical unit {wanted}")
        return out


def lu_counters(lu: LogicalUnit) -> dict[str, Any]:
    """One LU's counters as ``hptadm --mode logicalunit --op stat`` shows them (the numbers the metrics
    have): per kind (read, write, other) commands, errors, bytes and the latency sum, and the commands
    in flight now."""
    flat: dict[str, Any] = {}
    for kind, counts in lu.stats.snapshot().items():
        for key, value in counts.items():
            if key != "buckets":
                flat[f"{kind}_{key}"] = value
    flat["in_flight"] = len(lu.tasks)
    return flat
