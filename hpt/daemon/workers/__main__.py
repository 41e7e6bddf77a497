"""``python -m hpt.daemon.workers``: one of hptd's worker processes (started by hptd itself)."""

import sys

from hpt.daemon.workers.worker import worker_main

raise SystemExit(worker_main(sys.argv[1:]))
