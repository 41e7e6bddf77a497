"""``hptadm``: tgtadm's commands for a running hptd (``hpt.admin.tgtadm``), ``--dump``, and
``hptadm import-tgt FILE``: tgt's targets.conf printed as hptd's TOML (``hpt.admin.tgtimport``)."""

from __future__ import annotations

import json
import sys

from hpt.admin.client import AdminError, Client, socket_path
from hpt.admin.show import render
from hpt.admin.tgtadm import UsageError, parse, request
from hpt.admin.tgtconf import TgtConfError
from hpt.admin.tgtimport import import_tgt
from hpt.admin.toml import dumps

IMPORT_USAGE = """usage: hptadm import-tgt FILE

Print tgt's targets.conf FILE (its includes too) as the TOML configuration hptd --config reads.
Each directive hpt has no equivalent for is named on stderr with its file and line; a directive
hpt cannot serve (a store or device type it lacks, an unknown directive) is an error (exit 1)."""


def import_command(argv: list[str]) -> int:
    """``hptadm import-tgt FILE``."""
    if argv in (["-h"], ["--help"]):
        print(IMPORT_USAGE)
        return 0
    if len(argv) != 1:
        print(IMPORT_USAGE, file=sys.stderr)
        return 2
    try:
        imported = import_tgt(argv[0])
    except TgtConfError as err:
        print(f"hptadm: {err}", file=sys.stderr)
        return 1
    for note in imported.notes:
        print(f"hptadm: {note}", file=sys.stderr)
    comment = f"from tgt's {argv[0]} (hptadm import-tgt)"
    comment += "".join(f"\ncontroller_tid {tid}: {name}" for name, tid in imported.tids.items())
    print(dumps(imported.data, comment), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["import-tgt"]:
        return import_command(argv[1:])
    args = parse(argv)
    try:
        method, params = request(args)
    except UsageError as err:
        print(f"hptadm: {err}", file=sys.stderr)
        return 2
    try:
        with Client(socket_path(args.control_socket)) as client:
            answer = client.call(method, params)
    except AdminError as err:
        print(f"hptadm: {err.message}", file=sys.stderr)
        return 1
    text = json.dumps(answer, indent=2) if args.json else render(method, answer)
    if text:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
