"""hptd's main process with ``workers = N`` (N > 1): the supervisor in the foreground until SIGTERM."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from hpt.daemon.notify import Notifier
from hpt.daemon.workers.supervisor import WorkerError, Workers

if TYPE_CHECKING:
    from hpt.daemon.config import Config

log = logging.getLogger("hptd")


def serve_workers(config: Config, argv: list[str]) -> int:
    """Serve ``config`` through its worker processes (``argv``: hptd's arguments, for each worker);
    hptd's exit status."""
    workers = Workers(config, argv)
    try:
        workers.start()
    except (OSError, WorkerError) as err:
        print(f"hptd: cannot start: {err}", file=sys.stderr)
        return 1
    if config.daemon.control_socket:
        log.warning("with workers = %d hptadm's control socket is not served (docs/workers.md)",
                    config.daemon.workers)
    for tc in config.targets:
        print(tc.name, flush=True)
    stop, report, wake = threading.Event(), threading.Event(), threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()
        wake.set()

    def on_status(_signum: int, _frame: object) -> None:
        report.set()
        wake.set()

    def on_reload(_signum: int, _frame: object) -> None:
        log.error("reload refused, nothing changed: with workers = %d restart hptd to change its "
                  "configuration", config.daemon.workers)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, on_status)
    signal.signal(signal.SIGHUP, on_reload)
    log.info("hptd ready (%d workers)", config.daemon.workers)
    notifier = Notifier()
    notifier.ready(f"serving {len(config.targets)} targets with {config.daemon.workers} workers")
    pulse = min(0.5, notifier.interval or 0.5)
    while not stop.is_set():
        notifier.tick(time.monotonic())
        wake.wait(pulse)
        wake.clear()
        workers.tick()
        if report.is_set():
            report.clear()
            log.info("status %s", json.dumps(workers.status(), sort_keys=True))
    notifier.stopping()
    started = time.monotonic()
    workers.stop()
    log.info("stopped in %.2f s", time.monotonic() - started)
    return 0
