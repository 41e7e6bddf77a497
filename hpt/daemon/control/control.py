"""The control plane's state: the server, the running configuration document and the one lock every
change takes, so that changes (hptadm requests, SIGHUP reloads) apply one at a time and whole."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpt.daemon.config import ConfigError
from hpt.daemon.control.apply import prepare
from hpt.daemon.control.document import Document, without_location
from hpt.daemon.control.rpc import INVALID_CONFIG, NOT_FOUND, Params, RpcError

if TYPE_CHECKING:
    from hpt.daemon.config import Config
    from hpt.daemon.control.apply import Change
    from hpt.daemon.server import Server

log = logging.getLogger("hpt.daemon.control")

#: reads a configuration file into (document, config); ConfigError when it is wrong
Loader = Callable[[Path, dict[str, int]], tuple[Document, "Config"]]


class Control:
    """What every handler works on. ``load`` re-reads the configuration file on reload (None: nothing
    to reload, e.g. ``--demo``); ``shutdown`` asks hptd to stop."""

    def __init__(self, server: Server, document: Document, *, source: Path | None = None,
                 load: Loader | None = None, shutdown: Callable[[], None] | None = None) -> None:
        self.server = server
        self.document = document
        self.source = source
        self.load = load
        self.shutdown = shutdown
        self.lock = threading.RLock()
        self._checking = False

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Requests made inside only check a change (built, then discarded): hptd's workers each check
        one before any applies it, so one worker's refusal (a LUN in use there) leaves all unchanged."""
        with self.lock:
            self._checking = True
            try:
                yield
            finally:
                self._checking = False

    def change(self, edit: Callable[[Document], Any], *, force: bool = False) -> Any:
        """Edit a copy of the document, validate it whole, apply the difference; the edit's result.
        Nothing changes when any step fails."""
        with self.lock:
            doc = self.document.copy()
            result = edit(doc)
            doc.number_targets()
            try:
                config = doc.config()
            except ConfigError as err:
                raise RpcError(INVALID_CONFIG, without_location(err)) from None
            self._apply(prepare(self.server, config, force=force), doc)
            return result

    def reload(self, *, force: bool = False) -> dict[str, list[str]]:
        """Re-read the configuration file and apply its difference (SIGHUP, ``sys.reload``)."""
        if self.load is None or self.source is None:
            raise RpcError(NOT_FOUND, "hptd was started without a configuration file: nothing to reload")
        with self.lock:
            try:
                doc, config = self.load(self.source, self.document.tids)
            except ConfigError as err:
                raise RpcError(INVALID_CONFIG, str(err)) from None
            change = prepare(self.server, config, force=force)
            self._apply(change, doc)
            return change.summary()

    def _apply(self, change: Change, doc: Document) -> None:
        """Commit ``change`` and run ``doc`` from now on; while :meth:`checking`, discard it instead."""
        if self._checking:
            change.discard()
            return
        change.commit()
        self.document = doc

    # -- finding things ---------------------------------------------------------------------------
    def target_name(self, p: Params) -> str:
        """The target a request names by ``tid`` (tgtadm's) or by ``name``."""
        if p.has("tid"):
            tid = p.get("tid", int)
            name = self.document.name_of(tid)
            if name is None:
                raise RpcError(NOT_FOUND, f"can't find the target (tid {tid})")
            return name
        name = p.get("name", str)
        if self.document.target(name) is None:
            raise RpcError(NOT_FOUND, f"can't find the target {name}")
        return name

    @staticmethod
    def target_in(doc: Document, name: str) -> dict[str, Any]:
        target = doc.target(name)
        if target is None:
            raise RpcError(NOT_FOUND, f"can't find the target {name}")
        return target
