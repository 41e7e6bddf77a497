"""The object store demo's configuration text: ``hptd --demo osd`` (an OSD-2 LU, ``docs/config.md``)."""

from __future__ import annotations

import json

OSD_TARGET = "iqn.2026-11.org.hpt:osd"


def osd_text(portal: str, path: str) -> str:
    """Target ``iqn.2026-11.org.hpt:osd`` whose LUN 1 is an OSD-2 object store under ``path``."""
    return (
        f"[[portal]]\naddress = {json.dumps(portal)}\n\n"
        f'[[target]]\nname = "{OSD_TARGET}"\nalias = "osd"\n\n'
        f'[[target.lun]]\nlun = 1\ntype = "osd"\npath = {json.dumps(path)}\n'
    )
