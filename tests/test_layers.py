"""hpt's layers as import-linter contracts (``[tool.importlinter]`` in pyproject.toml): they hold for the
code as it is, and the check fails when a copy of the code breaks one of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"
CONTRACTS = {
    "layers": "hpt: daemon > admin client > iSER > protocol cores > SCSI engine > stores and media > "
              "native code, option schemas",
    "drivers": "Transport drivers sit above their protocol cores: no core module imports a driver",
    "transports": "Transport drivers are independent of each other",
    "daemon": "Nothing outside hpt.daemon imports hpt.daemon",
    "admin": "hptadm speaks to hptd through its socket only: hpt.admin imports no engine",
    "testing": "The test fixtures drive hptd as a process: hpt.testing imports no engine",
    "scsi": "SCSI engine: targets and profiles > device types > SPC > the LU > reservations > core",
}


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts over the ``hpt`` package found from ``cwd``."""
    script = Path(sys.executable).parent / "lint-imports"
    command = str(script) if script.exists() else shutil.which("lint-imports")
    assert command, "lint-imports is not installed: pip install -e .[test] (import-linter)"
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "200"}
    return subprocess.run([command, "--config", str(CONFIG), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def verdicts(output: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from the report."""
    flat = " ".join(output.split())
    found = {}
    for key, name in CONTRACTS.items():
        for verdict in ("KEPT", "BROKEN"):
            if f"{name} {verdict}" in flat:
                found[key] = verdict
    return found


def test_the_layers_hold() -> None:
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert verdicts(run.stdout) == dict.fromkeys(CONTRACTS, "KEPT"), run.stdout
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the hpt package's sources, to break."""
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.c")
    shutil.copytree(ROOT / "hpt", tmp_path / "hpt", ignore=skip)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "broken", "reported"),
    [
        ("store/base.py", "import hpt.scsi.lu", {"layers"}, "hpt.store.base -> hpt.scsi.lu"),
        ("scsi/core/sense.py", "from hpt.scsi import lu", {"scsi"}, "hpt.scsi.core.sense -> hpt.scsi.lu"),
        ("scsi/spc/vpd.py", "import hpt.scsi.sbc.common", {"scsi"}, "hpt.scsi.spc.vpd -> hpt.scsi.sbc"),
        ("iscsi/connection.py", "import hpt.iscsi.tcp", {"drivers"}, "hpt.iscsi.connection -> hpt.iscsi.tcp"),
        ("fcoe/port.py", "import hpt.fcoe.packet", {"drivers"}, "hpt.fcoe.port -> hpt.fcoe.packet"),
        ("iser/cm.py", "import hpt.iscsi.tcp", {"transports"}, "hpt.iser.cm -> hpt.iscsi.tcp"),
        ("options.py", "import hpt.daemon.config", {"layers", "daemon"}, "hpt.options -> hpt.daemon.config"),
        ("daemon/main.py", "import hpt.testing.plugin", {"layers"}, "hpt.daemon.main -> hpt.testing.plugin"),
        ("testing/target.py", "import hpt.scsi.core.faults", {"testing"},
         "hpt.testing.target -> hpt.scsi.core.faults"),
        ("scsi/core/cdb.py", "def f():\n    import hpt.store.ram", set(), ""),  # downward: allowed
    ],
)
def test_an_upward_import_breaks_its_contract(tree: Path, module: str, line: str, broken: set[str],
                                              reported: str) -> None:
    with (tree / "hpt" / module).open("a") as f:
        f.write(f"\n{line}\n")
    run = lint_imports(tree)
    found = verdicts(run.stdout)
    assert set(found) == set(CONTRACTS), run.stdout
    # the contract the import breaks first; an indirect chain through it may break others too
    assert broken <= {k for k, verdict in found.items() if verdict == "BROKEN"}, run.stdout
    assert run.returncode == (1 if broken else 0)
    assert reported in run.stdout


def test_a_module_outside_every_layer_breaks_the_contract(tree: Path) -> None:
    (tree / "hpt" / "scsi" / "stray.py").write_text('"""A module no layer lists."""\n')
    run = lint_imports(tree)
    assert run.returncode == 1 and verdicts(run.stdout)["scsi"] == "BROKEN"
    assert "hpt.scsi.stray" in run.stdout and "not listed as layers" in " ".join(run.stdout.split())


def test_annotation_only_imports_do_not_count(tree: Path) -> None:
    """An import under ``if TYPE_CHECKING:`` (a type in an annotation) is no dependency."""
    with (tree / "hpt" / "store" / "base.py").open("a") as f:
        f.write("\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import hpt.scsi.lu\n")
    run = lint_imports(tree)
    assert run.returncode == 0, run.stdout
