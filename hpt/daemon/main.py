"""hptd: the hpt target daemon (foreground; SIGTERM/SIGINT stop it cleanly).

    hptd --demo [--portal ADDR:PORT] [--path FILE]   serve the 1 GiB demo LUN (LUN 1 of one target)
    hptd --config FILE                                serve a TOML configuration (docs/config.md)
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time

from hpt.daemon.config import Config, ConfigError, demo_config, load_config


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="hptd", description="hpt SCSI target daemon (iSCSI/TCP)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", metavar="FILE", help="serve this TOML configuration")
    mode.add_argument("--demo", action="store_true", help="serve a 1 GiB demo LUN, no CHAP, open ACL")
    ap.add_argument("--portal", default="127.0.0.1:3260", metavar="ADDR:PORT",
                    help="demo portal (default 127.0.0.1:3260)")
    ap.add_argument("--path", metavar="FILE", help="demo: back the LUN with this sparse file instead of RAM")
    ap.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override the config")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config: Config = demo_config(args.portal, args.path) if args.demo else load_config(args.config)
    except ConfigError as err:
        print(f"hptd: {err}", file=sys.stderr)
        return 2
    setup_logging(args.log_level or config.daemon.log_level, config.daemon.log_format)
    log = logging.getLogger("hptd")

    from hpt.daemon.server import Server

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

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, on_status)  # log what is served now: portals, sessions, FCoE ports
    log.info("hptd ready")
    while not stop.is_set():
        wake.wait(1.0)
        wake.clear()
        if report.is_set():
            report.clear()
            log.info("status %s", json.dumps(server.status(), sort_keys=True))
    started = time.monotonic()
    server.stop()
    log.info("stopped in %.2f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
