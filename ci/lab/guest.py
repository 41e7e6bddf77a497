"""Run one script in a throw-away QEMU guest booted from the lab image and collect its result.

The guest boots Debian's kernel with ``init=/sbin/lab-init`` (see ``lab-init``); the rootfs is opened with
``snapshot=on`` so every run starts from the same image. The per-run directory is shared over 9p as ``/lab``
(``run.sh`` in, ``out.log`` and ``rc`` out) and the project tree read-only as ``/src``. QEMU is always ended
by its own PID; on failure its console log is kept.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ci.lab.image import LabImage

REPO = Path(__file__).resolve().parents[2]
#: Where the forwarded ports of the host's 127.0.0.1 appear to a guest on QEMU user-mode networking.
#: (QEMU's own host alias 10.0.2.2 cannot carry ``guestfwd`` rules, and ``restrict=on`` closes it.)
USER_NET_HOST = "10.0.2.100"
#: The guest's own address on QEMU user-mode networking.
USER_NET_GUEST = "10.0.2.15"
ACCEL_ENV = "HPT_LAB_ACCEL"
ARTIFACTS_ENV = "HPT_LAB_ARTIFACTS"
DEFAULT_TIMEOUT = 180.0


@dataclass(frozen=True)
class UserNet:
    """QEMU user-mode networking on a virtio NIC: the guest is 10.0.2.15/24.

    The network is restricted (``restrict=on``): the guest reaches nothing outside itself except the
    host loopback ports listed in ``forwards``, each forwarded with ``guestfwd`` through ``socat`` to
    127.0.0.1 and seen by the guest at ``USER_NET_HOST`` (10.0.2.100). With no forwards the guest has
    no way out at all (soft-RoCE and other single-guest scenarios only need an address).
    """

    forwards: tuple[int, ...] = ()
    mac: str = "52:54:00:12:34:56"

    def netdev(self, ident: str) -> str:
        opts = [f"user,id={ident},net=10.0.2.0/24,restrict=on"]
        for port in self.forwards:
            opts.append(f"guestfwd=tcp:{USER_NET_HOST}:{port}-cmd:socat - TCP:127.0.0.1:{port}")
        return ",".join(opts)


@dataclass(frozen=True)
class TapNet:
    """A virtio NIC on an existing tap device (created in the network namespace the guest runs in)."""

    tap: str
    mac: str

    def netdev(self, ident: str) -> str:
        return f"tap,id={ident},ifname={self.tap},script=no,downscript=no"


Nic = UserNet | TapNet


@dataclass
class GuestSpec:
    """Everything needed to boot one guest and run ``script`` (POSIX sh) as its workload."""

    image: LabImage
    workdir: Path
    script: str
    name: str = "guest"
    env: Mapping[str, str] = field(default_factory=dict)
    nics: Sequence[Nic] = (UserNet(),)
    ip: str | None = None
    memory_mib: int = 1024
    cpus: int = 1
    # -icount shift: the guest's clock counts its instructions (2**shift ns each) while it runs, so a
    # CPU-bound run's guest-timed figures measure the work done, not the host's load (TCG only)
    icount: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    netns: str | None = None
    shares: Mapping[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ip is None and self.nics and isinstance(self.nics[0], UserNet):
            self.ip = f"{USER_NET_GUEST}/24"


@dataclass(frozen=True)
class GuestResult:
    """What a guest run produced. ``rc`` is None when the script never finished."""

    name: str
    rc: int | None
    output: str
    seconds: float
    guest_seconds: float | None
    timed_out: bool
    console_log: Path

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self, tail: int = 60) -> str:
        """A failure report: status, the script's output and the tail of the console log."""
        status = "timed out" if self.timed_out else f"exit status {self.rc}"
        console = ""
        if self.console_log.is_file():
            lines = self.console_log.read_text(errors="replace").splitlines()
            console = "\n".join(lines[-tail:])
        return (f"guest {self.name}: {status} after {self.seconds:.1f} s\n"
                f"--- script output ---\n{self.output}\n--- console ({self.console_log}) ---\n{console}")


def qemu_binary() -> str | None:
    """Path of qemu-system-x86_64, or None when QEMU is not installed."""
    return shutil.which("qemu-system-x86_64")


def _accel_args(icount: int | None) -> list[str]:
    if os.environ.get(ACCEL_ENV, "tcg") == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    if icount is not None:  # (instruction counting needs the one TCG thread; idle time stays real time)
        return ["-accel", "tcg,thread=single", "-icount", f"shift={icount},align=off,sleep=on", "-cpu", "max"]
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


class Guest:
    """One QEMU process. ``start()`` boots it, ``wait()`` collects the result and always ends QEMU."""

    def __init__(self, spec: GuestSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.finished: float | None = None
        self.timed_out = False
        self.share = spec.workdir / "share"
        self.console_log = spec.workdir / "console.log"

    def command(self) -> list[str]:
        spec = self.spec
        qemu = qemu_binary()
        if qemu is None:
            raise RuntimeError("qemu-system-x86_64 is not installed")
        append = "root=/dev/vda rw console=ttyS0 init=/sbin/lab-init net.ifnames=0 panic=-1 quiet loglevel=4"
        if spec.ip:
            append += f" lab.ip={spec.ip}"
        argv = [
            qemu, "-name", spec.name, "-machine", "q35", *_accel_args(spec.icount),
            "-smp", str(spec.cpus), "-m", str(spec.memory_mib),
            "-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{self.console_log}",
            "-kernel", str(spec.image.kernel), "-initrd", str(spec.image.initrd), "-append", append,
            "-drive", f"file={spec.image.rootfs},if=virtio,format=raw,snapshot=on",
            "-virtfs", f"local,path={self.share},mount_tag=lab,security_model=none",
            "-virtfs", f"local,path={REPO},mount_tag=src,security_model=none,readonly=on",
        ]
        for tag, path in spec.shares.items():
            argv += ["-virtfs", f"local,path={path},mount_tag={tag},security_model=none"]
        for index, nic in enumerate(spec.nics):
            argv += ["-netdev", nic.netdev(f"n{index}"),
                     # romfile= : no PXE option ROM (the kernel is booted directly; ipxe-qemu not needed).
                     # event_idx=off: with event index notifications, QEMU 7.2 under TCG stopped taking the
                     # guest's transmit queue for good part-way through sustained FCoE transfers (guest:
                     # NETDEV WATCHDOG, no frame on the tap after it; 3 runs out of 3). Without, none did.
                     "-device", f"virtio-net-pci,netdev=n{index},mac={nic.mac},romfile=,event_idx=off"]
        if spec.netns:
            argv = ["ip", "netns", "exec", spec.netns, *argv]
        return argv

    def _write_script(self) -> None:
        self.share.mkdir(parents=True, exist_ok=True)
        for stale in ("rc", "rc.tmp", "out.log", "started", "finished"):
            (self.share / stale).unlink(missing_ok=True)
        env = {"LAB_HOST": USER_NET_HOST, "PYTHONPATH": "/src", "PYTHONDONTWRITEBYTECODE": "1",
               **self.spec.env}
        prologue = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
        (self.share / "run.sh").write_text(prologue + self.spec.script)

    def start(self) -> None:
        """Boot the guest in the background."""
        self._write_script()
        self.finished, self.timed_out = None, False
        self.started = time.monotonic()
        # ``ip netns exec`` execs QEMU in place, so the PID below is QEMU's own.
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=(self.spec.workdir / "qemu.stderr").open("wb"))

    def kill(self) -> None:
        """End QEMU by its PID (SIGTERM, then SIGKILL) if it is still running."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def poll(self) -> bool:
        """True once the guest has powered off or run past its timeout (QEMU is then ended)."""
        proc = self.proc
        if proc is None:
            raise RuntimeError("guest not started")
        if self.finished is not None:
            return True
        now = time.monotonic()
        if proc.poll() is None and now < self.started + self.spec.timeout:
            return False
        self.timed_out = proc.poll() is None
        self.finished = now
        self.kill()
        return True

    def wait(self) -> GuestResult:
        """Wait until the guest powers off or the timeout passes, end QEMU and return the result."""
        proc = self.proc
        if proc is None:
            raise RuntimeError("guest not started")
        try:
            proc.wait(timeout=max(0.0, self.started + self.spec.timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        self.poll()
        return self.result()

    def result(self) -> GuestResult:
        """The result once ``poll()`` returned True; the console log is kept only on failure."""
        if self.finished is None:
            raise RuntimeError("guest still running")
        result = GuestResult(
            name=self.spec.name, rc=_read_int(self.share / "rc"), output=_read_text(self.share / "out.log"),
            seconds=self.finished - self.started, guest_seconds=_read_float(self.share / "finished"),
            timed_out=self.timed_out, console_log=self.console_log,
        )
        _keep_console(result)
        return result

    def __enter__(self) -> Guest:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def run_guest(spec: GuestSpec) -> GuestResult:
    """Boot a guest, run its script to the end (or the timeout) and return the result."""
    with Guest(spec) as guest:
        return guest.wait()


def run_guests(specs: Sequence[GuestSpec]) -> list[GuestResult]:
    """Boot several guests at once and wait for all; each keeps its own timeout."""
    guests = [Guest(spec) for spec in specs]
    try:
        for guest in guests:
            guest.start()
        while not all([guest.poll() for guest in guests]):
            time.sleep(0.1)
        return [guest.result() for guest in guests]
    finally:
        for guest in guests:
            guest.kill()


def _keep_console(result: GuestResult) -> None:
    """Drop the console log of a passing run; copy a failing run's log to ``$HPT_LAB_ARTIFACTS``."""
    if result.ok:
        result.console_log.unlink(missing_ok=True)
        return
    artifacts = os.environ.get(ARTIFACTS_ENV)
    if artifacts and result.console_log.is_file():
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(result.console_log, Path(artifacts) / f"console-{result.name}-{os.getpid()}.log")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _read_int(path: Path) -> int | None:
    text = _read_text(path).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _read_float(path: Path) -> float | None:
    try:
        return float(_read_text(path).strip())
    except ValueError:
        return None
