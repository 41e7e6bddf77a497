"""A tape library's state file: which cartridge is in which element, kept across restarts.

The file is ``library.json`` in the media directory, next to the cartridge files it names. It is
replaced whole on every change (written to a temporary file, synchronised, renamed over the old one,
the directory synchronised), so a crash leaves the old state or the new one. A file that cannot be
read as a state all the same (damaged by hand or by the disk) is kept aside as ``library.json.bad``
and the library starts from its configured placement.

An element is named by its kind and its index among the elements of that kind, not by its address,
so adding slots to a library leaves the placement as it was.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from hpt.media import disc, tape
from hpt.media.header import is_cartridge

log = logging.getLogger("hpt.media")

STATE_FILE = "library.json"
VERSION = 1

#: An element: its kind (e.g. "storage", "data_transfer") and its index among the elements of that kind.
Slot = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Placed:
    """A cartridge in an element: its file's name in the media directory, the element it was last
    moved from, and whether an operator put it into an import/export slot."""

    file: str
    source: Slot | None = None
    imported: bool = False


Placement = dict[Slot, Placed]


class StateError(ValueError):
    """A state file whose content is not a library state."""


def barcode_of(path: Path) -> str:
    """A cartridge file's barcode: a tape cartridge's from its header (``hpt.media.tape``), a DVD+R's
    label from its header (``hpt.media.disc``); any other file's (an ISO image) is its name without the
    suffix. Raises OSError or MediaError when the file cannot be read."""
    with open(path, "rb") as f:
        prefix = f.read(8)
    if is_cartridge(prefix):
        return tape.inspect(path).barcode
    if disc.is_disc(prefix):
        return str(disc.inspect(path)["label"])
    return path.stem


def file_name_error(name: str) -> str | None:
    """Why ``name`` cannot name a file of the media directory (a plain name, not a path), or None."""
    if not name or name in (".", "..") or "/" in name or "\0" in name or name.startswith(STATE_FILE):
        return f"must be a file name in the media directory (no \"/\"), got {name!r}"
    return None


def _slot(value: object) -> Slot:
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and type(value[1]) is int and value[1] >= 0):
        return value[0], value[1]
    raise StateError(f"an element is [kind, index], got {value!r}")


def decode(text: str) -> Placement:
    """The placement a state file holds; StateError says what is wrong with it."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise StateError(f"not JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION or type(doc.get("elements")) is not list:
        raise StateError(f'expected {{"version": {VERSION}, "elements": [...]}}')
    placement: Placement = {}
    files: set[str] = set()
    for item in doc["elements"]:
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            raise StateError(f"an element entry needs a file name, got {item!r}")
        slot, name = _slot(item.get("element")), item["file"]
        if problem := file_name_error(name):
            raise StateError(problem)
        if slot in placement or name in files:
            raise StateError(f"{slot} or {name!r} appears twice")
        source = None if item.get("source") is None else _slot(item["source"])
        placement[slot] = Placed(name, source, item.get("imported") is True)
        files.add(name)
    return placement


def encode(placement: Placement) -> str:
    elements = [{"element": list(slot), "file": p.file, "source": p.source and list(p.source),
                 "imported": p.imported} for slot, p in sorted(placement.items())]
    return json.dumps({"version": VERSION, "elements": elements}, indent=1) + "\n"


def load_state(directory: Path) -> Placement | None:
    """The saved placement, or None when there is none (or it was unusable and is now kept aside)."""
    path = directory / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        return _set_aside(path, str(err))
    try:
        return decode(text)
    except StateError as err:
        return _set_aside(path, str(err))


def _set_aside(path: Path, why: str) -> None:
    bad = path.with_name(STATE_FILE + ".bad")
    log.error("%s: not a library state (%s): kept as %s; starting from the configured placement",
              path, why, bad.name)
    try:
        os.replace(path, bad)
    except OSError as err:
        log.error("%s: cannot keep it aside: %s", path, err)
    return None


def save_state(directory: Path, placement: Placement) -> None:
    """Replace the state file atomically and durably (temporary file, fsync, rename, fsync of the
    directory). Raises OSError."""
    path = directory / STATE_FILE
    tmp = directory / (STATE_FILE + ".tmp")
    data = encode(placement).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
