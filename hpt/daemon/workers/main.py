"""hptd's main process with ``workers = N`` (N > 1): the supervisor in the foreground until SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from hpt.daemon.control.rpc import Params, RpcError
from hpt.daemon.main import control_listener
from hpt.daemon.notify import Notifier
from hpt.daemon.workers.control import methods_of
from hpt.daemon.workers.supervisor import WorkerError, Workers

if TYPE_CHECKING:
    from hpt.daemon.config import Config

log = logging.getLogger("hptd")


def serve_workers(args: argparse.Namespace, config: Config, argv: list[str]) -> int:
    """Serve ``config`` through its worker processes (``argv``: hptd's arguments, for each worker);
    hptd's exit status."""
    workers = Workers(config, argv)
    try:
        workers.start()
    except (OSError, WorkerError) as err:
        print(f"hptd: cannot start: {err}", file=sys.stderr)
        return 1
    stop, report, reload, wake = threading.Event(), threading.Event(), threading.Event(), threading.Event()

    def shutdown() -> None:
        stop.set()
        wake.set()

    try:
        listener = control_listener(args, config, methods_of(workers, shutdown))
    except OSError as err:
        print(f"hptd: control socket: {err}", file=sys.stderr)
        workers.stop()
        return 1
    for tc in config.targets:
        print(tc.name, flush=True)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()
        wake.set()

    def on_status(_signum: int, _frame: object) -> None:
        report.set()
        wake.set()

    def on_reload(_signum: int, _frame: object) -> None:
        reload.set()
        wake.set()

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
        if reload.is_set():
            reload.clear()
            notifier.reloading()
            _reload(workers)
            notifier.ready(f"serving with {config.daemon.workers} workers")
    notifier.stopping()
    started = time.monotonic()
    if listener is not None:
        listener.stop()
    workers.stop()
    log.info("stopped in %.2f s", time.monotonic() - started)
    return 0


def _reload(workers: Workers) -> None:
    """SIGHUP: every worker re-reads the configuration file and applies the difference (or none does
    and says why not); the main process follows the portals."""
    try:
        summary = methods_of(workers, lambda: None)["sys.reload"](Params({}))
    except RpcError as err:
        log.error("reload refused, nothing changed: %s", err.message)
        return
    log.info("reloaded: %s", json.dumps({k: v for k, v in summary.items() if v}, sort_keys=True))
