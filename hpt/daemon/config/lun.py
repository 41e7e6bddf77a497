"""A ``[[target.lun]]`` table: the keys every LUN has, its device type's and its store kind's.

The type (``PROFILES``) and the store kind (``hpt.stores`` entry points) each own their keys as an
:mod:`hpt.options` schema; a key of another type or store kind is named as such, and every value is
checked by the schema that declares it, the error pointing at its line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from hpt.daemon.config.library import DRIVE_TYPES as MEDIUM_DRIVES
from hpt.daemon.config.library import LIBRARY_KEYS, read_library
from hpt.daemon.config.schema import LunConfig
from hpt.daemon.config.tables import Table, did_you_mean
from hpt.daemon.config.validators import derived_serial
from hpt.options import Option
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.params import COMMON_OPTIONS, lu_params
from hpt.scsi.profiles import PLANNED
from hpt.store.registry import StoreKind, StoreKindError, store_kind, store_kinds

if TYPE_CHECKING:
    from hpt.scsi.core.profile import DeviceProfile
    from hpt.scsi.lu import LuParams

MAX_LUN = 16383  # flat space addressing (SAM-5 4.7.7)

#: What a LU without a store keeps its data in, by device type (for the error naming a store key).
_STORELESS = {DeviceType.CDROM: "its media are disc files",
              DeviceType.OSD: "its objects are files under its path"}

#: The keys that place a LU and pick its type and store, before the common LU parameters.
LUN_OPTIONS = (
    Option("lun", int, doc="LUN number, unique in the target (SAM-5 4.7.7)", lo=0, hi=MAX_LUN),
    Option("type", str, "disk", "device type: a profile name"),
    Option("store", str, "file", "store kind: an installed hpt.stores entry point"),
)


def lun_options(profile: DeviceProfile, kind: StoreKind) -> tuple[Option, ...]:
    """Every key a LUN of ``profile`` on a store of ``kind`` accepts."""
    return (*LUN_OPTIONS, *COMMON_OPTIONS, *profile.options, *kind.options)


def read_lun(table: Table, target_name: str, profiles: Mapping[str, DeviceProfile]) -> LunConfig:
    """One LUN: its type and store kind first, then every key checked by the schema that owns it; the
    LUN remembers where it is in the file (start-up errors name it)."""
    lun = _read_lun(table, target_name, profiles)
    lun.source = table.where()
    return lun


def _read_lun(table: Table, target_name: str, profiles: Mapping[str, DeviceProfile]) -> LunConfig:
    profile = _profile(table, profiles)
    if profile.device_type == DeviceType.CHANGER:
        return _read_changer(table, target_name, profile, profiles)
    if profile.device_type in MEDIUM_DRIVES or profile.device_type == DeviceType.OSD:
        return _read_storeless(table, target_name, profile, profiles)
    kind = _store_kind(table)
    table.check_keys({o.key for o in lun_options(profile, kind)}, _owners(table, profile, kind, profiles))
    params = _params(table, target_name, profile)
    values = table.options(kind.options, f'store = "{kind.name}"')
    size = values.get("size")
    if isinstance(size, int) and size % params.block_size:
        raise table.fail("size", f"{size} bytes is not a multiple of block_size {params.block_size}")
    return LunConfig(_lun_number(table), profile, params, kind.name, values)


def _params(table: Table, target_name: str, profile: DeviceProfile) -> LuParams:
    common = table.options((*LUN_OPTIONS, *COMMON_OPTIONS))
    common["serial"] = common["serial"] or derived_serial(target_name, common["lun"])
    return lu_params(profile, common | table.options(profile.options, f'type = "{profile.name}"'))


def _read_storeless(table: Table, target_name: str, profile: DeviceProfile,
                    profiles: Mapping[str, DeviceProfile]) -> LunConfig:
    """A drive with removable media (its medium is a cartridge file, loaded by a changer) or an object
    store (its objects are files under its ``path``): no store kind."""
    keys = {o.key for o in (*LUN_OPTIONS, *COMMON_OPTIONS, *profile.options)} - {"store"}
    table.check_keys(keys, _owners(table, profile, None, profiles))
    return LunConfig(_lun_number(table), profile, _params(table, target_name, profile), "", {})


def _read_changer(table: Table, target_name: str, profile: DeviceProfile,
                  profiles: Mapping[str, DeviceProfile]) -> LunConfig:
    """A changer: no store (its media are the cartridge files in its media directory) but a library."""
    keys = {o.key for o in (*LUN_OPTIONS, *COMMON_OPTIONS, *profile.options)} - {"store"}
    table.check_keys(keys | set(LIBRARY_KEYS), _owners(table, profile, None, profiles))
    params = _params(table, target_name, profile)
    return LunConfig(_lun_number(table), profile, params, "", {}, read_library(table, params))


def _lun_number(table: Table) -> int:
    """The ``lun`` key, checked."""
    lun: int = table.options(LUN_OPTIONS)["lun"]
    return lun


def _profile(table: Table, profiles: Mapping[str, DeviceProfile]) -> DeviceProfile:
    name = table.text("type", "disk", (*profiles, *(p for p in PLANNED if p not in profiles)))
    if name not in profiles:
        supported = ", ".join(profiles)
        raise table.fail("type", f'device type "{name}" is not supported yet (supported: {supported})')
    return profiles[name]


def _store_kind(table: Table) -> StoreKind:
    name = table.text("store", "file")
    try:
        return store_kind(name)
    except StoreKindError as err:
        raise table.fail("store", f"{err}{did_you_mean(name, store_kinds())}") from None


def _owners(table: Table, profile: DeviceProfile, kind: StoreKind | None,
            profiles: Mapping[str, DeviceProfile]) -> dict[str, str]:
    """For each key of the table that belongs to another store kind or device type: which one
    (``kind`` None: the LU has no store, as a changer)."""
    stores = {k.name: k.options for k in store_kinds().values() if kind is None or k.name != kind.name}
    types = {p.name: p.options for p in profiles.values() if p is not profile}
    owners: dict[str, str] = {}
    for key in table.data:
        if kind is None and (key == "store" or _declaring(key, stores)):
            what = _STORELESS.get(profile.device_type, "its media are cartridge files")
            article = "an" if profile.name[0] in "aeiou" else "a"
            owners[key] = f"{article} {profile.name} has no store: {what}"
        elif store := _declaring(key, stores):
            owners[key] = f'only for store = {store} (store is "{kind.name if kind else ""}")'
        elif type_ := _declaring(key, types):
            owners[key] = f'only for type = {type_} (type is "{profile.name}")'
    return owners


def _declaring(key: str, schemas: Mapping[str, Iterable[Option]]) -> str:
    """``"a"`` or ``"a" or "b"``: the names whose schema declares ``key``, or ""."""
    return " or ".join(f'"{name}"' for name, schema in schemas.items() if any(o.key == key for o in schema))
