"""tgt's names for LU parameters, store types and device types, in hptd's configuration terms.

Shared by ``hptadm`` (``--params``, ``--bstype``, ``--device-type``) and the targets.conf reader; tgt's
own names are those of tgtadm(8) and targets.conf(5). A name hpt has no equivalent for is reported,
never dropped."""

from __future__ import annotations

from typing import Any

#: tgt LU parameter -> hptd LUN key (docs/config.md)
LU_PARAMS = {
    "vendor_id": "vendor", "product_id": "product", "product_rev": "revision", "scsi_sn": "serial",
    "removable": "removable", "readonly": "readonly", "thin_provisioning": "thin",
    "block-size": "block_size", "blocksize": "block_size", "write-cache": "write_cache",
    "rotation_rate": "rotation_rate", "optimal_xfer_len": "optimal_xfer_blocks",
}  # fmt: skip
BOOL_KEYS = {"removable", "readonly", "thin", "write_cache", "direct"}
INT_KEYS = {"block_size", "physical_block_size", "rotation_rate", "queue_depth", "optimal_xfer_blocks"}
#: READ CAPACITY(16)'s LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT is 4 bits (SBC-4 5.20.2); hptd takes
#: physical blocks of up to 2**15 logical blocks, so every value of the field
MAX_LBPPBE = 15

#: tgt backing-store type -> hpt store kind: rdwr, aio and the default are files (sg, bsg, rbd, glfs,
#: sheepdog have no hpt store kind; a plug-in's name passes through)
STORES = {"": "file", "rdwr": "file", "aio": "file", "null": "null"}
#: tgt device type -> hpt device type
DEVICE_TYPES = {"disk": "disk", "tape": "tape", "ssc": "tape", "changer": "changer", "cd": "dvd",
                "osd": "osd"}
UNSUPPORTED_STORES = ("sg", "bsg", "rbd", "glfs", "sheepdog")


class TgtNameError(ValueError):
    """A tgt name hpt has no equivalent for."""


def truth(value: str | bool | int) -> bool:
    """tgt's 0/1, on/off, yes/no."""
    if isinstance(value, bool | int):
        return bool(value)
    low = value.strip().lower()
    if low in ("1", "on", "yes", "true"):
        return True
    if low in ("0", "off", "no", "false"):
        return False
    raise TgtNameError(f"expected on/off or 1/0, got {value!r}")


def value_of(key: str, text: str) -> Any:
    """A key's value from tgt's text form."""
    if key == "lbppbe":
        return lbppbe(text)
    if key in BOOL_KEYS:
        return truth(text)
    if key in INT_KEYS:
        try:
            return int(text)
        except ValueError:
            raise TgtNameError(f"{key} must be a number, got {text!r}") from None
    return text


def lu_param(name: str, text: str) -> tuple[str, Any]:
    """(hptd key, value) of one tgt LU parameter; an hptd key is accepted as itself."""
    key = LU_PARAMS.get(name, name)
    if name in ("scsi_id", "sense_format", "online", "mode_page", "la_lba",
                "optimal_xfer_gran", "path", "element_type", "media_home"):
        raise TgtNameError(f"LU parameter {name} is not supported by hpt")
    return key, value_of(key, text)


def lbppbe(text: str) -> int:
    """tgt's ``lbppbe``: 2**lbppbe logical blocks per physical block (READ CAPACITY(16), SBC-4 5.20.2)."""
    try:
        exponent = int(text)
    except ValueError:
        raise TgtNameError(f"lbppbe must be a number from 0 to {MAX_LBPPBE}, got {text!r}") from None
    if not 0 <= exponent <= MAX_LBPPBE:
        raise TgtNameError(f"lbppbe must be from 0 to {MAX_LBPPBE} (READ CAPACITY(16)'s 4-bit LOGICAL BLOCKS "
                           f"PER PHYSICAL BLOCK EXPONENT), got {exponent}")
    return exponent


def physical_block(keys: dict[str, Any], block_size: int | None = 512) -> None:
    """A LU's ``lbppbe`` (known once all its keys are: ``block_size`` may come after it) as hptd's
    ``physical_block_size = block_size << lbppbe``; ``block_size`` is the LU's when its keys give none
    (None: not known, as for a live LU's update)."""
    exponent = keys.pop("lbppbe", None)
    if exponent is None:
        return
    logical = keys.get("block_size", block_size)
    if logical is None:
        raise TgtNameError("lbppbe needs the LU's block size: give block-size too, or "
                           "physical_block_size (block_size << lbppbe) in bytes")
    size = logical << exponent
    if keys.get("physical_block_size", size) != size:
        raise TgtNameError(f"lbppbe {exponent} ({size} bytes) and physical_block_size "
                           f"{keys['physical_block_size']} disagree")
    keys["physical_block_size"] = size


def store_kind(bstype: str | None) -> str:
    name = (bstype or "").strip().lower()
    if name in UNSUPPORTED_STORES:
        raise TgtNameError(f"backing store type {name} is not supported by hpt")
    return STORES.get(name, name)


def device_type(name: str | None) -> str:
    low = (name or "disk").strip().lower()
    if low not in DEVICE_TYPES:
        raise TgtNameError(f"device type {low} is not supported by hpt (pt passthrough has no equivalent)")
    return DEVICE_TYPES[low]


def removable_medium(keys: dict[str, Any]) -> None:
    """A tgt LU whose device type takes removable media keeps no store in hptd: tgt's ``cd`` backing
    store, an ISO image, is the DVD drive's ``disc``; tgt's tape images (tgtimg) are not hpt
    cartridges, so a tape (or changer) with a backing store is refused with what to do instead."""
    kind = keys.get("type")
    if kind == "dvd":
        keys.pop("store", None)
        if "path" in keys:
            keys["disc"] = keys.pop("path")
    elif kind in ("tape", "changer") and keys.pop("store", None) is not None:
        raise TgtNameError(f"a {kind} LU's tgt backing store is not an hpt medium: create cartridges with "
                           "hptimg --op new --device-type tape and give them as a tape LUN's cartridge "
                           "(docs/config.md)")


def bsoflags(text: str) -> dict[str, Any]:
    """``direct``, ``sync`` or ``sync:direct``: O_DIRECT, and durable writes (the write cache off)."""
    keys: dict[str, Any] = {}
    for flag in filter(None, text.split(":")):
        if flag == "direct":
            keys["direct"] = True
        elif flag == "sync":
            keys["write_cache"] = False
        else:
            raise TgtNameError(f"backing store flag {flag} is not sync or direct")
    return keys
