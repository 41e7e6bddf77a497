"""The control socket: a Unix stream socket (mode 0600, so only its owner, normally root, administers)
whose connections each carry JSON-RPC 2.0 lines (``rpc``), served one thread per client."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

from hpt.daemon.config.schema import CONTROL_SOCKET
from hpt.daemon.control.rpc import Method, handle

log = logging.getLogger("hpt.daemon.control")

DEFAULT_SOCKET = CONTROL_SOCKET
MAX_LINE = 1 << 20  # one request line; a longer one closes the client


def _stale(path: Path) -> bool:
    """A socket file no daemon answers on (left by a crash) may be replaced; a live one may not."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return True
    finally:
        probe.close()
    return False


class ControlListener:
    """Listens on ``path`` and answers each line with ``methods`` (``rpc.handle``)."""

    def __init__(self, path: str | Path, methods: Mapping[str, Method]) -> None:
        self.path = Path(path)
        self.methods = methods
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if not _stale(self.path):
                raise OSError(f"control socket {self.path} is in use by another hptd")
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # created 0600: no window in which others could connect
        try:
            self.sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self.sock.listen(16)
        self._stopping = False
        self.thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)

    def start(self) -> None:
        self.thread.start()
        log.info("control socket %s", self.path)

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.sock.accept()
            except OSError:
                if self._stopping:
                    return
                continue
            threading.Thread(target=self._serve, args=(client,), name="control client", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, client.makefile("rb") as reader:
            while not self._stopping:
                line = reader.readline(MAX_LINE + 1)
                if not line or len(line) > MAX_LINE:
                    return
                if not line.strip():
                    continue
                answer = handle(line, self.methods)
                if answer is not None:
                    try:
                        client.sendall(answer)
                    except OSError:
                        return

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
