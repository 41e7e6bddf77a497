"""``lun.inject`` and ``lun.clear``: faults injected into a live LU's commands, for initiators' tests
(``hpt.scsi.core.faults``, docs/testing.md). They are the running LU's state, not the configuration's:
nothing is written to the document, and a LU rebuilt (``lun.update``, a reload) starts without them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpt.daemon.control.rpc import INVALID_PARAMS, NOT_FOUND, Params, RpcError
from hpt.scsi.core.faults import Fault, FaultError

if TYPE_CHECKING:
    from hpt.daemon.control.control import Control
    from hpt.scsi.lu import LogicalUnit


def _lus(ctl: Control, name: str, lun: int | None) -> list[LogicalUnit]:
    target = ctl.server.targets.get(name)
    lus = [] if target is None else [target.lu(n) for n in target.luns() if lun is None or n == lun]
    if lun is not None and not lus:
        raise RpcError(NOT_FOUND, f"can't find the logical unit {lun} of {name}")
    return [lu for lu in lus if lu is not None]


def _view(name: str, lu: LogicalUnit) -> dict[str, Any]:
    faults = lu.faults.faults if lu.faults is not None else ()
    return {"name": name, "lun": lu.lun, "faults": [f.as_dict() for f in faults]}


def inject(ctl: Control, p: Params) -> dict[str, Any]:
    """``op``, ``lba`` (``[first, last]``, or null for every block) and ``error`` of one more fault."""
    with ctl.lock:
        name = ctl.target_name(p)
        (lu,) = _lus(ctl, name, p.get("lun", int))
        try:
            fault = Fault.parse(p.get("op", str), p.values.get("lba"), p.get("error", str))
        except FaultError as err:
            raise RpcError(INVALID_PARAMS, str(err)) from None
        lu.inject(fault)
        return _view(name, lu)


def clear(ctl: Control, p: Params) -> list[dict[str, Any]]:
    """Every fault of one LU (``lun``) or of every LU of the target."""
    with ctl.lock:
        name = ctl.target_name(p)
        lus = _lus(ctl, name, p.get("lun", int, None))
        for lu in lus:
            lu.clear_faults()
        return [_view(name, lu) for lu in lus]
