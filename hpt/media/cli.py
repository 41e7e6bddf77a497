"""``hptimg``: create, inspect and list media files (tgt's ``tgtimg``, with its option names).

``hptimg --op new --device-type tape --barcode HPT001L6 --size 256 --file PATH [--type data|clean|worm]
[--worm] [--write-protect]``, ``hptimg --op new --device-type dvd [--size MIB] [--barcode LABEL] --file
PATH`` (a blank DVD+R), ``hptimg --op show --file PATH``, ``hptimg --op list --path DIR``.
``--size`` is in MiB. Each device type is one row of :data:`DEVICE_TYPES`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from hpt.media import disc
from hpt.media.header import HEADER_SIZE, MediaError, is_cartridge
from hpt.media.tape import create, inspect

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class DeviceType:
    """What ``hptimg`` does for one ``--device-type``: make a new medium, read one's description, and
    recognise one by its first bytes."""

    new: Callable[[argparse.Namespace], dict[str, object]]
    show: Callable[[Path], dict[str, object]]
    recognise: Callable[[bytes], bool]


def _new_tape(args: argparse.Namespace) -> dict[str, object]:
    if not args.barcode:
        raise MediaError("--barcode is required for a tape")
    if args.size is None or args.size <= 0:
        raise MediaError("--size (MiB, a positive integer) is required for a tape")
    kind = (args.type or "data").lower()
    if kind not in ("data", "clean", "worm"):
        raise MediaError(f'--type for a tape must be data, clean or worm, got "{args.type}"')
    info = create(args.file, args.barcode, args.size * MIB, worm=args.worm or kind == "worm",
                  write_protect=args.write_protect, medium_type="clean" if kind == "clean" else "data")
    return asdict(info)


def _show_tape(path: Path) -> dict[str, object]:
    info = inspect(path)
    return {"device_type": "tape", **asdict(info), "file_size": path.stat().st_size,
            "used": info.eod_offset - HEADER_SIZE}


ISO_MAGIC = (32769, b"CD001")  # the primary volume descriptor's standard identifier (ECMA-119 8.4)
_PREFIX = ISO_MAGIC[0] + len(ISO_MAGIC[1])  # how much of a file the recognisers see


def _is_iso(prefix: bytes) -> bool:
    return prefix[ISO_MAGIC[0]:_PREFIX] == ISO_MAGIC[1]


def _new_dvd(args: argparse.Namespace) -> dict[str, object]:
    kind = (args.type or "dvd+r").lower()
    if kind != "dvd+r":
        raise MediaError(f'--type for a dvd must be dvd+r (an ISO file is a DVD-ROM), got "{args.type}"')
    if args.worm or args.write_protect:
        raise MediaError("--worm and --write-protect are tape options")
    if args.size is not None and args.size <= 0:
        raise MediaError("--size (MiB, a positive integer) must be positive")
    blocks = disc.DVD_BLOCKS if args.size is None else args.size * MIB // disc.BLOCK
    disc.create(args.file, blocks, args.barcode or "")
    return _show_dvd(Path(args.file))


def _show_dvd(path: Path) -> dict[str, object]:
    """A DVD+R medium file's or an ISO image's label, capacity, state, sessions and tracks."""
    d = disc.open_disc(path, readonly=True)
    try:
        recorded = [t for t in d.tracks() if t.written or t.closed]
        dated = {"created": disc.inspect(path).get("created", "")} if d.recordable else {}
        return {"device_type": "dvd", "barcode": d.label, "capacity": d.capacity * disc.BLOCK,
                "medium_type": d.kind, "state": d.state, "sessions": d.sessions, "tracks": len(recorded),
                **dated, "file_size": path.stat().st_size, "used": d.readable * disc.BLOCK}
    finally:
        d.close()


DEVICE_TYPES: dict[str, DeviceType] = {
    "tape": DeviceType(_new_tape, _show_tape, is_cartridge),
    "dvd": DeviceType(_new_dvd, _show_dvd, lambda prefix: disc.is_disc(prefix) or _is_iso(prefix)),
}

_SHOWN = ("barcode", "capacity", "medium_type", "state", "sessions", "tracks", "worm", "write_protect",
          "load_count", "manufacturer", "serial", "density", "created", "clean", "file_size")


def _print(fields: dict[str, object], out: list[str]) -> None:
    for key in _SHOWN:
        if key in fields:
            value = fields[key]
            if key == "capacity":
                value = f"{value} bytes ({int(value) // MIB} MiB)"  # type: ignore[call-overload]
            elif key == "density":
                value = f"0x{value:02X}"
            out.append(f"{key}: {value}")


def _type_of(path: Path) -> str | None:
    with path.open("rb") as f:
        prefix = f.read(_PREFIX)
    return next((name for name, t in DEVICE_TYPES.items() if t.recognise(prefix)), None)


def _op_new(args: argparse.Namespace, out: list[str]) -> None:
    if not args.file:
        raise MediaError("--file is required")
    if os.path.exists(args.file):
        raise MediaError(f"{args.file}: already exists (hptimg never overwrites a file)")
    fields = DEVICE_TYPES[args.device_type].new(args)
    out.append(f"created {args.device_type} {args.file}")
    _print(fields, out)


def _op_show(args: argparse.Namespace, out: list[str]) -> None:
    if not args.file:
        raise MediaError("--file is required")
    path = Path(args.file)
    kind = _type_of(path)
    if kind is None:
        raise MediaError(f"{path}: not a medium file hptimg knows")
    _print(DEVICE_TYPES[kind].show(path), out)


def _op_list(args: argparse.Namespace, out: list[str]) -> None:
    if not args.path:
        raise MediaError("--path is required")
    folder = Path(args.path)
    if not folder.is_dir():
        raise MediaError(f"{folder}: not a directory")
    out.append(f"{'FILE':<24} {'TYPE':<5} {'BARCODE':<12} {'MIB':>7} {'USED':>7} FLAGS")
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        kind = _type_of(path)
        if kind is None:
            continue
        f = DEVICE_TYPES[kind].show(path)
        flags = ",".join(name for name in ("worm", "write_protect") if f.get(name))
        if f.get("medium_type") == "clean":
            flags = ",".join(filter(None, ("clean", flags)))
        used = int(f["used"]) // MIB  # type: ignore[call-overload]
        out.append(f"{path.name:<24} {kind:<5} {f['barcode']!s:<12} {int(f['capacity']) // MIB:>7} "  # type: ignore[call-overload]
                   f"{used:>7} {flags or '-'}")


OPS = {"new": _op_new, "show": _op_show, "list": _op_list}


EPILOG = """examples (as with tgt's tgtimg):
  hptimg --op new --device-type tape --barcode HPT001L6 --size 1024 --file /srv/vtl/HPT001L6
  hptimg --op new --device-type tape --barcode WRM001L6 --size 256 --worm --file /srv/vtl/WRM001L6
  hptimg --op new --device-type dvd --barcode BLK001 --size 4482 --file /srv/dvd/BLK001
  hptimg --op show --file /srv/vtl/HPT001L6
  hptimg --op list --path /srv/vtl

A tape cartridge or a blank DVD+R is one file (format: docs/media.md); an ISO image is a DVD-ROM as it
is. Exit status: 0 done, 1 the operation failed (one "hptimg:" line says why), 2 bad options."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hptimg", description="Create, inspect and list hpt media files.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--op", "-o", required=True, choices=sorted(OPS))
    p.add_argument("--device-type", "-Y", default="tape", choices=sorted(DEVICE_TYPES))
    p.add_argument("--barcode", "-b", help="a tape's barcode, e.g. HPT001L6; a disc's label")
    p.add_argument("--size", "-s", type=int, help="capacity in MiB")
    p.add_argument("--type", "-t", help="medium type: data, clean or worm (tape); dvd+r (dvd)")
    p.add_argument("--worm", action="store_true", help="write once, read many")
    p.add_argument("--write-protect", action="store_true", help="set the write-protect tab")
    p.add_argument("--file", "-f", help="the medium file")
    p.add_argument("--path", "-p", help="a media directory (--op list)")
    return p


def run(argv: Sequence[str]) -> tuple[int, list[str]]:
    """Run hptimg with ``argv``: (exit status, lines to print); errors are one line starting ``hptimg:``."""
    args = parser().parse_args(argv)
    out: list[str] = []
    try:
        OPS[args.op](args, out)
    except (MediaError, OSError) as err:
        return 1, [f"hptimg: {err}"]
    return 0, out


def main(argv: Sequence[str] | None = None) -> int:
    status, lines = run(sys.argv[1:] if argv is None else argv)
    stream = sys.stdout if status == 0 else sys.stderr
    try:
        for line in lines:
            print(line, file=stream)
        stream.flush()
    except BrokenPipeError:  # the reader went away (hptimg ... | head): stop quietly, as cat does
        sys.stdout = None  # type: ignore[assignment]  # no flush of the broken pipe at exit
    return status


if __name__ == "__main__":
    sys.exit(main())
