"""SANITIZE (SBC-4 5.30; the sanitize operations of SBC-4 4.11).

OVERWRITE writes the initialization pattern over every block (OVERWRITE COUNT passes, INVERT flipping
it between passes); BLOCK ERASE (a thin LU: LBPME 1) deallocates every block, which then reads back
as zeroes (WABEREQ 01b in the Block Device Characteristics VPD page); CRYPTO ERASE, offered where the
store keeps its data encrypted (``BackingStore.supports_crypto_erase``: an LU with an
``encryption_key_file``), has the store replace its key, so what was written reads back as noise
(WACEREQ 01b: reads still complete with GOOD); EXIT FAILURE MODE leaves the failure mode a failed
sanitize with AUSE left.

The operation runs on a thread of its own, through the store in chunks (``sanitize_rate`` bytes per
second at most), so the other LUs' commands go on. While it runs the LU's gate (``lu.gate``, looked at
before any unit attention) ends every command but INQUIRY, REPORT LUNS and LOG SENSE with NOT READY,
SANITIZE IN PROGRESS and the progress indication in the sense-key specific bytes; REQUEST SENSE
returns that sense as its data. Task management and resets do not stop it (SBC-4 4.11.1): an aborted
SANITIZE command ends, its operation goes on. A failed operation leaves the LU in sanitize failure mode:
commands that access the medium end with MEDIUM ERROR, SANITIZE COMMAND FAILED until a SANITIZE
completes, or until EXIT FAILURE MODE when the failed one had AUSE set.

The other processes serving the LU (hptd's workers, the gateways of one rbd image) are told when an
operation starts, how far it got (every :data:`SHARE_EVERY` seconds) and how it ended
(``take_shared``): their commands meet the same gate, and the failure mode is the LU's, not one
process's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    SANITIZE_COMMAND_FAILED,
    SANITIZE_IN_PROGRESS,
)
from hpt.scsi.core.opcodes import OpcodeEntry
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import check_ready, check_writable, task_aborted
from hpt.scsi.sbc.provisioning import deallocate
from hpt.scsi.sbc.vpd import can_crypto_erase

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.store.base import BackingStore

log = logging.getLogger("hpt.scsi")

SANITIZE = 0x48
OVERWRITE, BLOCK_ERASE, CRYPTO_ERASE, EXIT_FAILURE_MODE = 0x01, 0x02, 0x03, 0x1F
IMMED, AUSE = 0x80, 0x20  # CDB byte 1
INVERT, TEST, COUNT = 0x80, 0x60, 0x1F  # overwrite parameter list byte 0
PARAMETER_LIST_LENGTH_FIELD = 7
CHUNK = 1 << 20  # bytes written or deallocated at a time
_POLL = 0.05  # seconds between looks at whether a waiting SANITIZE command was aborted
#: Commands a sanitize in progress lets through (SBC-4 4.11.2); REQUEST SENSE gets the progress.
ALLOWED = frozenset({0x12, 0xA0, 0x4D})  # INQUIRY, REPORT LUNS, LOG SENSE
REQUEST_SENSE = 0x03
#: Seconds between reports of a running operation's progress to the LU's other processes.
SHARE_EVERY = 1.0


class SanitizeRun:
    """One sanitize operation: ``work(run)`` on its own thread, which reports its bytes through
    :meth:`advance` (paced to ``rate`` bytes per second; 0: no limit)."""

    def __init__(self, total: int, ause: bool, rate: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.ause = ause
        self.rate = rate
        self.failed = False
        self.ended = threading.Event()
        self._started = time.monotonic()

    @property
    def running(self) -> bool:
        return not self.ended.is_set()

    def progress(self) -> int:
        """PROGRESS INDICATION: the fraction done, in 65536ths (SPC-5 4.4.2.4.4)."""
        return min(self.done * 65536 // self.total, 0xFFFF)

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self.rate:
            ahead = self.done / self.rate - (time.monotonic() - self._started)
            if ahead > 0:
                time.sleep(ahead)


def gate(lu: LogicalUnit, entry: OpcodeEntry, cmd: ScsiCommand) -> ScsiResult | None:
    """``lu.gate`` while a sanitize runs or failed: the result that refuses ``cmd``, or None."""
    run: SanitizeRun | None = lu.state.sanitize
    op = entry.opcode
    if run is None or op in ALLOWED:
        return None
    if run.running:
        err = SenseError(SANITIZE_IN_PROGRESS, progress=run.progress())
        if op == REQUEST_SENSE:
            return cmd.reply(err.encode(bool(cmd.cdb[1] & 0x01)), cmd.cdb[4])
        return lu.check_condition(err)
    if op != SANITIZE and (entry.store_work or entry.io is not None):  # failure mode (SBC-4 4.11.3)
        return lu.check_condition(SenseError(SANITIZE_COMMAND_FAILED))
    return None


def _check_cdb(cdb: bytes | memoryview) -> int:
    """The service action, once the reserved bit (byte 1 bit 6) and bytes 2..6 are zero."""
    if cdb[1] & 0x40:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=6)
    for i in range(2, 7):
        if cdb[i]:
            raise SenseError(INVALID_FIELD_IN_CDB, field=i)
    return cdb[1] & 0x1F


def _overwrite_pattern(lu: LogicalUnit, cmd: ScsiCommand, plen: int) -> tuple[bytes, int, bool]:
    """The overwrite parameter list (SBC-4 5.30.3): pattern, OVERWRITE COUNT and INVERT, checked."""
    if not 4 < plen <= lu.block_size + 4:
        raise SenseError(INVALID_FIELD_IN_CDB, field=PARAMETER_LIST_LENGTH_FIELD)
    data = parameter_list(cmd, plen)
    b0 = data[0]
    if b0 & TEST:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0, bit=6, in_cdb=False)
    if not b0 & COUNT:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0, bit=4, in_cdb=False)
    ipl = u16(data, 2)
    if not ipl or ipl > lu.block_size or ipl + 4 != plen:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=2, in_cdb=False)
    return bytes(data[4:plen]), b0 & COUNT, bool(b0 & INVERT)


def _overwrite(store: BackingStore, size: int, bs: int, pattern: bytes, passes: int, invert: bool,
               run: SanitizeRun) -> None:
    """OVERWRITE COUNT passes of the pattern, repeated from the start of every block, over ``size``
    bytes; INVERT flips it between passes (the last pass writes it as given)."""
    block = (pattern * (bs // len(pattern) + 1))[:bs]
    chunk = block * (CHUNK // bs)
    flipped = bytes(b ^ 0xFF for b in chunk)
    view = memoryview(chunk)
    for n in range(passes):
        buf = memoryview(flipped) if invert and (passes - n) % 2 == 0 else view
        offset = 0
        while offset < size:
            length = min(CHUNK, size - offset)
            store.write_from(offset, buf[:length])
            offset += length
            run.advance(length)
    store.sync()


def _block_erase(store: BackingStore, size: int, run: SanitizeRun) -> None:
    """Deallocate every block, a chunk at a time (reads return zeroes: LBPRZ)."""
    offset = 0
    while offset < size:
        length = min(CHUNK * 16, size - offset)
        deallocate(store, offset, length)
        offset += length
        run.advance(length)
    store.sync()


def _crypto_erase(store: BackingStore, size: int, run: SanitizeRun) -> None:
    """A new key for every block at once: the store's ``crypto_erase``."""
    store.crypto_erase()
    run.advance(size)


def _gate(lu: LogicalUnit, run: SanitizeRun | None) -> None:
    """Put ``run``'s gate on the LU (the caller holds its lock); None: take it away."""
    lu.state.sanitize = run
    lu.gate = None if run is None else partial(gate, lu)


def _share(lu: LogicalUnit, run: SanitizeRun | None) -> None:
    """Tell the LU's other processes (if any) the operation's state (None: there is none, it completed)."""
    shared = lu.pr.shared
    if shared is not None:
        state = None if run is None else {"total": run.total, "done": run.done, "ause": run.ause,
                                          "failed": run.failed, "running": run.running}
        shared.share("sanitize", state)


def take_shared(lu: LogicalUnit, state: dict[str, Any] | None) -> None:
    """An operation through another process serving the LU (``DeviceProfile.shared``): its gate here,
    with its progress; None: it completed (or its failure mode was left), and what this process's
    store handle keeps of the medium is read again (a CRYPTO ERASE's new key) before the gate goes."""
    if state is None:
        if lu.store is not None:
            lu.store.refresh()
        _gate(lu, None)
        return
    run = SanitizeRun(int(state["total"]), bool(state["ause"]), 0)
    run.done, run.failed = int(state["done"]), bool(state["failed"])
    if not state["running"]:
        run.ended.set()
    _gate(lu, run)


def _run(lu: LogicalUnit, run: SanitizeRun, work: Callable[[], None]) -> None:
    """The operation's thread: do the work, then leave the LU (or keep it in failure mode)."""
    try:
        work()
    except Exception:  # noqa: BLE001 - any failure puts the LU in sanitize failure mode
        log.exception("lun %d: sanitize failed; the LU is in sanitize failure mode", lu.lun)
        run.failed = True
    with lu.lock:
        if not run.failed:
            _gate(lu, None)
        run.ended.set()
        _share(lu, None if not run.failed else run)


def _reporting(lu: LogicalUnit, run: SanitizeRun) -> None:
    """Report the progress of ``run`` to the LU's other processes until it ends."""
    while not run.ended.wait(SHARE_EVERY):
        with lu.lock:
            if run.running:
                _share(lu, run)


def _start(lu: LogicalUnit, total: int, ause: bool, work: Callable[[SanitizeRun], None]) -> SanitizeRun:
    run = SanitizeRun(total, ause, lu.params.extra.get("sanitize_rate", 0))
    with lu.lock:
        _gate(lu, run)
        _share(lu, run)  # before any block changes: the others' commands meet the gate from now on
    threading.Thread(target=_run, args=(lu, run, partial(work, run)), name=f"hpt-sanitize-{lu.lun}",
                     daemon=True).start()
    if lu.pr.shared is not None:
        threading.Thread(target=_reporting, args=(lu, run), name=f"hpt-sanitize-{lu.lun}-progress",
                         daemon=True).start()
    return run


def _wait(lu: LogicalUnit, cmd: ScsiCommand, run: SanitizeRun) -> ScsiResult:
    """IMMED 0: the command ends with the operation, or as soon as task management aborts it (the
    operation then goes on; the engine answers the aborted command)."""
    while not run.ended.wait(_POLL):
        if task_aborted(lu, cmd):
            return GOOD
    if run.failed:
        raise SenseError(SANITIZE_COMMAND_FAILED)
    return GOOD


def _exit_failure_mode(lu: LogicalUnit) -> ScsiResult:
    """EXIT FAILURE MODE: leaves the failure mode of a sanitize that failed with AUSE set; GOOD when
    the LU is not in failure mode."""
    with lu.lock:
        run: SanitizeRun | None = lu.state.sanitize
        if run is None:
            return GOOD
        if not run.ause:
            raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
        _gate(lu, None)
        _share(lu, None)
    return GOOD


def sanitize(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 SANITIZE: OVERWRITE, BLOCK ERASE (thin LUs), CRYPTO ERASE (stores that encrypt) or EXIT
    FAILURE MODE; other service actions are INVALID FIELD IN CDB (5.30.1). Only OVERWRITE takes a
    parameter list. A read-only (or software write protected) LU refuses with DATA PROTECT, WRITE
    PROTECTED."""
    cdb = cmd.cdb
    sa = _check_cdb(cdb)
    plen = u16(cdb, PARAMETER_LIST_LENGTH_FIELD)
    if (sa not in (OVERWRITE, BLOCK_ERASE, CRYPTO_ERASE, EXIT_FAILURE_MODE)
            or (sa == BLOCK_ERASE and not lu.params.thin)
            or (sa == CRYPTO_ERASE and not can_crypto_erase(lu.store))):
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    if sa != OVERWRITE and plen:
        raise SenseError(INVALID_FIELD_IN_CDB, field=PARAMETER_LIST_LENGTH_FIELD)
    if sa == EXIT_FAILURE_MODE:
        return _exit_failure_mode(lu)
    check_ready(lu)
    check_writable(lu)
    store = lu.store
    assert store is not None
    size = lu.nblocks * lu.block_size
    ause = bool(cdb[1] & AUSE)
    if sa == OVERWRITE:
        pattern, passes, invert = _overwrite_pattern(lu, cmd, plen)
        bs = lu.block_size
        run = _start(lu, size * passes, ause,
                     lambda r: _overwrite(store, size, bs, pattern, passes, invert, r))
    elif sa == CRYPTO_ERASE:
        run = _start(lu, size, ause, lambda r: _crypto_erase(store, size, r))
    else:
        run = _start(lu, size, ause, lambda r: _block_erase(store, size, r))
    if cdb[1] & IMMED:
        return GOOD
    return _wait(lu, cmd, run)
