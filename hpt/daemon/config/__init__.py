"""hptd's declarative configuration: a TOML file loaded (``tomllib``) into validated dataclasses.

``hptd --config FILE`` reads it; ``docs/config.md`` explains every key and ``examples/hptd.toml`` is a
complete example. Every error is a :class:`ConfigError` whose message names the file, the line and the
key, e.g. ``hptd.toml:31: target[0].lun[1].block_size: must be 512 or 4096, got 520``.

The modules, one job each: ``lines`` (where each key is written), ``tables`` (typed table accessors
with located errors), ``schema`` (the dataclasses), ``validators`` (single values), and the readers of
each kind of table: ``build`` (the file, daemon, portals, discovery), ``auth`` (CHAP accounts),
``iscsi`` (key overrides), ``target``, ``lun`` (a LUN's keys: common, its device type's, its store
kind's) and ``fcoe``.
"""

from __future__ import annotations

from hpt.daemon.config.build import DEMO_TARGET, demo_config, demo_text, load_config, parse_config
from hpt.daemon.config.fcoe import FCOE_MODES
from hpt.daemon.config.lun import LUN_OPTIONS, MAX_LUN, lun_options
from hpt.daemon.config.schema import (
    Config,
    DaemonConfig,
    DiscoveryConfig,
    FcoePortConfig,
    IscsiValue,
    LunConfig,
    PortalConfig,
    TargetConfig,
)
from hpt.daemon.config.tables import ConfigError
from hpt.daemon.config.validators import CONFIGURABLE_KEYS, iscsi_name_error, parse_size
from hpt.scsi.profiles import PLANNED as PLANNED_DEVICE_TYPES

__all__ = [
    "CONFIGURABLE_KEYS",
    "DEMO_TARGET",
    "FCOE_MODES",
    "LUN_OPTIONS",
    "MAX_LUN",
    "PLANNED_DEVICE_TYPES",
    "Config",
    "ConfigError",
    "DaemonConfig",
    "DiscoveryConfig",
    "FcoePortConfig",
    "IscsiValue",
    "LunConfig",
    "PortalConfig",
    "TargetConfig",
    "demo_config",
    "demo_text",
    "iscsi_name_error",
    "load_config",
    "lun_options",
    "parse_config",
    "parse_size",
]
