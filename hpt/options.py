"""Option schemas: the keys a device profile or a store kind accepts, with their types and limits.

A device profile (``hpt.scsi.core.profile``) and a store kind (``hpt.store.registry``) each declare a
tuple of :class:`Option`. The daemon's configuration reader checks a LUN's TOML table against the
schemas of its ``type`` and its ``store`` and reports any problem with the key and its line; code that
builds LUs without a file (tests, plug-ins, the control plane) goes through :func:`resolve` to get the
same checks and defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()  # the default of an option that must be given

#: ``check(value, all_values)`` returns a problem ("must be ...") or None.
Check = Callable[[Any, Mapping[str, Any]], "str | None"]

_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class OptionError(ValueError):
    """A value an option does not accept; ``key`` names the option."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def parse_size(value: int | str) -> int:
    """A byte count: an integer, or a string such as ``"64M"``, ``"1G"``, ``"512KiB"`` (powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError("must be a size, not true/false")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"must be positive, got {value}")
        return value
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    num, suffix = text[:-1], text[-1:]
    if suffix.isdigit():
        num, suffix = text, ""
    if suffix not in _SUFFIXES or not num.isdigit():
        raise ValueError(f'"{value}" is not a size (e.g. 1048576, "64M", "1G")')
    size = int(num) * _SUFFIXES[suffix]
    if size <= 0:
        raise ValueError(f"must be positive, got {value}")
    return size


@dataclass(frozen=True, slots=True)
class Option:
    """One key: its type (``bool``, ``int``, ``str`` or ``"size"``), default, limits and meaning."""

    key: str
    kind: type | str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[Any, ...] = ()
    lo: int | None = None
    hi: int | None = None
    check: Check | None = None

    def convert(self, value: Any) -> Any:
        """The value in this option's type, or OptionError saying what is wrong."""
        kind = self.kind
        if kind == "size":
            try:
                value = parse_size(value)
            except ValueError as err:
                raise OptionError(self.key, str(err)) from None
        elif kind is bool:
            if not isinstance(value, bool):
                raise OptionError(self.key, f"must be true or false, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise OptionError(self.key, f"must be an integer, got {value!r}")
        elif kind is str and not isinstance(value, str):
            raise OptionError(self.key, f"must be a string, got {value!r}")
        if self.choices and value not in self.choices:
            shown = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in self.choices)
            raise OptionError(self.key, f"must be one of {shown}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool):
            if self.lo is not None and value < self.lo:
                raise OptionError(self.key, f"must be at least {self.lo}, got {value}")
            if self.hi is not None and value > self.hi:
                raise OptionError(self.key, f"must be at most {self.hi}, got {value}")
        return value


def resolve(schema: Iterable[Option], given: Mapping[str, Any], what: str = "") -> dict[str, Any]:
    """Check ``given`` against ``schema``: unknown keys, missing required ones, types, limits and
    cross-checks. Returns every option's value (defaults filled in). Raises OptionError."""
    options = {o.key: o for o in schema}
    for key in given:
        if key not in options:
            known = ", ".join(sorted(options)) or "none"
            raise OptionError(key, f"unknown key{f' for {what}' if what else ''} (known: {known})")
    values: dict[str, Any] = {}
    for key, opt in options.items():
        if key in given:
            values[key] = opt.convert(given[key])
        elif opt.default is REQUIRED:
            raise OptionError(key, f"required{f' for {what}' if what else ''}")
        else:
            values[key] = opt.default
    for key, opt in options.items():
        if opt.check is not None and (key in given or opt.default is not None):
            problem = opt.check(values[key], values)
            if problem:
                raise OptionError(key, problem)
    return values
