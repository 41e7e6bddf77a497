"""The rbd store's keys in hptd's configuration: checked by its schema, errors naming key and line
(no cluster needed: parsing does not connect)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.daemon.config import ConfigError, load_config, parse_config

LUN = """
[[target]]
name = "iqn.2026-11.org.example:rbd"
  [[target.lun]]
  lun = 1
  store = "rbd"
  image = "vol1"
"""


def error_at(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    return str(info.value)


def test_defaults_and_values(tmp_path: Path) -> None:
    conf = tmp_path / "ceph.conf"
    conf.write_text("[global]\n")
    cfg = tmp_path / "hptd.toml"
    cfg.write_text(LUN + '  ceph_conf = "ceph.conf"\n  snapshot = "s1"\n  timeout = 5\n  client = "hpt"\n')
    values = load_config(cfg).targets[0].luns[0].store_values
    assert values == {"pool": "rbd", "image": "vol1", "snapshot": "s1", "ceph_conf": str(conf),
                      "client": "hpt", "cluster": "ceph", "timeout": 5, "size_poll": 10}


@pytest.mark.parametrize(("extra", "message"), [
    ("  timeout = 0\n", "test.toml:8: target[0].lun[0].timeout: "),
    ('  ceph_conf = "/no/such/ceph.conf"\n', "test.toml:8: target[0].lun[0].ceph_conf: /no/such/ceph.conf: "
                                              "no such file"),
    ('  pool = 3\n', "test.toml:8: target[0].lun[0].pool: "),
    ('  path = "x.img"\n', 'test.toml:8: target[0].lun[0].path: only for store = "file"'),
])
def test_bad_keys_are_named_with_their_line(extra: str, message: str) -> None:
    assert error_at(LUN + extra).startswith(message)


def test_image_is_required() -> None:
    text = LUN.replace('  image = "vol1"\n', "")
    assert 'target[0].lun[0].image: required for store = "rbd"' in error_at(text)
