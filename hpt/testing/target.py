"""A running test target: where initiators find it (``portal``, ``iqn``, ``url``, ``url_of``) and the
faults its LUs answer with (``inject``, ``clear``), over hptd's control socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpt.admin.client import AdminError
from hpt.testing.process import Hptd

INVALID_PARAMS, NOT_FOUND = -32602, -32001  # the control socket's error codes (docs/control.md)
SCHEMES = {"tcp": "iscsi", "iser": "iser"}


class Target:
    """hptd serving one or more SCSI targets; ``iqn`` and ``url`` name its first target and that
    target's lowest LUN, ``portal`` its first iSCSI portal (``address:port``)."""

    def __init__(self, hptd: Hptd, directory: Path) -> None:
        self.hptd = hptd
        self.directory = directory  # ``{tmp}`` of the configuration: files, media, the log
        self.log = hptd.log
        portals = [p for p in hptd.call("sys.show")["portals"] if p["transport"] in SCHEMES]
        self.portal: str = portals[0]["address"] if portals else ""
        self.scheme = SCHEMES[portals[0]["transport"]] if portals else ""
        self.luns: dict[str, list[int]] = {}
        self.refresh()
        self.iqn: str = next(iter(self.luns), "")

    def refresh(self) -> None:
        """Learn the targets and LUNs again (after ``call("lun.new", ...)`` and the like)."""
        self.luns = {t["name"]: [lu["lun"] for lu in t["luns"]] for t in self.hptd.call("target.show")}

    @property
    def url(self) -> str:
        """The first target's lowest LUN: ``iscsi://127.0.0.1:PORT/IQN/LUN``."""
        luns = self.luns.get(self.iqn)
        if not luns:
            raise LookupError("hptd serves no LUN: no url")
        return self.url_of(self.iqn, min(luns))

    def url_of(self, target: str, lun: int) -> str:
        """``iscsi://PORTAL/TARGET/LUN`` (``iser://`` when the only portal is an iSER one)."""
        if lun not in self.luns.get(target, ()):
            self.refresh()
        if target not in self.luns:
            raise LookupError(f"hptd serves no target {target!r} (it serves {', '.join(self.luns)})")
        if lun not in self.luns[target]:
            raise LookupError(f"target {target} has no LUN {lun} (it has {self.luns[target]})")
        if not self.portal:
            raise LookupError("hptd has no iSCSI portal: no url")
        return f"{self.scheme}://{self.portal}/{target}/{lun}"

    def inject(self, lun: int, *, op: str, lba: tuple[int, int] | None, error: str,
               target: str | None = None) -> list[dict[str, Any]]:
        """Make the commands of ``lun`` that ``op`` (``read``, ``write``, ``any``) sends to blocks
        ``lba`` (``(first, last)``, None: every block) end with ``error`` until :meth:`clear`:
        ``medium``, ``hardware``, ``not_ready``, ``busy``, ``task_set_full``, ``delay:SECONDS`` or
        ``drop``. The LU's faults come back; ValueError says what is wrong with a bad one."""
        name = self.iqn if target is None else target
        params = {"name": name, "lun": lun, "op": op, "lba": None if lba is None else list(lba),
                  "error": error}
        faults: list[dict[str, Any]] = self._call("lun.inject", params)["faults"]
        return faults

    def clear(self, lun: int | None = None, *, target: str | None = None) -> None:
        """End the injected faults: of one LUN, of one target, or (no arguments) all of them."""
        names = list(self.luns) if target is None and lun is None else [target or self.iqn]
        for name in names:
            self._call("lun.clear", {"name": name, "lun": lun})

    def call(self, method: str, **params: Any) -> Any:
        """Any control request (docs/control.md), e.g. ``call("lun.new", tid=1, lun=2, keys={...})``."""
        return self._call(method, params)

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return self.hptd.call(method, **params)
        except AdminError as err:
            if err.code in (INVALID_PARAMS, NOT_FOUND):
                raise ValueError(f"{method}: {err.message}") from None
            raise RuntimeError(f"{method}: {err.message}") from None

    def stop(self) -> int:
        """Stop hptd; its exit status (0 when it stopped cleanly)."""
        return self.hptd.stop()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def __repr__(self) -> str:
        return f"<hpt target {self.iqn} on {self.portal or 'no iSCSI portal'}>"
