"""hptd's main process with ``workers = N`` (N > 1): the supervisor in the foreground until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TYPE_CHECKING

from hpt.daemon.control.rpc import Params
from hpt.daemon.loop import MainLoop
from hpt.daemon.main import control_listener
from hpt.daemon.workers.control import methods_of
from hpt.daemon.workers.supervisor import WorkerError, Workers

if TYPE_CHECKING:
    from hpt.daemon.config import Config
    from hpt.daemon.metrics import MetricsServer

log = logging.getLogger("hptd")


def _metrics(config: Config, workers: Workers) -> MetricsServer | None:
    """The metrics endpoint of ``[metrics]``, if any: every worker's metrics, summed at each scrape."""
    if not config.metrics.host:
        return None
    from hpt.daemon.metrics import MetricsServer, SummedCollector

    return MetricsServer(config.metrics, SummedCollector(workers.metrics))


def serve_workers(args: argparse.Namespace, config: Config, argv: list[str]) -> int:
    """Serve ``config`` through its worker processes (``argv``: hptd's arguments, for each worker);
    hptd's exit status."""
    workers = Workers(config, argv)
    try:
        workers.start()
    except (OSError, WorkerError) as err:
        print(f"hptd: cannot start: {err}", file=sys.stderr)
        return 1
    loop = MainLoop()
    try:
        listener = control_listener(args, config, methods_of(workers, loop.shutdown))
    except OSError as err:
        print(f"hptd: control socket: {err}", file=sys.stderr)
        workers.stop()
        return 1
    try:
        metrics = _metrics(config, workers)
    except OSError as err:
        print(f"hptd: metrics on {config.metrics.address}: {err.strerror or err}", file=sys.stderr)
        if listener is not None:
            listener.stop()
        workers.stop()
        return 1
    for tc in config.targets:
        print(tc.name, flush=True)
    loop.install()
    log.info("hptd ready (%d workers)", config.daemon.workers)
    reload = methods_of(workers, lambda: None)["sys.reload"]  # every worker's, then the portals followed
    loop.run(lambda: f"serving {len(config.targets)} targets with {config.daemon.workers} workers",
             workers.status, lambda: reload(Params({})), pulse=0.5, tick=workers.tick)
    started = time.monotonic()
    if listener is not None:
        listener.stop()
    if metrics is not None:
        metrics.stop()
    workers.stop()
    log.info("stopped in %.2f s", time.monotonic() - started)
    return 0
