"""The store registry: hpt's own store kinds through their entry points, opening stores from option
values, and plug-ins that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.options import OptionError
from hpt.store import FileStore, NullStore, RamStore, registry
from hpt.store.registry import (
    StoreKind,
    StoreKindError,
    open_store,
    store_kind,
    store_kind_problems,
    store_kinds,
)
from tests.store.plugins import install

BUILTIN_OPTIONS = {"file": ["path", "size", "direct"], "ram": ["size"], "null": ["size"]}


def test_builtin_kinds_come_from_entry_points() -> None:
    kinds = store_kinds()
    for name, keys in BUILTIN_OPTIONS.items():
        assert set(keys) <= {o.key for o in kinds[name].options}, name
    assert all(isinstance(kind, StoreKind) and kind.doc for kind in kinds.values())
    assert store_kind("ram") is kinds["ram"]
    assert not store_kind_problems()


def test_open_each_kind(tmp_path: Path) -> None:
    stores = [
        open_store("file", {"path": str(tmp_path / "a.img"), "size": "8K"}),
        open_store("ram", {"size": 8192}),
        open_store("null", {"size": "8K"}, readonly=True),
    ]
    try:
        assert [type(s) for s in stores] == [FileStore, RamStore, NullStore]
        assert [s.size for s in stores] == [8192] * 3
        assert [s.readonly for s in stores] == [False, False, True]
    finally:
        for s in stores:
            s.close()


def test_file_kind_takes_an_existing_files_size(tmp_path: Path) -> None:
    (tmp_path / "a.img").write_bytes(bytes(4096))
    store = open_store("file", {"path": str(tmp_path / "a.img")}, readonly=True)
    try:
        assert (store.size, store.readonly) == (4096, True)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "values", "key", "message"),
    [
        ("file", {"size": 4096}, "path", 'required for store = "file"'),
        ("file", {"path": ""}, "path", "must name a file"),
        ("file", {"path": "/tmp"}, "path", "is a directory"),
        ("file", {"path": "/nonexistent/dir/x.img", "size": 4096}, "path", "directory /nonexistent/dir"),
        ("file", {"path": "/nonexistent.img"}, "size", "required because /nonexistent.img does not exist"),
        ("file", {"path": "/tmp/x.img", "direct": "yes"}, "direct", 'must be true or false, got "yes"'),
        ("ram", {"size": 4096, "path": "/tmp/x.img"}, "path", 'unknown key for store = "ram"'),
        ("ram", {"size": 4096, "direct": True}, "direct", "unknown key"),
        ("null", {}, "size", 'required for store = "null"'),
        ("ram", {"size": 0}, "size", "must be positive"),
        ("ram", {"size": "1Q"}, "size", "K/M/G/T suffix"),
    ],
)
def test_option_errors_name_the_key(kind: str, values: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        open_store(kind, values)
    assert info.value.key == key and message in info.value.message


def test_unknown_kind() -> None:
    with pytest.raises(StoreKindError, match=r'unknown store kind "disk" \(installed: .*file.*\)'):
        open_store("disk", {"size": 4096})


def test_file_store_errors_stay_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="O_DIRECT needs a size"):
        open_store("file", {"path": str(tmp_path / "x.img"), "size": 6144, "direct": True})


# -- plug-ins that cannot be used --------------------------------------------------------------------

NOT_A_KIND = "KIND = {'name': 'dict'}\n"
MISNAMED = ("from hpt.store.registry import StoreKind\nfrom hpt.store.ram import KIND as RAM\n"
            "KIND = StoreKind('other', RAM.options, RAM.open)\n")


def test_broken_plugins_are_named_and_leave_the_others_usable(site: Path) -> None:
    install(site, "broken-stores", "2.0", {"nokind": NOT_A_KIND, "misnamed": MISNAMED},
            {"missing": "no_such_module:KIND", "notakind": "nokind:KIND", "misnamed": "misnamed:KIND"})
    problems = store_kind_problems()
    assert set(problems) == {"missing", "notakind", "misnamed"}
    where = 'entry point "missing = no_such_module:KIND" (hpt.stores) of distribution broken-stores 2.0'
    failure = "ModuleNotFoundError: No module named 'no_such_module'"
    assert problems["missing"] == f"{where} failed to load: {failure}"
    assert "is a dict, not a hpt.store.registry.StoreKind" in problems["notakind"]
    assert 'names its store kind "other", not "misnamed"' in problems["misnamed"]
    unusable = r'store kind "missing" cannot be used: entry point .* broken-stores'
    with pytest.raises(StoreKindError, match=unusable):
        store_kind("missing")
    assert set(BUILTIN_OPTIONS) <= set(store_kinds())
    store = open_store("ram", {"size": 4096})
    store.close()


def test_a_plugin_cannot_take_a_builtin_name(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    install(site, "greedy", "1.0", {"greedy": NOT_A_KIND}, {"ram": "greedy:KIND"})
    assert store_kind("ram").options[0].key == "size" and "ram" not in store_kind_problems()
    assert 'entry point "ram = greedy:KIND" (hpt.stores) of distribution greedy 1.0 is ignored' in caplog.text


def test_without_installed_metadata_no_kind_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """hpt's own kinds are entry points too: without hpt's metadata the error says to install it."""
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    registry.clear_cache()
    try:
        with pytest.raises(StoreKindError, match=r"no store kinds are installed \(pip install hpt\)"):
            store_kind("ram")
    finally:
        monkeypatch.undo()
        registry.clear_cache()
    assert "ram" in store_kinds()
