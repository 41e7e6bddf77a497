"""MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-5 6.11-6.14) over an extensible page registry.

A :class:`ModePage` holds a page's default bytes and changeable mask; :class:`Binding` ties a
changeable bit to a :class:`LogicalUnit` attribute (WCE -> ``lu.wce``, D_SENSE -> ``lu.d_sense``).
SPC's own pages are ``SPC_MODE_PAGES``; a LU's device profile adds its pages and its
:class:`Medium` (block descriptor and device-specific parameter). Saved pages are not supported.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    MODE_PARAMETERS_CHANGED,
    PARAMETER_LIST_LENGTH_ERROR,
    SAVING_PARAMETERS_NOT_SUPPORTED,
)
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit, LuParams

MODE_SELECT_6, MODE_SENSE_6, MODE_SELECT_10, MODE_SENSE_10 = 0x15, 0x1A, 0x55, 0x5A
PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED = 0, 1, 2, 3
ALL_PAGES, ALL_SUBPAGES = 0x3F, 0xFF
WP = 0x80  # device-specific parameter: write protected (SPC-5 7.5.6)


def page_bytes(code: int, body: bytes, subpage: int = 0) -> bytes:
    """A page in page_0 format, or sub_page format (SPF set) when ``subpage`` is non-zero (7.5.7)."""
    if subpage:
        return struct.pack(">BBH", 0x40 | code, subpage, len(body)) + body
    return struct.pack(">BB", code, len(body)) + body


@dataclass(frozen=True, slots=True)
class Binding:
    """A changeable bit mirrored by a boolean LU attribute; ``default`` gives its default value."""

    offset: int
    mask: int
    attr: str
    default: Callable[[LuParams], bool] = lambda params: False


@dataclass(frozen=True, slots=True)
class ModePage:
    """A mode page: default bytes (header included), changeable mask of the same length."""

    code: int
    subpage: int
    default: bytes
    changeable: bytes
    bindings: tuple[Binding, ...] = field(default=())

    @property
    def header_len(self) -> int:
        return 4 if self.subpage else 2


@dataclass(frozen=True, slots=True)
class Medium:
    """How a device type fills the mode parameter header and block descriptors (SPC-5 7.5.5/7.5.6).

    ``block_descriptor(lu, long)`` returns b"" for none; ``check_block_descriptor(lu, data, offset)``
    validates one sent with MODE SELECT (raising SenseError); ``apply_block_descriptor(lu, data)``, when
    given, takes its values once the whole parameter list is valid (a tape's density and block length).
    """

    device_specific: Callable[[LogicalUnit], int]
    block_descriptor: Callable[[LogicalUnit, bool], bytes]
    check_block_descriptor: Callable[[LogicalUnit, memoryview, int], None]
    apply_block_descriptor: Callable[[LogicalUnit, memoryview], None] | None = None


def pages_for(lu: LogicalUnit) -> dict[tuple[int, int], ModePage]:
    """SPC's pages and the LU's device profile's, by (code, subpage); a profile page replaces SPC's."""
    chosen = {(p.code, p.subpage): p for p in SPC_MODE_PAGES}
    chosen.update(((p.code, p.subpage), p) for p in lu.profile.mode_pages)
    return dict(sorted(chosen.items()))


# -- page values -------------------------------------------------------------------------------
def _state_key(page: ModePage) -> tuple[str, int, int]:
    return ("mode", page.code, page.subpage)


def current_page(lu: LogicalUnit, page: ModePage) -> bytes:
    """Current values: the last MODE SELECT (or the default) with bound bits read from the LU."""
    buf = bytearray(lu.mode_state.get(_state_key(page), page.default))
    for b in page.bindings:
        buf[b.offset] = (buf[b.offset] | b.mask) if getattr(lu, b.attr) else (buf[b.offset] & ~b.mask)
    return bytes(buf)


def default_page(lu: LogicalUnit, page: ModePage) -> bytes:
    buf = bytearray(page.default)
    for b in page.bindings:
        if b.default(lu.params):
            buf[b.offset] |= b.mask
    return bytes(buf)


def _page_value(lu: LogicalUnit, page: ModePage, pc: int) -> bytes:
    if pc == PC_CURRENT:
        return current_page(lu, page)
    if pc == PC_DEFAULT:
        return default_page(lu, page)
    return page.default[: page.header_len] + page.changeable[page.header_len :]


def _set_page(lu: LogicalUnit, page: ModePage, value: bytes) -> None:
    lu.mode_state[_state_key(page)] = value
    for b in page.bindings:
        setattr(lu, b.attr, bool(value[b.offset] & b.mask))


def reset_mode_pages(lu: LogicalUnit) -> None:
    """Back to default values, as after power on (SAM-5 6.3.3: no saved pages)."""
    for page in pages_for(lu).values():
        lu.mode_state.pop(_state_key(page), None)
        _set_page(lu, page, default_page(lu, page))


# -- mode parameter header and block descriptors -----------------------------------------------
def _no_block_descriptor(lu: LogicalUnit, long: bool) -> bytes:
    return b""


def _reject_block_descriptor(lu: LogicalUnit, data: memoryview, offset: int) -> None:
    raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset, in_cdb=False)


GENERIC_MEDIUM = Medium(lambda lu: WP if lu.params.readonly else 0, _no_block_descriptor,
                        _reject_block_descriptor)


def medium_of(lu: LogicalUnit) -> Medium:
    return lu.profile.medium


# -- MODE SENSE --------------------------------------------------------------------------------
def _select_pages(lu: LogicalUnit, code: int, subpage: int) -> list[ModePage]:
    """Pages named by PAGE CODE and SUBPAGE CODE, 3Fh/FFh meaning all (SPC-5 6.11)."""
    pages = pages_for(lu)
    if code == ALL_PAGES:
        if subpage not in (0, ALL_SUBPAGES):
            raise SenseError(INVALID_FIELD_IN_CDB, field=3)
        return [p for p in pages.values() if subpage == ALL_SUBPAGES or p.subpage == 0]
    if subpage == ALL_SUBPAGES:
        chosen = [p for p in pages.values() if p.code == code]
    else:
        page = pages.get((code, subpage))
        chosen = [] if page is None else [page]
    if not chosen:
        known_code = any(p.code == code for p in pages.values())
        raise SenseError(INVALID_FIELD_IN_CDB, field=3 if known_code else 2)
    return chosen


def mode_sense(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MODE SENSE(6)/(10): header, block descriptor unless DBD, then the pages asked for."""
    cdb = cmd.cdb
    ten = cmd.opcode == MODE_SENSE_10
    dbd = bool(cdb[1] & 0x08)
    long_lba = ten and bool(cdb[1] & 0x10)
    pc, code, subpage = cdb[2] >> 6, cdb[2] & 0x3F, cdb[3]
    alloc = struct.unpack_from(">H", cdb, 7)[0] if ten else cdb[4]
    if pc == PC_SAVED:
        raise SenseError(SAVING_PARAMETERS_NOT_SUPPORTED, field=2, bit=7)
    body = b"".join(_page_value(lu, p, pc) for p in _select_pages(lu, code, subpage))
    medium = medium_of(lu)
    bd = b"" if dbd else medium.block_descriptor(lu, long_lba)
    dsp = medium.device_specific(lu)
    if ten:
        size = 8 + len(bd) + len(body)
        header = struct.pack(">HBBBxH", size - 2, 0, dsp, 1 if len(bd) == 16 else 0, len(bd))
    else:
        size = min(4 + len(bd) + len(body), 256)
        header = struct.pack(">BBBB", size - 1, 0, dsp, len(bd))
    return cmd.reply((header + bd + body)[:size], alloc)


# -- MODE SELECT -------------------------------------------------------------------------------
def _check_page(lu: LogicalUnit, data: memoryview, off: int) -> tuple[ModePage, bytes, int]:
    """Decode the page at ``off``: known, right length, only changeable bits changed (SPC-5 6.13)."""
    end = len(data)
    if off + 2 > end:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    code, spf = data[off] & 0x3F, bool(data[off] & 0x40)
    hdr = 4 if spf else 2
    if off + hdr > end:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    subpage = data[off + 1] if spf else 0
    plen = struct.unpack_from(">H", data, off + 2)[0] if spf else data[off + 1]
    page = pages_for(lu).get((code, subpage))
    if page is None or (spf and not subpage):
        bit = 5 if page is None else 6
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off, bit=bit, in_cdb=False)
    if hdr + plen != len(page.default):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off + hdr - 1, in_cdb=False)
    if off + hdr + plen > end:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    new = bytearray(data[off : off + hdr + plen])
    new[0] &= 0x7F  # PS is reserved in MODE SELECT
    cur = current_page(lu, page)
    for i in range(hdr, len(new)):
        bad = (new[i] ^ cur[i]) & ~page.changeable[i] & 0xFF
        if bad:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off + i, bit=bad.bit_length() - 1,
                             in_cdb=False)
    return page, bytes(new), off + hdr + plen


def mode_select(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MODE SELECT(6)/(10): validate everything first, then apply; others get MODE PARAMETERS CHANGED."""
    cdb = cmd.cdb
    ten = cmd.opcode == MODE_SELECT_10
    if cdb[1] & 0x01:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)  # SP: no saved pages
    length = struct.unpack_from(">H", cdb, 7)[0] if ten else cdb[4]
    if length == 0:
        return GOOD
    data = parameter_list(cmd, length)
    hlen = 8 if ten else 4
    if length < hlen:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    if ten:
        medium_type, long_lba, bdl = data[2], bool(data[4] & 0x01), struct.unpack_from(">H", data, 6)[0]
    else:
        medium_type, long_lba, bdl = data[1], False, data[3]
    if medium_type:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=2 if ten else 1, in_cdb=False)
    if hlen + bdl > length:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    if bdl:
        if bdl != (16 if long_lba else 8):
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=hlen - 1, in_cdb=False)
        medium_of(lu).check_block_descriptor(lu, data[hlen : hlen + bdl], hlen)
    off = hlen + bdl
    changes: list[tuple[ModePage, bytes]] = []
    while off < length:
        page, value, off = _check_page(lu, data, off)
        changes.append((page, value))
    apply = medium_of(lu).apply_block_descriptor
    if bdl and apply is not None:
        apply(lu, data[hlen : hlen + bdl])
    changed = False
    for page, value in changes:
        changed |= value != current_page(lu, page)
        _set_page(lu, page, value)
    if changed:
        lu.ua.establish(MODE_PARAMETERS_CHANGED, exclude=cmd.nexus.initiator_port)
        if lu.pr.shared is not None:  # the other processes serving the LU (workers, gateways) take them too
            lu.pr.shared.share("mode", {f"{p.code}/{p.subpage}": v.hex() for p, v in changes})
    return GOOD


def take_shared_pages(lu: LogicalUnit, pages: Mapping[str, str]) -> bool:
    """Set the current values another process serving the LU selected (``{"code/subpage": hex}``, as
    :func:`mode_select` shares them; the caller holds the LU's lock): whether any changed here, so its
    nexuses get MODE PARAMETERS CHANGED (SPC-5 6.13)."""
    known = pages_for(lu)
    changed = False
    for key, value in pages.items():
        code, _, subpage = key.partition("/")
        page = known.get((int(code), int(subpage or 0)))
        new = bytes.fromhex(value)
        if page is None or len(new) != len(page.default):
            continue  # a page this LU does not have (a different profile): nothing to take
        changed |= new != current_page(lu, page)
        _set_page(lu, page, new)
    return changed


# -- the pages ---------------------------------------------------------------------------------
def mask(size: int, *bits: tuple[int, int]) -> bytes:
    buf = bytearray(size)
    for offset, bit in bits:
        buf[offset] |= bit
    return bytes(buf)


_D_SENSE = Binding(2, 0x04, "d_sense")

# 0Ah Control (SPC-5 7.5.10): TST 000b, D_SENSE changeable, GLTSD, QUEUE ALGORITHM MODIFIER 1,
# BUSY TIMEOUT PERIOD FFFFh (unlimited).
CONTROL = ModePage(0x0A, 0, page_bytes(0x0A, bytes((0x02, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0))),
                   mask(12, (2, 0x04)), (_D_SENSE,))
# 0Ah/01h Control Extension (SPC-5 7.5.11): nothing enabled.
CONTROL_EXTENSION = ModePage(0x0A, 0x01, page_bytes(0x0A, bytes(28), 0x01), bytes(32))
# 1Ch Informational Exceptions Control (SPC-5 7.5.14): DEXCPT set, no reporting.
INFORMATIONAL_EXCEPTIONS = ModePage(0x1C, 0, page_bytes(0x1C, bytes((0x08,)) + bytes(9)), bytes(12))

SPC_MODE_PAGES: tuple[ModePage, ...] = (CONTROL, CONTROL_EXTENSION, INFORMATIONAL_EXCEPTIONS)


SWP = 0x08  # control mode page byte 4 bit 3: software write protect (SPC-5 7.5.10)
_CONTROL_KEY = _state_key(CONTROL)


def software_write_protect(lu: LogicalUnit) -> bool:
    """The current control mode page's SWP bit (a device type that makes it changeable, as the disk
    does, honours it): one dict lookup, as every WRITE asks."""
    page = lu.mode_state.get(_CONTROL_KEY)
    return page is not None and bool(page[4] & SWP)


def control_tst(lu: LogicalUnit) -> int:
    """The TASK SET TYPE field of the current control mode page (SAM-5 8.3)."""
    return current_page(lu, CONTROL)[2] >> 5
