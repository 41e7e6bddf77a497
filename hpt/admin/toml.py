"""A TOML writer for configuration documents (TOML 1.0): tables, arrays of tables, and values that
are strings, integers, booleans or arrays of them. Enough for hptd's files; ``tomllib`` reads it back."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _value(value: Any) -> str:
    """A scalar or an array of scalars; JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dumps(doc: Mapping[str, Any], comment: str = "") -> str:
    """``doc`` as TOML text: each table's plain keys first, then its sub-tables and arrays of tables."""
    out = [f"# {line}".rstrip() for line in comment.splitlines()]
    _table(out, doc, ())
    return "\n".join(out).lstrip("\n") + "\n"


def _table(out: list[str], table: Mapping[str, Any], path: tuple[str, ...]) -> None:
    nested = []
    for key, value in table.items():
        if isinstance(value, Mapping) or _is_table_array(value):
            nested.append((key, value))
        elif value is not None:
            out.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested:
        sub = (*path, _key(key))
        if isinstance(value, Mapping):
            if any(not isinstance(v, Mapping) for v in value.values()) or not value:
                out.extend(("", f"[{'.'.join(sub)}]"))
            _table(out, value, sub)
        else:
            for item in value:
                out.extend(("", f"[[{'.'.join(sub)}]]"))
                _table(out, item, sub)
