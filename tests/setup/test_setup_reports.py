"""What the test command reports about its own set-up: the skip table that ends a run, and the lab image
builder's progress lines and recorded failures (without building anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.lab import image as image_mod

pytest_plugins = ("pytester",)

SUITE = """
import pytest

def test_runs():
    pass

@pytest.mark.skip(reason="no RDMA device")
def test_rdma():
    pass

@pytest.mark.parametrize("n", range(3))
def test_lab(n):
    pytest.skip("lab: no guest image")
"""


def test_run_ends_with_skips_grouped_by_reason(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import pytest_terminal_summary  # noqa: F401\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-q", "-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4)
    lines = result.outlines
    table = lines.index(next(line for line in lines if "skipped tests" in line))
    assert lines[table + 1:table + 5] == ["4 skipped, 2 reasons:", "count  reason",
                                          "    3  lab: no guest image", "    1  no RDMA device"]
    assert "short test summary info" in "".join(lines[:table]), "the table comes after pytest's summary"
    assert lines[table + 5].startswith("1 passed, 4 skipped")


def test_run_without_skips_says_so(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import pytest_terminal_summary  # noqa: F401\n")
    pytester.makepyfile(test_suite="def test_runs():\n    pass\n")
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert any(line.strip("= ") == "no tests skipped" for line in result.outlines)


def test_build_progress_counts_packages() -> None:
    debootstrap = ("I: Retrieving InRelease\nI: Retrieving libc6 2.36\nI: Retrieving zlib1g\n"
                   "I: Unpacking libc6...\n")
    assert image_mod._debootstrap_progress(debootstrap) == "3 retrieved, 1 unpacked"
    apt = ("Reading package lists...\n0 upgraded, 82 newly installed, 0 to remove and 0 not upgraded.\n"
           "Setting up libc6 ...\nSetting up kmod ...\nUnpacking tgt ...\n")
    assert image_mod._apt_progress(apt) == "2/82 packages set up"
    assert image_mod._apt_progress("Reading package lists...\n") == ""


def test_failed_build_leaves_its_reason_and_a_cached_image_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_mod, "missing_build_tools", lambda: ["debootstrap"])
    lines: list[str] = []
    with pytest.raises(image_mod.BuildError, match="missing debootstrap"):
        image_mod.build_image(tmp_path, report=lines.append)
    assert image_mod.build_failure(tmp_path) == "missing debootstrap"
    # A build that finds its image (here: files put in place by hand) reports it in one line.
    directory = tmp_path / f"image-{image_mod.image_key()}"
    directory.mkdir()
    for name in ("vmlinuz", "initrd.img", "rootfs.img"):
        (directory / name).write_bytes(b"x")
    (directory / "manifest.json").write_text(
        '{"key": "k", "built_at": "2026-12-05T00:56:07Z", "build_seconds": 103.9, '
        '"rootfs_allocated_bytes": 425897984}')
    image_mod.build_image(tmp_path, report=lines.append)
    assert lines == [f"lab image: cached (k), built 2026-12-05 00:56:07 UTC in 103.9 s, 406 MiB, {directory}"]
