"""The configuration text a test target gets: placeholders filled in, a loopback portal when none."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hpt.testing.config import prepare

TARGET = '[[target]]\nname = "iqn.2026-11.org.example:t"\n  [[target.lun]]\n  lun = 1\n  store = "ram"\n'


def test_a_loopback_portal_is_added_when_none_is_declared(tmp_path: Path) -> None:
    doc = tomllib.loads(prepare(TARGET, 40123, tmp_path))
    assert doc["portal"] == [{"address": "127.0.0.1:40123"}]
    assert doc["target"][0]["lun"][0] == {"lun": 1, "store": "ram"}  # the portal did not land in the LUN


def test_placeholders_are_filled_and_declared_portals_kept(tmp_path: Path) -> None:
    text = '[[portal]]\naddress = "127.0.0.1:{port}"\n' + TARGET + '  path = "{tmp}/a.img"\n'
    doc = tomllib.loads(prepare(text, 40124, tmp_path))
    assert doc["portal"] == [{"address": "127.0.0.1:40124"}]
    assert doc["target"][0]["lun"][0]["path"] == f"{tmp_path}/a.img"


def test_bad_text_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the configuration is not TOML: .*line 1"):
        prepare("[[target]\n", 1, tmp_path)
    with pytest.raises(TypeError, match="must be TOML text, got dict"):
        prepare({"target": []}, 1, tmp_path)  # type: ignore[arg-type]
