"""The JSON-RPC 2.0 client of hptd's control socket (docs/control.md): one request per line."""

from __future__ import annotations

import itertools
import json
import os
import socket
from typing import Any

DEFAULT_SOCKET = "/run/hpt/control.sock"
ENVIRONMENT = "HPT_CONTROL_SOCKET"


class AdminError(Exception):
    """hptd refused a request (its JSON-RPC error), or could not be reached (code None)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def socket_path(given: str | None = None) -> str:
    """``--control-socket``, else ``$HPT_CONTROL_SOCKET``, else the default."""
    return given or os.environ.get(ENVIRONMENT) or DEFAULT_SOCKET


class Client:
    """A connection to hptd's control socket."""

    def __init__(self, path: str, timeout: float = 120.0) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)  # a forced delete drains commands: allow for it
        try:
            self.sock.connect(path)
        except OSError as err:
            self.sock.close()
            why = err.strerror or err
            raise AdminError(f"can't connect to hptd's control socket {path}: {why}") from None
        self.reader = self.sock.makefile("rb")
        self.ids = itertools.count(1)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        ident = next(self.ids)
        request = {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": ident}
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
            line = self.reader.readline()
        except OSError as err:
            raise AdminError(f"control socket {self.path}: {err.strerror or err}") from None
        if not line:
            raise AdminError(f"hptd closed the control socket {self.path}")
        answer = json.loads(line)
        if "error" in answer:
            raise AdminError(answer["error"]["message"], answer["error"]["code"])
        return answer["result"]

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
