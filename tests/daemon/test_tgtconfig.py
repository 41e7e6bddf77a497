"""``hptd --tgt-config``: tgt's targets.conf loaded as the running configuration; hptd's own checks
name the targets.conf line of the target, LUN or account they are about."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.daemon.config import ConfigError
from hpt.daemon.tgtconfig import load_tgt

CONF = """\
<target iqn.2026-11.org.example:a>
    controller_tid 4
    <backing-store {tmp}/a.img>
        {extra}
    </backing-store>
    incominguser alice {secret}
</target>
"""


def _conf(tmp: Path, extra: str = "", secret: str = "alice-secret-1234") -> Path:
    (tmp / "a.img").write_bytes(bytes(1 << 20))
    path = tmp / "targets.conf"
    path.write_text(CONF.format(tmp=tmp, extra=extra, secret=secret))
    return path


def test_served_with_its_tids_and_portal(tmp_path: Path) -> None:
    document, config = load_tgt(_conf(tmp_path, "vendor_id ACME"), portal="127.0.0.1:3999")
    (target,) = config.targets
    assert target.incoming == ["alice"] and target.luns[0].params.vendor == "ACME"
    assert [(p.host, p.port) for p in config.portals] == [("127.0.0.1", 3999)]
    assert document.tids == {"iqn.2026-11.org.example:a": 4}


@pytest.mark.parametrize(("extra", "secret", "message"), [
    ("block-size 520", "alice-secret-1234", ":3: target[0].lun[0].block_size: must be 512 or 4096, got 520"),
    ("", "short", ":6: account[0].secret: "),
])
def test_errors_name_the_targets_conf_line(tmp_path: Path, extra: str, secret: str, message: str) -> None:
    path = _conf(tmp_path, extra, secret)
    with pytest.raises(ConfigError) as err:
        load_tgt(path)
    assert str(err.value).startswith(f"{path}{message}"), str(err.value)


def test_a_directive_hpt_cannot_serve_is_an_error(tmp_path: Path) -> None:
    path = _conf(tmp_path, "bs-type sg")
    with pytest.raises(ConfigError, match=r"targets.conf:4: backing store type sg is not supported by hpt"):
        load_tgt(path)
