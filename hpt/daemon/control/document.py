"""The running configuration as a document: the TOML data ``hptd --config`` reads, which every live
change edits (on a copy) and the loader validates whole before anything is applied; ``hptadm --dump``
prints it. Targets also carry tgt's target ids (tids), which live here and not in the file."""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpt.admin.toml import dumps
from hpt.daemon.config import Config, ConfigError, load_config, parse_config
from hpt.daemon.config.schema import CONTROL_SOCKET
from hpt.store.registry import store_kind

_LOCATION = re.compile(r"^[^\n]*?:\d+: ")


def without_location(err: ConfigError) -> str:
    """``target[0].lun[1].size: ...`` without the ``FILE:LINE:`` of the generated text."""
    return _LOCATION.sub("", str(err), count=1)


@dataclass
class Document:
    """TOML data (``data``), the directory relative paths in it start from, and tid per target name."""

    data: dict[str, Any]
    base_dir: Path = field(default_factory=Path.cwd)
    tids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, tids: dict[str, int] | None = None) -> tuple[Document, Config]:
        """A configuration file's document and validated :class:`Config` (ConfigError if wrong)."""
        config = load_config(path)
        return cls.of(config, path.read_text(encoding="utf-8"), path.parent, tids), config

    @classmethod
    def of(cls, config: Config, text: str, base_dir: Path, tids: dict[str, int] | None = None) -> Document:
        """The document of configuration ``text`` (already validated as ``config``); relative store paths
        are made absolute so that the document means the same wherever it is written out."""
        doc = cls(tomllib.loads(text), base_dir, dict(tids or {}))
        for tc, tdata in zip(config.targets, doc.targets(), strict=True):
            for lc, ldata in zip(tc.luns, tdata.get("lun", []), strict=True):
                values = lc.store_values | lc.params.extra  # a changer's media, a tape's cartridge
                for opt in (*(store_kind(lc.store).options if lc.store else ()), *lc.profile.options):
                    if opt.kind == "path" and opt.key in ldata:
                        ldata[opt.key] = values[opt.key]
        if config.daemon.control_socket != CONTROL_SOCKET:
            doc.section("daemon")["control_socket"] = config.daemon.control_socket
        doc.number_targets()
        return doc

    def copy(self) -> Document:
        return Document(copy.deepcopy(self.data), self.base_dir, dict(self.tids))

    def text(self, comment: str = "") -> str:
        return dumps(self.data, comment)

    def config(self) -> Config:
        """The document validated by the configuration loader (ConfigError names the key)."""
        return parse_config(self.text(), "<running configuration>", base_dir=self.base_dir)

    # -- parts ------------------------------------------------------------------------------------
    def section(self, key: str) -> dict[str, Any]:
        return self.data.setdefault(key, {})

    def array(self, key: str) -> list[dict[str, Any]]:
        return self.data.setdefault(key, [])

    def targets(self) -> list[dict[str, Any]]:
        return self.array("target")

    def target(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.targets() if t.get("name") == name), None)

    def name_of(self, tid: int) -> str | None:
        return next((n for n, t in self.tids.items() if t == tid), None)

    def number_targets(self) -> None:
        """Every target keeps its tid; those without one get the next free number, in file order."""
        names = [t.get("name") for t in self.targets()]
        self.tids = {n: t for n, t in self.tids.items() if n in names}
        for name in names:
            if isinstance(name, str) and name not in self.tids:
                self.tids[name] = max(self.tids.values(), default=0) + 1
