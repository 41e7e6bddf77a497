"""Reading tgt's ``targets.conf`` syntax: the Config::General text tgt-admin parses (tgt's
scripts/tgt-admin: ``ParseConfig`` with Apache includes, include globs and directories, duplicate
blocks merged), turned into directives and blocks that each know their file and line.

``key value`` or ``key = value`` lines, ``<name argument>`` ... ``</name>`` blocks, ``#`` comments
(``\\#`` is a literal ``#``), a trailing ``\\`` continues a line; ``include PATTERN`` reads every file
the glob matches (or every file of a directory), relative to the including file's directory, in name
order. What the directives mean is ``hpt.admin.tgtimport``'s business.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

_OPEN = re.compile(r"<\s*([A-Za-z][\w-]*)\s*(.*?)\s*>")
_CLOSE = re.compile(r"</\s*([A-Za-z][\w-]*)\s*>")
_KEY = re.compile(r"([^\s=]+)\s*(?:=\s*|\s+|$)(.*)")


class TgtConfError(ValueError):
    """A targets.conf that cannot be read; the message starts with ``FILE:LINE:``."""


@dataclass(slots=True)
class Directive:
    """``key value``, written at ``where`` (``FILE:LINE``)."""

    key: str
    value: str
    where: str


@dataclass(slots=True)
class Block:
    """``<kind name>`` ... ``</kind>``: its directives and inner blocks in file order."""

    kind: str
    name: str
    where: str
    items: list[Directive | Block] = field(default_factory=list)

    def directives(self) -> list[Directive]:
        return [i for i in self.items if isinstance(i, Directive)]

    def blocks(self) -> list[Block]:
        return [i for i in self.items if isinstance(i, Block)]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text without comments), continuation lines joined to their first line."""
    out: list[tuple[int, str]] = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(?<!\\)#.*", "", raw).replace("\\#", "#").rstrip()
        if line.endswith("\\"):
            pending, first = pending + line[:-1], first or number
            continue
        line, start = pending + line, first or number
        pending, first = "", 0
        if line.strip():
            out.append((start, line.strip()))
    return out


def _included(pattern: str, base: Path, where: str) -> list[Path]:
    path = Path(pattern) if Path(pattern).is_absolute() else base / pattern
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    if glob.has_magic(str(path)):
        return sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
    if not path.is_file():
        raise TgtConfError(f"{where}: include {pattern}: no such file")
    return [path]


def read_conf(path: str | Path, _seen: tuple[Path, ...] = ()) -> list[Directive | Block]:
    """The directives and blocks of a targets.conf, includes read in place; TgtConfError if the text is
    not well formed (an unclosed or stray block, an include that loops or names no file)."""
    path = Path(path)
    real = path.resolve()
    if real in _seen:
        raise TgtConfError(f"{path}: included from itself")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TgtConfError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    top = Block("", "", f"{path}:1")
    stack = [top]
    for number, line in _logical_lines(text):
        where = f"{path}:{number}"
        if (close := _CLOSE.fullmatch(line)) is not None:
            if len(stack) == 1 or stack[-1].kind != close[1]:
                raise TgtConfError(f"{where}: </{close[1]}> closes no <{close[1]}> block")
            stack.pop()
        elif (opening := _OPEN.fullmatch(line)) is not None:
            block = Block(opening[1], opening[2], where)
            stack[-1].items.append(block)
            stack.append(block)
        elif (m := _KEY.fullmatch(line)) is not None and m[1].lower() == "include":
            for included in _included(m[2].strip(), path.parent, where):
                stack[-1].items.extend(read_conf(included, (*_seen, real)))
        elif m is not None:
            stack[-1].items.append(Directive(m[1], m[2].strip(), where))
        else:
            raise TgtConfError(f"{where}: cannot read {line!r}")
    if len(stack) > 1:
        raise TgtConfError(f"{stack[-1].where}: <{stack[-1].kind}> is not closed")
    return top.items
