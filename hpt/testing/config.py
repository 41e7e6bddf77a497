"""A configuration text (docs/config.md) made ready for a test target: ``{port}`` (a free loopback port)
and ``{tmp}`` (the target's own directory) filled in, and a loopback portal on that port added when the
text declares none."""

from __future__ import annotations

import tomllib
from pathlib import Path


def prepare(text: str, port: int, tmp: Path) -> str:
    """The text hptd gets; ValueError when it is not TOML (hptd itself checks everything else)."""
    if not isinstance(text, str):
        raise TypeError(f"the configuration must be TOML text, got {type(text).__name__}")
    filled = text.replace("{port}", str(port)).replace("{tmp}", str(tmp))
    try:
        doc = tomllib.loads(filled)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"the configuration is not TOML: {err}") from None
    if "portal" not in doc:
        filled += f'\n[[portal]]\naddress = "127.0.0.1:{port}"\n'
    return filled
