"""One worker process (``python -m hpt.daemon.workers --channel FD --index N -- HPTD-ARGS``).

It reads the configuration as hptd did (the same arguments), builds every target and LU, and serves
the iSCSI/TCP connections the main process hands it over the channel (SCM_RIGHTS), until SIGTERM or
until the main process is gone. Its LUs' shared objects and its session table are the main process's
(``remote.py``)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket
import sys
import threading
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.daemon.control.document import Document
from hpt.daemon.control.rpc import Method
from hpt.daemon.workers.channel import Channel, ChannelClosed, Message, RemoteError, pack_text
from hpt.daemon.workers.control import portal_list, run_control
from hpt.daemon.workers.remote import (
    OwnedObject,
    RemotePenalty,
    Watches,
    WorkerSessions,
    owned_memory,
    shared_ring,
)

if TYPE_CHECKING:
    from hpt.daemon.control import Control

log = logging.getLogger("hpt.daemon.workers")

#: Seconds between the main thread's looks at whether a signal asked it to stop.
STOP_POLL = 0.5


def worker_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="hptd worker")
    ap.add_argument("--channel", type=int, required=True, help="the channel's descriptor")
    ap.add_argument("--index", type=int, required=True, help="this worker's number (1..N)")
    ap.add_argument("hptd_args", nargs=argparse.REMAINDER, help="-- then hptd's own arguments")
    args = ap.parse_args(argv)
    hptd_args = args.hptd_args[1:] if args.hptd_args[:1] == ["--"] else args.hptd_args

    from hpt.daemon.config import ConfigError
    from hpt.daemon.control import methods
    from hpt.daemon.main import load_config, make_control, parse_args, raise_nofile, setup_logging

    options = parse_args(hptd_args)
    try:
        document, config = load_config(options)
    except ConfigError as err:
        print(f"hptd worker {args.index}: {err}", file=sys.stderr)
        return 2
    setup_logging(options.log_level or config.daemon.log_level, config.daemon.log_format,
                  tag=f"worker {args.index}")
    raise_nofile()
    stop = threading.Event()
    for sig in (signal.SIGHUP, signal.SIGUSR1):  # the main process's to act on
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    signal.signal(signal.SIGINT, lambda _s, _f: stop.set())

    from hpt.daemon.server import Server

    watches = Watches()
    server: Server | None = None
    served: dict[str, Method] = {}
    ctl: Control | None = None

    def handle(m: Message, fds: list[int]) -> Message | None:
        op = m.get("op")
        if op == "conn":  # an accepted connection: served by the portal it came through
            sock = socket.socket(fileno=fds[0])
            portal = None if server is None else server.handed_portal(m["portal"])
            if portal is None:
                sock.close()
            else:
                portal.adopt(sock)
            return None
        for fd in fds:
            os.close(fd)
        if op == "notified":
            return watches.deliver(m)
        if op == "close":
            return sessions.close_session(m)
        if op == "control":  # an hptadm request, run here as in every worker (``control.py``)
            assert ctl is not None  # requests come once the worker is ready
            return run_control(served, m, ctl)
        if op == "portals":  # after a change: what the main process listens on and counts by
            if server is None:
                return {"portals": []}
            limits = dataclasses.asdict(server.limits)
            return {"portals": portal_list(server.portal_configs), "limits": limits}
        if op == "shed":  # the main process makes room under a connection limit over every worker
            return {"shed": server is not None and server.shed_handed(m["peer"], m["reason"])}
        if op == "document":  # after a change: the main process keeps it for a worker's restart
            assert ctl is not None
            doc = ctl.document
            return {"text": doc.text(), "base": str(doc.base_dir), "tids": doc.tids}
        if op == "status":  # SIGUSR1 to the main process: its report joins every worker's
            return {"portals": [], "sessions": []} if server is None else server.status()
        if op == "metrics":  # Prometheus scrapes the main process, which sums every worker's
            from hpt.daemon.metrics import exposition

            return {"text": pack_text("" if server is None else exposition(server))}
        raise ValueError(f"unknown request {op!r}")

    channel = Channel(socket.socket(fileno=args.channel), handle, f"worker {args.index}", on_close=stop.set,
                      inline=frozenset({"conn"}))
    sessions = WorkerSessions(channel)
    channel.start()
    try:  # a restart: the configuration as hptadm has changed it since hptd started, if it has
        running = channel.call("running").get("document")
    except (ChannelClosed, RemoteError):
        running = None
    if running is not None:
        document = Document(tomllib.loads(running["text"]), Path(running["base"]), dict(running["tids"]))
        try:
            config = document.config()
        except ConfigError as err:
            print(f"hptd worker {args.index}: the running configuration: {err}", file=sys.stderr)
            return 2

    def tell(op: str) -> Callable[[str], None]:
        """Tell the main process about one of this worker's connections (it counts them all)."""
        def told(peer: str) -> None:
            try:
                channel.post({"op": op, "peer": peer})
            except ChannelClosed:
                pass
        return told

    try:
        server = Server(config, sessions=sessions, sharing=lambda target, lun, name: OwnedObject(
            channel, f"{target}/{lun}/{name}", watches), memory=partial(owned_memory, channel),
            auth_penalty=RemotePenalty(channel, config.limits), ring=shared_ring(channel))
        server.take_handed(tell("gone"), tell("login"))
        ctl = make_control(options, server, document, None)  # sys.stop: the main process's
        served = methods(ctl)
        channel.post({"op": "ready", "pid": os.getpid()})
    except (OSError, ValueError, ChannelClosed, RemoteError) as err:
        print(f"hptd worker {args.index}: cannot start: {err}", file=sys.stderr)
        return 1
    log.info("serving (pid %d)", os.getpid())
    # with a timeout: a SIGTERM the kernel gives another thread (a connection's) interrupts no wait of
    # this one, and its handler runs only once this thread runs Python again
    while not stop.wait(STOP_POLL):
        pass
    server.stop()
    log.info("stopped")
    return 0
