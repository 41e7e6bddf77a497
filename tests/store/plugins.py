"""Installing a store plug-in the way pip does, into a directory put on ``sys.path``.

pip leaves a plug-in's modules and a ``NAME-VERSION.dist-info`` directory in site-packages;
``importlib.metadata`` finds its entry points in ``entry_points.txt``. :func:`install` writes the
same files into ``site`` and clears the store registry's cache so that the next look-up sees them.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Mapping
from pathlib import Path

from hpt.store import registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "store-plugin"


def install(site: Path, name: str, version: str, modules: Mapping[str, str],
            entry_points: Mapping[str, str]) -> Path:
    """Write ``modules`` (module name -> source) and the dist-info of distribution ``name`` whose
    ``hpt.stores`` entry points are ``entry_points`` (name -> ``module:attribute``)."""
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{registry.GROUP}]\n{lines}")
    (info / "INSTALLER").write_text("pip\n")
    files = [f"{m}.py" for m in modules] + [f"{info.name}/{f}" for f in ("METADATA", "entry_points.txt")]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    importlib.invalidate_caches()
    registry.clear_cache()
    return info


def install_example(site: Path) -> None:
    """The plug-in of ``examples/store-plugin``, as ``pip install examples/store-plugin`` leaves it."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    modules = {"hpt_chunkstore": (EXAMPLE / "hpt_chunkstore.py").read_text()}
    install(site, project["name"], project["version"], modules,
            project["entry-points"][registry.GROUP])
