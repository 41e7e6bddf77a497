"""JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over a byte stream: one request, notification or
batch per line, one response (or batch of responses) per line back.

A method is a callable taking :class:`Params`; what it returns is the ``result``, a :class:`RpcError`
it raises is the ``error`` object (section 5.1), anything else an internal error (-32603).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("hpt.daemon.control")

# section 5.1's codes, then hptd's own (the -32000..-32099 range is for implementations)
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700, -32600, -32601, -32602, -32603)
NOT_FOUND, IN_USE, INVALID_CONFIG, EXISTS, UNAVAILABLE = -32001, -32002, -32003, -32004, -32005

_MISSING = object()


class RpcError(Exception):
    """An ``error`` object: code, message, optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def as_dict(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


class Params:
    """A request's named parameters with typed getters; a wrong or missing one is INVALID_PARAMS."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        if key not in self.values or self.values[key] is None:
            if default is _MISSING:
                raise RpcError(INVALID_PARAMS, f"missing parameter: {key}")
            return default
        value = self.values[key]
        if isinstance(value, bool) and kind is int or not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise RpcError(INVALID_PARAMS, f"parameter {key} must be {names}, got {json.dumps(value)}")
        return value

    def has(self, key: str) -> bool:
        return self.values.get(key) is not None


Method = Callable[[Params], Any]


def _call(request: Any, methods: Mapping[str, Method]) -> dict[str, Any] | None:
    """One request object -> its response object (None for a notification, section 4.1)."""
    ident = request.get("id") if isinstance(request, dict) else None
    try:
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(
                request.get("method"), str):
            raise RpcError(INVALID_REQUEST, 'expected {"jsonrpc": "2.0", "method": ..., "id": ...}')
        params = request.get("params", {})
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "params must be an object (by name)")
        method = methods.get(request["method"])
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"no method {request['method']!r}")
        result = method(Params(params))
        response: dict[str, Any] = {"jsonrpc": "2.0", "result": result, "id": ident}
    except RpcError as err:
        response = {"jsonrpc": "2.0", "error": err.as_dict(), "id": ident}
    except Exception as err:  # noqa: BLE001 - the daemon keeps serving; the caller learns what failed
        log.exception("control request %s failed", request.get("method") if isinstance(request, dict)
                      else request)
        response = {"jsonrpc": "2.0", "error": RpcError(INTERNAL_ERROR, f"internal error: {err}").as_dict(),
                    "id": ident}
    if isinstance(request, dict) and "id" not in request and isinstance(request.get("method"), str):
        return None  # a notification: run, never answered
    return response


def handle(line: bytes | str, methods: Mapping[str, Method]) -> bytes | None:
    """One line of requests -> one line of responses, or None when nothing is to be answered."""
    try:
        doc = json.loads(line)
    except ValueError as err:
        return _encode({"jsonrpc": "2.0", "error": RpcError(PARSE_ERROR, f"parse error: {err}").as_dict(),
                        "id": None})
    if isinstance(doc, list):  # a batch (section 6)
        if not doc:
            return _encode({"jsonrpc": "2.0", "error": RpcError(INVALID_REQUEST, "empty batch").as_dict(),
                            "id": None})
        answers = [r for r in (_call(item, methods) for item in doc) if r is not None]
        return _encode(answers) if answers else None
    answer = _call(doc, methods)
    return None if answer is None else _encode(answer)


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"
