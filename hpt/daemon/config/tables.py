"""Reading the tables of a configuration file: typed accessors whose errors are ``ConfigError``\\ s of
the form ``FILE:LINE: key.path: what is wrong``."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpt.daemon.config.lines import SourceLines, TablePath
from hpt.options import Option, OptionError, resolve, show


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message is ``FILE:LINE: key.path: what is wrong``."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest of ``choices``, or nothing."""
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[close[0]]}"?)' if close else ""


def dotted(path: TablePath) -> str:
    """``("target", 0, "lun", 1, "size")`` -> ``target[0].lun[1].size``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(slots=True)
class Doc:
    """The document being read: its name in errors, its lines, and where its relative paths start."""

    source: str
    lines: SourceLines
    base_dir: Path

    def where(self, path: TablePath, key: str | None = None) -> str:
        """``file:line: dotted.path``: where a value is, for an error message."""
        dotted_path = dotted((*path, key) if key else path) or "(top level)"
        return f"{self.source}:{self.lines.line_of(path, key)}: {dotted_path}"

    def error(self, path: TablePath, key: str | None, message: str) -> ConfigError:
        return ConfigError(f"{self.where(path, key)}: {message}")


class Table:
    """One TOML table being read: typed getters whose errors name the key and its line.

    ``keys`` are the keys the table may hold, checked at once; None defers the check to
    :meth:`check_keys` (for a table whose keys depend on its own values).
    """

    def __init__(self, doc: Doc, data: dict[str, Any], path: TablePath,
                 keys: Collection[str] | None) -> None:
        self.doc, self.data, self.path, self.keys = doc, data, path, keys
        if keys is not None:
            self.check_keys(keys)

    def fail(self, key: str | None, message: str) -> ConfigError:
        return self.doc.error(self.path, key, message)

    def where(self, key: str | None = None) -> str:
        """``file:line: path``: where this table (or its ``key``) is, for errors found after loading."""
        return self.doc.where(self.path, key)

    def check_keys(self, keys: Collection[str], elsewhere: Mapping[str, str] | None = None) -> None:
        """Every key must be one of ``keys``; ``elsewhere`` explains keys that belong to other settings."""
        self.keys = keys
        for key in self.data:
            if key not in keys:
                hint = (elsewhere or {}).get(key)
                raise self.fail(key, hint or f"unknown key{did_you_mean(key, keys)}")

    def _value(self, key: str, default: Any, kind: type | tuple[type, ...], what: str) -> Any:
        assert self.keys is None or key in self.keys, key
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise self.fail(key, f"must be {what}, got {show(value)}")
        return value

    def text(self, key: str, default: str = "", choices: Sequence[str] = ()) -> str:
        value: str = self._value(key, default, str, "a string")
        if choices and value not in choices:
            raise self.fail(
                key, f'must be one of {", ".join(choices)}, got "{value}"{did_you_mean(value, choices)}'
            )
        return value

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value: int = self._value(key, default, int, "an integer")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be {lo}..{hi}, got {value}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value: bool = self._value(key, default, bool, "true or false")
        return value

    def texts(self, key: str) -> list[str]:
        values: list[Any] = self._value(key, [], list, "an array of strings")
        for item in values:
            if not isinstance(item, str):
                raise self.fail(key, f"must be an array of strings, has {show(item)}")
        return list(values)

    def integers(self, key: str, lo: int, hi: int) -> list[int] | None:
        values: list[Any] | None = self._value(key, None, list, "an array of integers")
        for item in values or ():
            if isinstance(item, bool) or not isinstance(item, int) or not lo <= item <= hi:
                raise self.fail(key, f"must be integers {lo}..{hi}, has {show(item)}")
        return values

    def options(self, schema: Sequence[Option], what: str = "") -> dict[str, Any]:
        """The values of ``schema``'s keys, checked and completed by :func:`hpt.options.resolve`;
        relative ``"path"`` options start at the document's directory."""
        given: dict[str, Any] = {}
        for opt in schema:
            if opt.key in self.data:
                value = self.data[opt.key]
                if opt.kind == "path" and isinstance(value, str) and value:
                    value = str((self.doc.base_dir / value).resolve())
                given[opt.key] = value
        try:
            return resolve(schema, given, what)
        except OptionError as err:
            raise self.fail(err.key, err.message) from None

    def table(self, key: str, keys: Collection[str]) -> Table:
        return Table(self.doc, self._value(key, {}, dict, f"a table ([{key}])"), (*self.path, key), keys)

    def array(self, key: str, keys: Collection[str] | None) -> list[Table]:
        items: list[Any] = self._value(key, [], list, f"an array of tables ([[{key}]])")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(key, f"must be an array of tables ([[{key}]]), has {show(item)}")
            out.append(Table(self.doc, item, (*self.path, key, i), keys))
        return out

    def required(self, key: str) -> None:
        if key not in self.data:
            raise self.fail(key, "required")
