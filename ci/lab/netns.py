"""A private network namespace with one bridge and tap devices, for guests that need raw Ethernet.

Guests started with ``GuestSpec(netns=ns.name, nics=(TapNet(tap, mac),))`` share the bridge and nothing
else: the namespace has no route out. Deleting the namespace removes its bridge and taps.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

BRIDGE = "br0"
#: Large enough for full-size FCoE frames (2180 bytes) and jumbo frames.
MTU = 9000


class NetNamespace:
    """``with NetNamespace() as ns:`` creates the namespace and bridge; leaving it removes both."""

    def __init__(self, prefix: str = "hptlab") -> None:
        self.name = f"{prefix}{os.getpid()}{secrets.token_hex(2)}"
        self.taps: list[str] = []
        self._captures: list[subprocess.Popen[bytes]] = []

    def ip(self, *args: str) -> None:
        """Run ``ip -n NS ARGS``."""
        subprocess.run(["ip", "-n", self.name, *args], check=True, capture_output=True)

    def exec_argv(self, argv: list[str]) -> list[str]:
        """``argv`` prefixed to run inside the namespace (``ip netns exec`` execs in place: same PID)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def __enter__(self) -> NetNamespace:
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        try:
            self.ip("link", "set", "lo", "up")
            # Keep the bridge silent: no IPv6 link-local chatter in captures.
            for conf in ("all", "default"):
                subprocess.run(self.exec_argv(["sysctl", "-q", "-w", f"net.ipv6.conf.{conf}.disable_ipv6=1"]),
                               check=True, capture_output=True)
            self.ip("link", "add", BRIDGE, "mtu", str(MTU), "type", "bridge")
            # No STP and no forwarding delay: frames pass as soon as a port is up.
            self.ip("link", "set", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0")
            self.ip("link", "set", BRIDGE, "up")
        except BaseException:
            self.close()
            raise
        return self

    def add_tap(self, name: str) -> str:
        """Create tap ``name`` on the bridge; a QEMU started in the namespace opens it by name."""
        self.ip("tuntap", "add", "dev", name, "mode", "tap")
        self.taps.append(name)
        self.ip("link", "set", name, "mtu", str(MTU), "master", BRIDGE, "up")
        return name

    def drops(self) -> dict[str, dict[str, int]]:
        """Per link of the namespace, the frames the kernel dropped (``rx``/``tx``) so far."""
        out = subprocess.run(["ip", "-n", self.name, "-s", "-j", "link", "show"], check=True,
                             capture_output=True, text=True).stdout
        return {link["ifname"]: {way: link["stats64"][way]["dropped"] for way in ("rx", "tx")}
                for link in json.loads(out) if "stats64" in link}

    def capture(self, path: Path, interface: str = BRIDGE, expression: str = "") -> subprocess.Popen[bytes]:
        """Start tcpdump on ``interface`` writing full frames to ``path``; ``stop_captures`` ends it."""
        argv = ["tcpdump", "-i", interface, "-s", "0", "-U", "-n", "-w", str(path)]
        if expression:
            argv.append(expression)
        log = path.with_suffix(".tcpdump.log")
        proc = subprocess.Popen(self.exec_argv(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log.open("wb"))
        self._captures.append(proc)
        deadline = time.monotonic() + 20
        while "listening on" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop_captures()
                raise RuntimeError(f"tcpdump did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)
        return proc

    def stop_captures(self) -> None:
        """Stop every tcpdump this namespace started (by PID), flushing its file."""
        for proc in self._captures:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._captures.clear()

    def close(self) -> None:
        """Stop captures and delete the namespace with its bridge and taps."""
        self.stop_captures()
        for tap in self.taps:
            subprocess.run(["ip", "-n", self.name, "link", "del", tap], check=False, capture_output=True)
        self.taps.clear()
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
