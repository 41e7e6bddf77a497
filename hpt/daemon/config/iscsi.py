"""``[iscsi]`` and ``[target.iscsi]``: iSCSI key overrides, checked by the key table
(``hpt/iscsi/keys.py``) and by ``TargetPolicy.from_overrides``, the policy logins negotiate with."""

from __future__ import annotations

from collections.abc import Sequence

from hpt.daemon.config.schema import IscsiValue
from hpt.daemon.config.tables import Table
from hpt.daemon.config.validators import iscsi_key_problem
from hpt.iscsi.negotiation import TargetPolicy
from hpt.options import show


def iscsi_table(parent: Table) -> Table:
    """An ``[iscsi]`` table: key names checked here, values by :func:`check_iscsi`."""
    raw = parent.data.get("iscsi")
    table = parent.table("iscsi", tuple(raw) if isinstance(raw, dict) else ())
    for name, value in table.data.items():
        problem = iscsi_key_problem(name)
        if problem:
            raise table.fail(name, problem)
        if isinstance(value, dict) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            raise table.fail(name, f"must be a number, true/false, or text, got {show(value)}")
    return table


def iscsi_values(table: Table) -> dict[str, IscsiValue]:
    """The overrides as given, an array of list values joined into the key's text form (``"CRC32C,None"``)."""
    return {k: ",".join(v) if isinstance(v, list) else v for k, v in table.data.items()}


def check_iscsi(tables: Sequence[Table], overrides: dict[str, IscsiValue]) -> None:
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
