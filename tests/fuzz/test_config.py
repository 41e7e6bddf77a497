"""The configuration loader (``hpt.daemon.config.parse_config``) on random documents: tables and keys the
loader knows (and some it does not) with values of any TOML type, and the shipped examples with lines
dropped, repeated or changed. Each ends in a ``Config`` or a ``ConfigError`` naming a line of the text
(``<config>:LINE: ...``), never another exception."""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hpt.daemon.config import LUN_OPTIONS, ConfigError, parse_config
from hpt.daemon.config.auth import ACCOUNT_KEYS
from hpt.daemon.config.build import DAEMON_KEYS, DISCOVERY_KEYS, METRICS_KEYS, PORTAL_KEYS
from hpt.daemon.config.fcoe import FCOE_PORT_KEYS
from hpt.daemon.config.library import CARTRIDGE_KEYS, LIBRARY_KEYS
from hpt.daemon.config.limits import LIMIT_RANGES
from hpt.daemon.config.target import TARGET_KEYS
from hpt.daemon.config.validators import CONFIGURABLE_KEYS
from hpt.scsi.params import COMMON_OPTIONS
from hpt.scsi.profiles import PROFILES
from hpt.store.registry import store_kinds
from tests.fuzz import budget

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))
LUN_KEYS = sorted({o.key for o in (*LUN_OPTIONS, *COMMON_OPTIONS)}
                  | {o.key for p in PROFILES.values() for o in p.options}
                  | {o.key for k in store_kinds().values() for o in k.options} | set(LIBRARY_KEYS))
ERROR = re.compile(r"^<config>:\d+: ")

WORDS = st.sampled_from((
    "iqn.2026-11.org.hpt.fuzz:t", "iqn.bad name", "127.0.0.1:0", "[::1]:3260", "0.0.0.0:99999", "ram",
    "file", "null", "disk", "tape", "changer", "dvd", "osd", "tcp", "iser", "chap", "none", "info", "json",
    "64M", "1G", "0", "-1", "12345678901234", "fuzz-secret-12", "fuzz", "x.img", "/nonexistent/x", "",
    "52:54:00:aa:00:01", "0x2000525400aa0001", "vn2vn", "fabric", "HPT001L6", "Yes", "No", "CRC32C",
))
SCALAR = st.one_of(WORDS, st.text(max_size=12), st.integers(-2, 2**40),
                   st.sampled_from((0, 1, 512, 4096, -1)), st.booleans(), st.floats(allow_nan=True))
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=3))
SECTIONS: dict[str, tuple[str, ...]] = {
    "daemon": DAEMON_KEYS, "iscsi": CONFIGURABLE_KEYS, "[portal]": PORTAL_KEYS, "[account]": ACCOUNT_KEYS,
    "discovery": DISCOVERY_KEYS, "[target]": TARGET_KEYS, "[target.lun]": tuple(LUN_KEYS),
    "[target.lun.cartridge]": CARTRIDGE_KEYS, "[fcoe_port]": FCOE_PORT_KEYS, "limits": tuple(LIMIT_RANGES),
    "metrics": METRICS_KEYS,
}


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 8))):
        section = draw(st.sampled_from(sorted(SECTIONS)))
        lines.append(f"[{section}]")
        keys = SECTIONS[section]
        for _ in range(draw(st.integers(0, 6))):
            key = draw(st.one_of(st.sampled_from(keys), st.sampled_from(("bogus", "Size"))))
            lines.append(f"{key} = {toml_value(draw(VALUE))}")
    return "\n".join(lines) + "\n"


@st.composite
def edited_examples(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(EXAMPLES)).read_text().splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        what = draw(st.sampled_from(("drop", "again", "value", "char")))
        if what == "drop":
            del lines[at]
        elif what == "again":
            lines.insert(at, lines[at])
        elif what == "value" and "=" in lines[at]:
            lines[at] = lines[at].split("=", 1)[0] + "= " + toml_value(draw(VALUE))
        elif what == "char" and lines[at]:
            pos = draw(st.integers(0, len(lines[at]) - 1))
            lines[at] = lines[at][:pos] + draw(st.characters(max_codepoint=0x7F)) + lines[at][pos + 1:]
    return "\n".join(lines) + "\n"


@budget.fuzz_settings(400)
@given(text=st.one_of(documents(), edited_examples()))
def test_config_documents(text: str) -> None:
    budget.count("config")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            parse_config(text, base_dir=tmp)
        except ConfigError as err:
            assert ERROR.match(str(err)), f"an error naming no line: {err}"
