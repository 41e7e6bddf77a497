"""hptd's main process with ``workers = N`` (N > 1): the supervisor in the foreground until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from functools import partial
from typing import TYPE_CHECKING

from hpt.daemon.control.rpc import Params
from hpt.daemon.loop import MainLoop
from hpt.daemon.main import Endpoints
from hpt.daemon.workers.control import methods_of
from hpt.daemon.workers.supervisor import WorkerError, Workers

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from hpt.daemon.config import Config

log = logging.getLogger("hptd")


def _summed(workers: Workers) -> Collector:
    """Every worker's metrics, summed at each scrape (``hpt.daemon.metrics.SummedCollector``)."""
    from hpt.daemon.metrics import SummedCollector

    return SummedCollector(workers.metrics, workers.ring)


def serve_workers(args: argparse.Namespace, config: Config, argv: list[str]) -> int:
    """Serve ``config`` through its worker processes (``argv``: hptd's arguments, for each worker);
    hptd's exit status."""
    workers = Workers(config, argv)
    loop = MainLoop()
    # the control socket and the metrics endpoint first: up before the portals listen (workers.start),
    # so initiators find them as soon as they can log in (answering "no worker is ready" until then)
    try:
        endpoints = Endpoints(args, config, methods_of(workers, loop.shutdown), partial(_summed, workers))
    except OSError as err:
        print(f"hptd: {err}", file=sys.stderr)
        return 1
    try:
        workers.start()
    except (OSError, WorkerError) as err:
        print(f"hptd: cannot start: {err}", file=sys.stderr)
        endpoints.stop()
        return 1
    for tc in config.targets:
        print(tc.name, flush=True)
    loop.install()
    log.info("hptd ready (%d workers)", config.daemon.workers)
    reload = methods_of(workers, lambda: None)["sys.reload"]  # every worker's, then the portals followed
    loop.run(lambda: f"serving {len(config.targets)} targets with {config.daemon.workers} workers",
             workers.status, lambda: reload(Params({})), pulse=0.5, tick=workers.tick)
    started = time.monotonic()
    endpoints.stop()
    workers.stop()
    log.info("stopped in %.2f s", time.monotonic() - started)
    return 0
