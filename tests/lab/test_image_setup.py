"""The test command's lab step from a clean state: it builds the guest image once, and a second run reuses it.

The step is ``python -m ci.lab.image build``, run here as ``ci/test.sh`` runs it, with ``HPT_LAB_CACHE`` set
to a new empty directory. The first run is a full cold build (debootstrap from Debian's archive, package
install, finishing, mkfs: about two minutes on a 2-core machine); the temporary cache is removed afterwards
and the real one is not touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci.lab.image import CACHE_ENV, STAGES, build_failure, find_image, image_key, missing_build_tools

REPO = Path(__file__).resolve().parents[2]
LAB_STEP = ("-m", "ci.lab.image", "build")
#: A cold build takes about two minutes; this bounds a stuck one.
BUILD_TIMEOUT = 1200


def run_lab_step(cache: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the lab step of ``ci/test.sh`` with its cache at ``cache``; return its result and wall time."""
    started = time.monotonic()
    env = dict(os.environ, **{CACHE_ENV: str(cache)})
    done = subprocess.run([sys.executable, *LAB_STEP], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, check=False)
    return done, time.monotonic() - started


def file_states(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Inode, size and modification time of each file in ``directory``: any rewrite changes them."""
    return {path.name: (path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(directory.iterdir())}


@pytest.mark.lab
def test_lab_step_builds_the_image_once_then_reuses_it(tmp_path: Path) -> None:
    assert f'"$PY" {" ".join(LAB_STEP)}' in (REPO / "ci/test.sh").read_text(), \
        "ci/test.sh no longer runs the lab step this test checks"
    missing = missing_build_tools()
    if missing:
        pytest.skip(f"lab: cannot build the guest image, missing {', '.join(missing)}")
    failure = build_failure()
    if failure and not (os.environ.get("CI") or os.environ.get("HPT_LAB_BUILD") == "1"):
        pytest.skip(f"lab: the guest image could not be built: {failure}")
    cache = tmp_path / "hpt-lab"
    key = image_key()
    try:
        first, first_seconds = run_lab_step(cache)
        output = first.stdout + first.stderr
        assert first.returncode == 0, f"the lab step failed:\n{output}"
        assert f"lab image: building {key} under {cache}" in output, output
        for number, stage in enumerate(STAGES, 1):
            assert f"lab image [{number}/{len(STAGES)}] {stage}: done in " in output, output
        assert f"lab image: ready ({key})" in output, output
        image = find_image(cache)
        assert image is not None, f"no complete image under {cache}: {sorted(os.listdir(cache))}"
        manifest = image.manifest
        assert manifest["key"] == key
        assert set(manifest["stage_seconds"]) == set(STAGES)  # type: ignore[arg-type]
        assert image.kernel.stat().st_size > 1 << 20 and image.initrd.stat().st_size > 1 << 20
        assert image.rootfs.stat().st_size > 100 << 20
        before = file_states(image.directory)
        entries = sorted(path.name for path in cache.iterdir())

        second, second_seconds = run_lab_step(cache)
        output = second.stdout + second.stderr
        assert second.returncode == 0, f"the second lab step failed:\n{output}"
        lines = output.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"lab image: cached ({key}), built "), output
        assert second_seconds < min(10.0, first_seconds / 5), (
            f"a cached run took {second_seconds:.1f} s after a build of {first_seconds:.1f} s")
        assert file_states(image.directory) == before, "the cached run rewrote the image"
        assert sorted(path.name for path in cache.iterdir()) == entries
        print(f"cold build {first_seconds:.1f} s, cached run {second_seconds:.1f} s")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
