"""Where each table and key of a TOML text is written: tomllib reports no line numbers for values, so
:class:`SourceLines` finds them by scanning the text for table headers and keys."""

from __future__ import annotations

import re
from collections.abc import Sequence

#: A table's place in the document: ``("target", 0, "lun", 1)`` is the second LUN of the first target.
TablePath = tuple[str | int, ...]

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER_RE = re.compile(rf"\s*(\[\[?)\s*({_DOTTED})\s*\]")
_KEY_RE = re.compile(rf"\s*({_DOTTED})\s*=(.*)")
_STRINGS_RE = re.compile(r"""\"(?:[^"\\]|\\.)*"|'[^']*'|#.*""")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(_KEY_PART, text)
    return [p[1:-1] if p[0] in "\"'" else p for p in parts]


class SourceLines:
    """Where each table instance and key is written: ``path`` -> line, ``(path, key)`` -> line.

    Array-of-table instances are numbered as tomllib numbers them: ``[[target.lun]]`` belongs to the
    latest ``[[target]]``, so ``("target", 0, "lun", 1)`` is the second LUN of the first target.
    """

    def __init__(self, text: str) -> None:
        self.headers: dict[TablePath, int] = {}
        self.keys: dict[tuple[TablePath, str], int] = {}
        counts: dict[TablePath, int] = {}
        latest: dict[tuple[str, ...], TablePath] = {}  # array name path -> its latest instance
        table: TablePath = ()
        depth = 0  # open brackets/braces of a multi-line value
        in_string = ""
        for lineno, line in enumerate(text.splitlines(), 1):
            if in_string:
                if line.count(in_string) % 2:
                    in_string = ""
                continue
            if depth > 0:
                depth += _bracket_delta(line)
                continue
            if (header := _HEADER_RE.match(line)) is not None:
                names = _split_dotted(header[2])
                table = _resolve(names[:-1], latest)
                if header[1] == "[[":
                    key = (*table, names[-1])
                    table = (*key, counts.get(key, 0))
                    counts[key] = counts.get(key, 0) + 1
                    latest[tuple(names)] = table
                else:
                    table = (*table, names[-1])
                self.headers.setdefault(table, lineno)
            elif (entry := _KEY_RE.match(line)) is not None:
                names = _split_dotted(entry[1])
                for i, name in enumerate(names):
                    self.keys.setdefault(((*table, *names[:i]), name), lineno)
                value = entry[2].strip()
                for quote in ('"""', "'''"):
                    if value.startswith(quote) and value.count(quote) == 1:
                        in_string = quote
                depth = 0 if in_string else _bracket_delta(value)

    def line_of(self, path: TablePath, key: str | None = None) -> int:
        """The line of ``key`` in table ``path``, else of the nearest enclosing table header or key."""
        if key is not None and (path, key) in self.keys:
            return self.keys[(path, key)]
        while path:
            if path in self.headers:
                return self.headers[path]
            parent = path[:-2] if isinstance(path[-1], int) else path[:-1]
            name = path[-2] if isinstance(path[-1], int) else path[-1]
            if isinstance(name, str) and (parent, name) in self.keys:
                return self.keys[(parent, name)]
            path = parent
        return 1


def _resolve(names: Sequence[str], latest: dict[tuple[str, ...], TablePath]) -> TablePath:
    """The concrete path of a header's parent names: array names resolve to their latest instance."""
    path: TablePath = ()
    for i, name in enumerate(names):
        path = latest.get(tuple(names[: i + 1]), (*path, name))
    return path


def _bracket_delta(text: str) -> int:
    code = _STRINGS_RE.sub("", text)
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")
