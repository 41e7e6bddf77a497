"""``hptadm``: tgtadm's commands for a running hptd (``hpt.admin.tgtadm``) and ``--dump``."""

from __future__ import annotations

import json
import sys

from hpt.admin.client import AdminError, Client, socket_path
from hpt.admin.show import render
from hpt.admin.tgtadm import UsageError, parse, request


def main(argv: list[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
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
