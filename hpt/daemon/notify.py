"""The systemd notify protocol (sd_notify(3)) without libsystemd: newline-separated assignments in one
datagram to the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` is the abstract namespace).

hptd says READY=1 once its portals listen, RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 when
it begins to stop, and WATCHDOG=1 every half ``$WATCHDOG_USEC`` while its main loop runs (the unit's
``WatchdogSec``). Without ``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("hptd")


class Notifier:
    """Messages to the service manager; ``tick(now)`` sends the watchdog keep-alive when it is due."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        path = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + path[1:] if path.startswith("@") else path
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())  # the watchdog may be meant for another process
        #: seconds between keep-alives (half the watchdog timeout), None when no watchdog is asked for
        self.interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and mine else None
        self._due = 0.0

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False (logged once per failure) when it cannot."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(assignments).encode(), self.address)
        except OSError as err:
            log.warning("systemd notify socket %s: %s", self.address.replace("\0", "@"), err)
            return False
        return True

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def tick(self, now: float) -> None:
        """The main loop's pulse: WATCHDOG=1 when one is due."""
        if self.interval is not None and now >= self._due:
            self._due = now + self.interval
            self.send("WATCHDOG=1")
