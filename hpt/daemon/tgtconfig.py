"""``hptd --tgt-config FILE``: tgt's targets.conf served directly, through the same import as
``hptadm import-tgt`` (``hpt.admin.tgtimport``), then the configuration loader; a SIGHUP re-reads it.
Errors name the targets.conf file and line of the target, LUN or account they are about."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from hpt.admin.tgtconf import TgtConfError
from hpt.admin.tgtimport import import_tgt
from hpt.admin.toml import dumps
from hpt.daemon.config import Config, ConfigError, parse_config
from hpt.daemon.control.document import Document, without_location

log = logging.getLogger("hptd")
_PLACE = re.compile(r"(target\[\d+\](?:\.lun\[\d+\])?|account\[\d+\])")


def load_tgt(path: Path, tids: dict[str, int] | None = None, *,
             portal: str | None = None) -> tuple[Document, Config]:
    """The running document and configuration of a targets.conf (ConfigError if hpt cannot serve it);
    ``portal`` is where to listen (default: hptd's, 0.0.0.0:3260, as tgtd's). What hpt ignores is
    logged as a warning, one line per directive."""
    try:
        imported = import_tgt(path)
    except TgtConfError as err:
        raise ConfigError(str(err)) from None
    for note in imported.notes:
        log.warning("%s", note)
    if portal:
        imported.data["portal"] = [{"address": portal}]
    text = dumps(imported.data)
    try:
        config = parse_config(text, str(path), base_dir=path.parent)
    except ConfigError as err:
        message = without_location(err)
        found = _PLACE.match(message)
        where = imported.places.get(found[1], str(path)) if found else str(path)
        raise ConfigError(f"{where}: {message}") from None
    return Document.of(config, text, path.parent, imported.tids | dict(tids or {})), config
