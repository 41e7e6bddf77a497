"""open_store: picking a store by kind, and the combinations it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.store import FileStore, NullStore, RamStore, open_store


def test_kinds(tmp_path: Path) -> None:
    stores = [
        open_store("file", str(tmp_path / "a.img"), 8192, False, False),
        open_store("ram", None, 8192, False, False),
        open_store("null", None, 8192, True, False),
    ]
    assert [type(s) for s in stores] == [FileStore, RamStore, NullStore]
    assert [s.size for s in stores] == [8192] * 3
    assert stores[2].readonly
    for s in stores:
        s.close()


@pytest.mark.parametrize(
    ("kind", "path", "size", "direct", "message"),
    [
        ("disk", None, 4096, False, "unknown store kind 'disk'"),
        ("file", None, 4096, False, "needs a path"),
        ("file", "", 4096, False, "needs a path"),
        ("ram", "/tmp/x.img", 4096, False, "takes no path"),
        ("null", "/tmp/x.img", 4096, False, "takes no path"),
        ("ram", None, 4096, True, "O_DIRECT"),
        ("null", None, None, False, "needs a size"),
        ("ram", None, None, False, "needs a size"),
        ("ram", None, 0, False, "positive"),
    ],
)
def test_bad_combinations(kind, path, size, direct, message) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(kind, path, size, False, direct)


def test_file_errors_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give a size"):
        open_store("file", str(tmp_path / "missing.img"), None, False, False)
