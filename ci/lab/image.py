"""Lab guest image: a pruned Debian bookworm rootfs on ext4 plus Debian's own kernel and initrd.

The image is built unattended (debootstrap, then ``apt-get install --no-install-recommends`` in a chroot) and
cached under ``$HPT_LAB_CACHE`` (default ``~/.cache/hpt-lab``) in a directory named by the hash of its inputs:
the package list, the PID-1 script, the prune list and the builder version. It is rebuilt only when that hash
changes. The installed base (stage 1, keyed by the package list alone) is kept too, so changing the init
script or the prune list costs seconds, not a new debootstrap.

A build runs four stages and reports each (what it does, how far it is, how long it took): base debootstrap,
package install (these two make the base), finishing (init script, pruning, initrd) and mkfs. A build that
fails leaves ``build-KEY.failed`` with the reason, which the lab tests give when they skip.

Command line: ``python -m ci.lab.image build|key|path|check``.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES_FILE = HERE / "guest-packages.txt"
INIT_SCRIPT = HERE / "lab-init"
SUITE = "bookworm"
#: Bump when the base stage (debootstrap + package installation) changes.
BASE_VERSION = "1"
#: Bump when the finishing stage (configuration, pruning, file system) changes.
BUILDER_VERSION = "1"
CACHE_ENV = "HPT_LAB_CACHE"

#: Kernel module trees the lab never loads (paths under /usr/lib/modules/KVER/kernel).
PRUNED_MODULE_DIRS = (
    "sound", "drivers/gpu", "drivers/media", "drivers/usb", "drivers/net/wireless", "drivers/net/ethernet",
    "drivers/net/usb", "drivers/net/can", "drivers/net/wwan", "drivers/bluetooth", "drivers/infiniband/hw",
    "drivers/staging", "drivers/iio", "drivers/isdn", "drivers/mmc", "drivers/mtd", "drivers/nfc",
    "drivers/hwmon", "drivers/input/touchscreen", "drivers/input/joystick", "drivers/video",
    "net/wireless", "net/mac80211", "net/bluetooth",
)
#: SCSI low-level drivers kept: the software transports the lab exercises.
KEPT_SCSI_SUBDIRS = ("libfc", "fcoe", "device_handler")
#: Files and directories of the rootfs that only cost space.
PRUNED_PATHS = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "var/cache/apt", "var/lib/apt/lists", "var/log", "usr/lib/firmware",
)
INITRD_MODULES = ("virtio_pci", "virtio_blk", "ext4")
#: The build's stages, in order, as reported while building.
STAGES = ("base debootstrap", "package install", "finishing", "mkfs")
#: Seconds between progress lines while one build command runs.
PROGRESS_INTERVAL = 20.0

#: Receives one line of build progress at a time.
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class LabImage:
    """A built image: kernel, initrd and ext4 rootfs, with the manifest written at build time."""

    directory: Path

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def rootfs(self) -> Path:
        return self.directory / "rootfs.img"

    @property
    def manifest(self) -> dict[str, object]:
        return json.loads((self.directory / "manifest.json").read_text())


def cache_dir() -> Path:
    """The cache directory: ``$HPT_LAB_CACHE`` or ``~/.cache/hpt-lab``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hpt-lab")


def guest_packages() -> list[str]:
    """The guest package list, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in PACKAGES_FILE.read_text().splitlines())
    return [line for line in lines if line]


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:16]


def base_key() -> str:
    """Key of stage 1: suite, base version and package list."""
    return _digest(SUITE, BASE_VERSION, "\n".join(guest_packages()))


def image_key() -> str:
    """Key of the finished image: stage 1 key plus everything the finishing stage reads."""
    return _digest(
        base_key(), BUILDER_VERSION, INIT_SCRIPT.read_bytes(), "\n".join(PRUNED_MODULE_DIRS),
        "\n".join(KEPT_SCSI_SUBDIRS), "\n".join(PRUNED_PATHS), "\n".join(INITRD_MODULES),
    )


def find_image(cache: Path | None = None) -> LabImage | None:
    """The cached image for the current inputs, or None when it has not been built."""
    directory = (cache or cache_dir()) / f"image-{image_key()}"
    image = LabImage(directory)
    if all(p.is_file() for p in (image.kernel, image.initrd, image.rootfs, directory / "manifest.json")):
        return image
    return None


def missing_build_tools() -> list[str]:
    """Host programs (or privileges) the build needs and does not have."""
    missing = [tool for tool in ("debootstrap", "mkfs.ext4", "chroot") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root privileges")
    return missing


class BuildError(RuntimeError):
    """A build step failed; the message names the step, its last output and the log file."""


def _failure_file(cache: Path) -> Path:
    return cache / f"build-{image_key()}.failed"


def build_failure(cache: Path | None = None) -> str | None:
    """Why the last build of the current inputs failed, or None when it did not (or never ran)."""
    path = _failure_file(cache or cache_dir())
    return (path.read_text().strip() or "unknown error") if path.is_file() else None


def describe(image: LabImage) -> str:
    """One line naming a built image: key, when it was built, how long that took, its size on disk."""
    manifest = image.manifest
    built_at = str(manifest.get("built_at", "?")).replace("T", " ").replace("Z", " UTC")
    size = _mib(int(manifest.get("rootfs_allocated_bytes", 0)))  # type: ignore[call-overload]
    return (f"({manifest.get('key')}), built {built_at} in {manifest.get('build_seconds')} s, {size} MiB, "
            f"{image.directory}")


def _mib(n: int) -> int:
    return round(n / (1 << 20))


def _quiet(_line: str) -> None:
    pass


def _apt_progress(text: str) -> str:
    """Progress of ``apt-get install`` from its output so far: packages set up of those to install."""
    lines = text.splitlines()
    totals = [int(found[1]) for line in lines if (found := re.search(r"(\d+) newly installed", line))]
    if not totals:
        return ""
    return f"{sum(line.startswith('Setting up ') for line in lines)}/{totals[-1]} packages set up"


def _debootstrap_progress(text: str) -> str:
    """Progress of debootstrap from its output so far: the packages it fetched, unpacked and configured."""
    verbs = (("Retrieving", "retrieved"), ("Unpacking", "unpacked"), ("Configuring", "configured"))
    return ", ".join(f"{n} {done}" for verb, done in verbs if (n := text.count(f"I: {verb} ")))


class _Builder:
    def __init__(self, cache: Path, log: Path, report: Reporter) -> None:
        self.cache = cache
        self.log_path = log
        self.report = report
        self.stage_seconds: dict[str, float] = {}
        self._stage = ""
        self._stage_prefix = "lab image"
        self._stage_started = 0.0

    def stage(self, index: int, detail: str) -> None:
        """Start stage ``index`` (0-based) of STAGES, ending the one before."""
        self.end_stage()
        self._stage = STAGES[index]
        self._stage_prefix = f"lab image [{index + 1}/{len(STAGES)}] {self._stage}"
        self._stage_started = time.monotonic()
        self.report(f"{self._stage_prefix}: {detail}")

    def end_stage(self) -> None:
        if self._stage:
            seconds = round(time.monotonic() - self._stage_started, 1)
            self.stage_seconds[self._stage] = seconds
            self.report(f"{self._stage_prefix}: done in {seconds:.0f} s")
        self._stage = ""

    def cached_stage(self, index: int, base: Path) -> None:
        self.report(f"lab image [{index + 1}/{len(STAGES)}] {STAGES[index]}: cached ({base.name})")

    def run(self, *argv: str, chroot: Path | None = None, env: dict[str, str] | None = None,
            progress: Callable[[str], str] | None = None) -> None:
        """Run one build command with its output in the log; report how far it is every PROGRESS_INTERVAL."""
        cmd = ["chroot", str(chroot), *argv] if chroot else list(argv)
        full_env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8", "HOME": "/root",
            **(env or {}),
        }
        started = time.monotonic()
        with self.log_path.open("a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            offset = log.tell()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=full_env)
            try:
                while True:
                    try:
                        rc = proc.wait(timeout=PROGRESS_INTERVAL)
                        break
                    except subprocess.TimeoutExpired:
                        output = self._output_since(offset)
                        self._report_progress(time.monotonic() - started, output, progress)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if rc != 0:
            tail = [line.strip() for line in self._output_since(offset).splitlines() if line.strip()][-3:]
            raise BuildError(f"`{' '.join(cmd[:4])}{' ...' if len(cmd) > 4 else ''}` exited {rc}: "
                             f"{' | '.join(tail) or 'no output'} (log: {self.log_path})")

    def _report_progress(self, seconds: float, output: str, progress: Callable[[str], str] | None) -> None:
        parts = [f"{seconds:.0f} s"]
        if progress and (how_far := progress(output)):
            parts.append(how_far)
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if lines:
            parts.append(f"last: {lines[-1][:80]}")
        self.report(f"{self._stage_prefix}: ... {'; '.join(parts)}")

    def _output_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def base(self, key: str) -> Path:
        """Stage 1: debootstrap plus the guest packages, kept as a directory tree under the cache."""
        final = self.cache / f"base-{key}"
        if (final / ".complete").is_file():
            self.cached_stage(0, final)
            self.cached_stage(1, final)
            return final
        work = self.cache / f"base-{key}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        self.stage(0, f"debootstrap --variant=minbase {SUITE} from Debian's archive ...")
        self.run("debootstrap", "--variant=minbase", SUITE, str(work), progress=_debootstrap_progress)
        policy = work / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (work / "etc/apt/apt.conf.d/90lab").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
        initramfs = work / "etc/initramfs-tools"
        (initramfs / "conf.d").mkdir(parents=True, exist_ok=True)
        (initramfs / "conf.d/lab").write_text("MODULES=list\nCOMPRESS=gzip\n")
        (initramfs / "modules").write_text("\n".join(INITRD_MODULES) + "\n")
        self.stage(1, f"apt-get install of {len(guest_packages())} packages and their dependencies ...")
        self.run("apt-get", "install", "-y", "-q", *guest_packages(), chroot=work, progress=_apt_progress)
        self.run("apt-get", "clean", chroot=work)
        (work / ".complete").write_text(key)
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
        self.end_stage()
        return final

    def finish(self, base: Path, key: str) -> Path:
        """Stage 2: copy the base, install the init script, prune, build initrd and ext4 image."""
        work = self.cache / f"image-{key}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        root = work / "root"
        work.mkdir(parents=True)
        self.stage(2, f"copy of {base.name}, lab-init, pruning, depmod, initramfs ...")
        self.run("cp", "-a", f"{base}/.", str(root))
        (root / ".complete").unlink()
        shutil.copy(INIT_SCRIPT, root / "sbin/lab-init")
        (root / "sbin/lab-init").chmod(0o755)
        for mount_point in ("lab", "src"):
            (root / mount_point).mkdir(exist_ok=True)
        (root / "etc/hostname").write_text("lab\n")
        kver = _kernel_version(root)
        self._prune(root, kver)
        self.run("depmod", "-a", kver, chroot=root)
        self.run("update-initramfs", "-u", "-k", kver, chroot=root)
        shutil.copy(root / f"boot/vmlinuz-{kver}", work / "vmlinuz")
        shutil.copy(root / f"boot/initrd.img-{kver}", work / "initrd.img")
        for boot_file in (root / "boot").iterdir():
            if boot_file.name.startswith(("initrd.img", "System.map")):
                boot_file.unlink()
        used = _tree_bytes(root)
        size_mib = (used * 3 // 2) // (1 << 20) + 256
        self.stage(3, f"mkfs.ext4 -d: {_mib(used)} MiB of files into a {size_mib} MiB file system ...")
        self.run("mkfs.ext4", "-q", "-F", "-L", "labroot", "-d", str(root), str(work / "rootfs.img"),
                 f"{size_mib}M")
        shutil.rmtree(root)
        self.end_stage()
        return work

    def _prune(self, root: Path, kver: str) -> None:
        kernel = root / "usr/lib/modules" / kver / "kernel"
        for rel in PRUNED_MODULE_DIRS:
            shutil.rmtree(kernel / rel, ignore_errors=True)
        for sub in (kernel / "drivers/scsi").iterdir():
            if sub.is_dir() and sub.name not in KEPT_SCSI_SUBDIRS:
                shutil.rmtree(sub)
        for rel in PRUNED_PATHS:
            path = root / rel
            if path.is_dir():
                shutil.rmtree(path)
                path.mkdir()


def _kernel_version(root: Path) -> str:
    versions = sorted(p.name for p in (root / "usr/lib/modules").iterdir() if p.is_dir())
    if len(versions) != 1:
        raise BuildError(f"expected one kernel in the image, found {versions}")
    return versions[0]


def _tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.lstat(path).st_size
    return total


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_image(cache: Path | None = None, report: Reporter | None = None) -> LabImage:
    """Return the cached image for the current inputs, building it first if needed (root, debootstrap).

    ``report`` receives progress lines: one saying the image is cached, or each stage of the build. A failed
    build raises BuildError and leaves its message in ``build-KEY.failed`` (see ``build_failure``).
    """
    cache = cache or cache_dir()
    report = report or _quiet
    with _locked(cache):
        found = find_image(cache)
        if found:
            report(f"lab image: cached {describe(found)}")
            return found
        try:
            image = _build(cache, report)
        except (BuildError, OSError) as exc:
            message = str(exc) if isinstance(exc, BuildError) else f"{type(exc).__name__}: {exc}"
            _failure_file(cache).write_text(message + "\n")
            raise BuildError(message) from exc
        _failure_file(cache).unlink(missing_ok=True)
        return image


def _build(cache: Path, report: Reporter) -> LabImage:
    missing = missing_build_tools()
    if missing:
        raise BuildError(f"missing {', '.join(missing)}")
    key = image_key()
    log = cache / f"build-{key}.log"
    log.write_text("")
    report(f"lab image: building {key} under {cache} (commands and their output: {log})")
    builder = _Builder(cache, log, report)
    started = time.monotonic()
    base = builder.base(base_key())
    base_seconds = time.monotonic() - started
    work = builder.finish(base, key)
    rootfs = work / "rootfs.img"
    manifest = {
        "key": key, "base_key": base_key(), "suite": SUITE, "packages": guest_packages(),
        "build_seconds": round(time.monotonic() - started, 1), "base_seconds": round(base_seconds, 1),
        "stage_seconds": builder.stage_seconds,
        "rootfs_bytes": rootfs.stat().st_size, "rootfs_allocated_bytes": rootfs.stat().st_blocks * 512,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    final = cache / f"image-{key}"
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    _drop_stale(cache, keep={final.name, f"base-{base_key()}", log.name})
    image = LabImage(final)
    report(f"lab image: ready {describe(image)}")
    return image


def _drop_stale(cache: Path, keep: set[str]) -> None:
    """Remove images, bases and logs of older inputs so the cache holds one generation."""
    for entry in cache.iterdir():
        if entry.name.startswith(("image-", "base-", "build-")) and entry.name not in keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.lab.image", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "key", "path", "check"),
                        help="build: build unless cached, reporting each stage; key: print the input "
                             "hash; path: print the cached image directory; check: exit 1 unless the image "
                             "is cached")
    args = parser.parse_args(argv)
    if args.action == "key":
        print(image_key())
        return 0
    if args.action == "build":
        try:
            build_image(report=functools.partial(print, flush=True))
        except BuildError as exc:
            print(f"lab image: not built: {exc}", file=sys.stderr)
            return 1
        return 0
    image = find_image()
    if image is None:
        print(f"no lab image for key {image_key()} under {cache_dir()}", file=sys.stderr)
        return 1
    print(image.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
