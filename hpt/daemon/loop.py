"""hptd's foreground loop, for one process or the main process of several (``workers``): signals become
requests (SIGTERM and SIGINT stop, SIGUSR1 logs a status line, SIGHUP reloads the configuration file)
and systemd hears how it goes (``Notifier``: READY, RELOADING, STOPPING, WATCHDOG)."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from hpt.daemon.control.rpc import RpcError
from hpt.daemon.notify import Notifier

log = logging.getLogger("hptd")


class MainLoop:
    """``shutdown`` (a signal, ``hptadm --mode sys --op delete``) ends :meth:`run`."""

    def __init__(self) -> None:
        self.stop, self.report, self.reload, self.wake = (threading.Event() for _ in range(4))

    def shutdown(self) -> None:
        self.stop.set()
        self.wake.set()

    def install(self) -> None:
        """Take SIGTERM, SIGINT, SIGUSR1 and SIGHUP (from the main thread)."""

        def stopping(signum: int, _frame: object) -> None:
            log.info("signal %d: stopping", signum)
            self.shutdown()

        def asking(event: threading.Event) -> Callable[[int, object], None]:
            def handler(_signum: int, _frame: object) -> None:
                event.set()
                self.wake.set()

            return handler

        signal.signal(signal.SIGTERM, stopping)
        signal.signal(signal.SIGINT, stopping)
        signal.signal(signal.SIGUSR1, asking(self.report))  # log what is served now
        signal.signal(signal.SIGHUP, asking(self.reload))  # re-read the configuration file, apply it

    def run(self, ready: Callable[[], str], status: Callable[[], dict[str, Any]],
            reload: Callable[[], dict[str, list[str]]], *, pulse: float = 1.0,
            tick: Callable[[], None] | None = None) -> None:
        """Until shutdown: every ``pulse`` seconds (or at a signal) ``tick()``, the status line
        ``status()`` when asked, ``reload()`` when asked (an RpcError: refused, nothing changed);
        ``ready()`` says what is served."""
        notifier = Notifier()  # systemd's Type=notify (does nothing unless systemd started hptd)
        notifier.ready(ready())
        pulse = min(pulse, notifier.interval or pulse)
        while not self.stop.is_set():
            notifier.tick(time.monotonic())
            self.wake.wait(pulse)
            self.wake.clear()
            if tick is not None:
                tick()
            if self.report.is_set():
                self.report.clear()
                log.info("status %s", json.dumps(status(), sort_keys=True))
            if self.reload.is_set():
                self.reload.clear()
                notifier.reloading()
                _reload(reload)
                notifier.ready(ready())
        notifier.stopping()


def _reload(reload: Callable[[], dict[str, list[str]]]) -> None:
    """Apply the configuration file's difference, or keep running as is and say why not."""
    try:
        summary = reload()
    except RpcError as err:
        log.error("reload refused, nothing changed: %s", err.message)
        return
    log.info("reloaded: %s", json.dumps({k: v for k, v in summary.items() if v}, sort_keys=True))
