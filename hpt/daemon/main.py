"""hptd: the hpt target daemon (foreground; SIGTERM/SIGINT stop it cleanly).

    hptd --demo [--portal ADDR:PORT] [--path FILE]   serve the 1 GiB demo LUN (LUN 1 of one target)
    hptd --demo vtl [--portal ADDR:PORT] [--path DIR] serve a tape library: changer at LUN 0, drives at
                                                      LUNs 1 and 2, 8 cartridges HPT001L6..HPT008L6
    hptd --demo dvd [--portal ADDR:PORT] [--path ISO] serve a DVD-ROM holding ISO (a small one made at
                                                      start without --path) at LUN 1, a DVD+R drive with
                                                      a blank disc at LUN 2
    hptd --demo jukebox [--portal ADDR:PORT] [--path DIR] serve a DVD jukebox: changer at LUN 0, DVD
                                                      drives at LUNs 1 and 2, discs DVD001..DVD004 (ISO)
                                                      and BLK001..BLK004 (blank DVD+R)
    hptd --demo osd [--portal ADDR:PORT] [--path DIR] serve an OSD-2 object store at LUN 1 (objects in
                                                      DIR, kept; a temporary directory without --path)
    hptd --config FILE                                serve a TOML configuration (docs/config.md)
    hptd --tgt-config FILE [--portal ADDR:PORT]       serve tgt's targets.conf (docs/tgt.md)

SIGHUP re-reads the configuration file and applies the difference live; hptadm changes the running
configuration through the control socket (docs/control.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hpt.daemon.config import Config, ConfigError, demo_config, demo_text, parse_config
from hpt.daemon.config.build import vtl_text
from hpt.daemon.config.optical import dvd_text, jukebox_text
from hpt.daemon.config.osd import osd_text
from hpt.daemon.control import DEFAULT_SOCKET, Control, ControlListener, Document, methods
from hpt.daemon.control.rpc import Method
from hpt.daemon.demo import dvd_media, jukebox_media, osd_store, vtl_media
from hpt.daemon.loop import MainLoop
from hpt.daemon.tgtconfig import load_tgt

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from hpt.daemon.metrics import MetricsServer
    from hpt.daemon.server import Server


class _JsonFormatter(logging.Formatter):
    def __init__(self, tag: str = "") -> None:
        super().__init__()
        self.tag = tag  # "worker 2": which process of several (``workers``)

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        if self.tag:
            doc["process"] = self.tag
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def setup_logging(level: str, fmt: str, tag: str = "") -> None:
    """Log to standard error; ``tag`` (a worker process's "worker 2") starts each text line's name, and
    is each JSON line's ``process``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter(tag))
    else:
        who = f"{tag} " if tag else ""
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)-7s {who}%(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


DESCRIPTION = """hptd serves SCSI logical units (disks, tape drives and changers, DVD drives, OSD object
stores) to initiators over iSCSI/TCP, iSER (RDMA) and FCoE, from files, memory or plug-in stores. It
runs in the foreground and logs to standard error; the targets it serves are printed on standard output."""

EPILOG = """signals:
  SIGTERM, SIGINT  ask initiators to log out, finish the commands in hand, stop (exit status 0)
  SIGHUP           re-read the configuration file and apply the difference live (docs/control.md)
  SIGUSR1          log a status report (portals, sessions, FCoE ports) as one JSON line

files:
  /etc/hpt/hptd.toml      the configuration the systemd unit (ci/hptd.service) starts with
  /run/hpt/control.sock   hptadm's control socket ([daemon] control_socket, --control-socket)

environment:
  NOTIFY_SOCKET, WATCHDOG_USEC  systemd's notify protocol: READY, RELOADING, STOPPING, WATCHDOG

exit status: 0 stopped by a signal; 1 could not start (the portal, LUN or key is named with its line);
2 a configuration error (file, line and key).
See also: hptadm(1) --help, hptimg(1) --help; docs/config.md, docs/control.md, docs/metrics.md."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="hptd", description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", metavar="FILE", help="serve this TOML configuration")
    mode.add_argument("--tgt-config", metavar="FILE",
                      help="serve tgt's targets.conf FILE (its includes too) as hptadm import-tgt reads it; "
                           "it listens on --portal (default 0.0.0.0:3260, as tgtd)")
    mode.add_argument("--demo", nargs="?", const="disk", choices=("disk", "vtl", "dvd", "jukebox", "osd"),
                      help="serve a demo, no CHAP, open ACL: a 1 GiB disk LUN (no word, or disk), or a "
                           "virtual tape library (vtl: target iqn.2026-11.org.hpt:vtl, changer at LUN 0, "
                           "tape drives at LUNs 1 and 2, 8 cartridges HPT001L6..HPT008L6, 1 import/export "
                           "slot), a DVD-ROM and a DVD+R drive (dvd: target iqn.2026-11.org.hpt:dvd, LUNs 1 "
                           "and 2) or a DVD jukebox (jukebox: iqn.2026-11.org.hpt:jukebox, changer at LUN 0, "
                           "DVD drives at LUNs 1 and 2, 4 ISO and 4 blank discs) or an OSD-2 object "
                           "store (osd: iqn.2026-11.org.hpt:osd, LUN 1)")
    ap.add_argument("--portal", metavar="ADDR:PORT",
                    help="the demo's portal (default 127.0.0.1:3260), or --tgt-config's (default "
                         "0.0.0.0:3260)")
    ap.add_argument("--path", metavar="FILE|DIR",
                    help="demo: back the disk LUN with this sparse file instead of RAM; vtl: keep the "
                         "cartridges and the library's state in this directory (reused when it holds them) "
                         "instead of a temporary one; dvd: the ISO image LUN 1 serves; jukebox: as vtl, for "
                         "the discs; osd: the object store's directory")
    ap.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override the config")
    ap.add_argument("--control-socket", metavar="PATH",
                    help="hptadm's control socket (default: [daemon] control_socket, /run/hpt/control.sock; "
                         '"" for none)')
    args = ap.parse_args(argv)
    if args.demo and args.portal is None:
        args.portal = "127.0.0.1:3260"
    return args


def load_config(args: argparse.Namespace) -> tuple[Document, Config]:
    """The running configuration's document and its validated form (ConfigError if wrong)."""
    if args.demo:
        if args.demo == "vtl":
            try:
                media = vtl_media(args.path)
            except (OSError, ValueError) as err:
                raise ConfigError(f"--path {args.path}: cannot hold the library's media: {err}") from None
            text = vtl_text(args.portal, str(media))
            config = parse_config(text, "<demo vtl>")
        elif args.demo == "osd":
            try:
                store = osd_store(args.path)
            except OSError as err:
                raise ConfigError(f"--path {args.path}: cannot hold the object store: {err}") from None
            text = osd_text(args.portal, str(store))
            config = parse_config(text, "<demo osd>")
        elif args.demo in ("dvd", "jukebox"):
            text = _optical_text(args)
            config = parse_config(text, f"<demo {args.demo}>")
        else:
            text = demo_text(args.portal, args.path)
            config = demo_config(args.portal, args.path)
        return Document.of(config, text, Path.cwd()), config
    if args.tgt_config:
        return load_tgt(Path(args.tgt_config), portal=args.portal)
    return Document.load(Path(args.config))


def _optical_text(args: argparse.Namespace) -> str:
    """The dvd or jukebox demo's configuration, its discs made (ConfigError when they cannot be)."""
    try:
        if args.demo == "dvd":
            iso, blank = dvd_media(args.path)
            return dvd_text(args.portal, str(iso), str(blank))
        return jukebox_text(args.portal, str(jukebox_media(args.path)))
    except (OSError, ValueError) as err:
        raise ConfigError(f"--path {args.path}: cannot make the {args.demo} demo's discs: {err}") from None


def make_control(args: argparse.Namespace, server: Server, document: Document,
                 shutdown: Callable[[], None] | None) -> Control:
    """The control plane over ``server``, reloading from the file hptd was started with."""
    source = None if args.demo else Path(args.tgt_config or args.config)
    load = partial(load_tgt, portal=args.portal) if args.tgt_config else Document.load
    return Control(server, document, source=source, load=load, shutdown=shutdown)


def control_listener(args: argparse.Namespace, config: Config,
                     served: Mapping[str, Method]) -> ControlListener | None:
    """The control socket answering with ``served``: the one asked for (OSError if it cannot be had), or
    the default one (a warning if it cannot, e.g. another hptd has it)."""
    path = args.control_socket if args.control_socket is not None else config.daemon.control_socket
    if not path:
        return None
    try:
        listener = ControlListener(path, served)
    except OSError as err:
        if args.control_socket is None and path == DEFAULT_SOCKET:
            logging.getLogger("hptd").warning("no control socket: %s", err)
            return None
        raise
    listener.start()
    return listener


class Endpoints:
    """hptd's control socket and metrics endpoint (``[metrics]``), as one process or the main process of
    several workers serves them."""

    def __init__(self, args: argparse.Namespace, config: Config, served: Mapping[str, Method],
                 collector: Callable[[], Collector]) -> None:
        """Start both; ``collector()`` is made only with ``[metrics]`` (prometheus-client is imported
        only then). OSError with hptd's message when an address cannot be had; nothing is left started."""
        try:
            self.listener = control_listener(args, config, served)
        except OSError as err:
            raise OSError(f"control socket: {err}") from None
        self.metrics: MetricsServer | None = None
        if config.metrics.host:
            from hpt.daemon.metrics import MetricsServer

            try:
                self.metrics = MetricsServer(config.metrics, collector())
            except OSError as err:
                self.stop()
                raise OSError(f"metrics on {config.metrics.address}: {err.strerror or err}") from None

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        if self.metrics is not None:
            self.metrics.stop()


def _collector(server: Server) -> Collector:
    from hpt.daemon.metrics import HptCollector

    return HptCollector(server)


def raise_nofile() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit: each connection takes a descriptor, and a
    default soft limit of 1024 would turn away logins long before the connection limits do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as err:
            logging.getLogger("hptd").warning("cannot raise the open-file limit from %d: %s", soft, err)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        document, config = load_config(args)
    except ConfigError as err:
        print(f"hptd: {err}", file=sys.stderr)
        return 2
    setup_logging(args.log_level or config.daemon.log_level, config.daemon.log_format)
    raise_nofile()
    log = logging.getLogger("hptd")

    daemon = config.daemon
    if daemon.workers_auto:
        log.info("workers = auto: %s", f"{daemon.workers} workers, one per core" if daemon.workers > 1
                 else f"one process ({daemon.workers_note or 'one core'})")
    if config.daemon.workers > 1:
        from hpt.daemon.workers.main import serve_workers

        return serve_workers(args, config, list(sys.argv[1:] if argv is None else argv))

    from hpt.daemon.server import Server

    if config.metrics.host:
        # prometheus-client takes a while to import: before the portals listen, not after, so the
        # endpoint is up as soon as initiators can log in
        import hpt.daemon.metrics  # noqa: F401
    try:
        server = Server(config)
        server.start()
    except (OSError, ValueError) as err:
        print(f"hptd: cannot start: {err}", file=sys.stderr)
        return 1
    if not server.serving:
        print("hptd: no portal or FCoE port could be started", file=sys.stderr)
        server.stop()
        return 1
    loop = MainLoop()
    control = make_control(args, server, document, loop.shutdown)
    try:
        endpoints = Endpoints(args, config, methods(control), partial(_collector, server))
    except OSError as err:
        print(f"hptd: {err}", file=sys.stderr)
        server.stop()
        return 1
    for tc in config.targets:
        print(tc.name, flush=True)
    loop.install()
    log.info("hptd ready")
    loop.run(lambda: f"serving {len(server.targets)} targets", server.status, control.reload)
    started = time.monotonic()
    endpoints.stop()
    server.stop()
    log.info("stopped in %.2f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
