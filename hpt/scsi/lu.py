"""A logical unit: parameters, shared SPC state and dispatch through its opcode table (SAM-5 4.6.4)."""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass, field
from time import monotonic_ns
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.alua import refusal
from hpt.scsi.core.blocking import run_blocking
from hpt.scsi.core.command import ABORTED, TASK_SET_FULL, Completion, Nexus, ScsiCommand, ScsiResult, TaskAttr
from hpt.scsi.core.constants import (
    CAPACITY_DATA_CHANGED,
    INTERNAL_TARGET_FAILURE,
    INVALID_FIELD_IN_CDB,
    INVALID_OPCODE,
    LU_COMMUNICATION_TIMEOUT,
    POWER_ON_RESET,
    SPACE_ALLOCATION_FAILED_WRITE_PROTECT,
    UNRECOVERED_READ_ERROR,
    WRITE_ERROR,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.core.faults import Fault, Faults
from hpt.scsi.core.opcodes import (
    NACA,
    NO_RANGE,
    VARIABLE_LENGTH,
    Access,
    OpcodeEntry,
    OpcodeTable,
    control_offset,
)
from hpt.scsi.core.sense import SenseError, build_sense
from hpt.scsi.core.stats import READ as READ_KIND
from hpt.scsi.core.stats import WRITE as WRITE_KIND
from hpt.scsi.core.stats import LuStats
from hpt.scsi.core.stream import stream_io
from hpt.scsi.core.taskset import Task, TaskSet, TaskSetFull
from hpt.scsi.core.unit_attention import UnitAttentions
from hpt.scsi.pr.reservations import Reservations

if TYPE_CHECKING:
    from collections.abc import Callable

    from hpt.scsi.core.profile import DeviceProfile
    from hpt.scsi.target import ScsiTarget
    from hpt.store.base import BackingStore
    from hpt.store.shared import SharedObject

log = logging.getLogger("hpt.scsi")
# Store work over more blocks than this runs on the blocking pool even on a store in memory, so a WRITE
# SAME or UNMAP over the whole LU does not hold the transport's thread (and the commands behind it).
LONG_BLOCKS = 1 << 15
QUICK_READ, QUICK_WRITE = 1, 2  # what LogicalUnit.enter_quick lets a fast lane do
# a network store's errors for servers that do not answer (librados: ETIMEDOUT after its op timeouts)
_UNREACHABLE = frozenset((errno.ETIMEDOUT, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNREFUSED,
                          errno.EHOSTUNREACH))
_SIMPLE = TaskAttr.SIMPLE  # read once: an enum member lookup costs a quarter of a microsecond


@dataclass(slots=True)
class LuParams:
    """What an administrator configures for a logical unit (names follow tgt's LU params)."""

    block_size: int = 512
    readonly: bool = False
    thin: bool = False
    removable: bool = False
    vendor: str = "HPT"
    product: str = "VIRTUAL-DISK"
    revision: str = "0001"
    serial: str = ""
    naa: int | None = None  # 64-bit NAA IEEE Registered (type 5) identifier; derived when None
    rotation_rate: int = 1  # SBC-4 6.6.3: 1 = non-rotating medium
    write_cache: bool = True
    optimal_xfer_blocks: int = 0
    max_xfer_blocks: int = 0  # 0: no limit beyond the transport's
    queue_depth: int = 128  # commands in the task set at once; beyond: TASK SET FULL (SAM-5 5.3.3)
    extra: dict[str, Any] = field(default_factory=dict)  # keys of the device profile's own schema


class LogicalUnit:
    """A LU of any device type: its device profile's opcode table over the shared SPC state.

    State shared by SPC and the device-type code: unit attentions (``ua``), reservations (``pr``),
    mode-page state (``d_sense``, ``wce``, ``mode_state``) and the backing ``store``; the profile's
    own per-LU state is ``state`` (its ``state(params)`` factory makes it unless one is given).
    """

    def __init__(
        self,
        profile: DeviceProfile,
        params: LuParams,
        store: BackingStore | None = None,
        state: Any = None,
        *,
        lun: int = 0,
        target: ScsiTarget | None = None,
        shared: Callable[[str], SharedObject | None] | None = None,
    ) -> None:
        self.profile = profile
        self._shared = shared
        self.lun = lun
        self.params = params
        self.table: OpcodeTable = profile.table(params).offered_by(store)
        self.store = store
        self.target = target
        self.state = profile.state(params) if state is None else state
        self.ua = UnitAttentions(POWER_ON_RESET)
        # held for state changes (unit attentions, reservations, mode pages) and state-only commands,
        # never across store I/O; the task set orders commands and keeps range-changing ones atomic
        self.lock = threading.RLock()
        self.pr = Reservations(self)  # shared by the gateways when the store says so: after the lock
        self.d_sense = False  # control mode page D_SENSE (SPC-5 7.5.10)
        self.wce = params.write_cache  # caching mode page WCE (SBC-4 6.5.5)
        self.mode_state: dict[Any, Any] = {}  # other saved/current mode-page fields, owned by mode.py
        self.tasks = TaskSet(params.queue_depth, self.lock)
        self.faults: Faults | None = None  # injected faults (``inject``); None keeps submit free of them
        # a long operation that owns the LU (SANITIZE, SBC-4 4.11): answers the commands it refuses before
        # any unit attention; None keeps submit free of it
        self.gate: Callable[[OpcodeEntry, ScsiCommand], ScsiResult | None] | None = None
        self.stats = LuStats()  # commands, bytes, errors and latency by kind (hptd's metrics)
        if store is not None:
            store.watch_size(self._capacity_changed)

    def shared_state(self, name: str) -> SharedObject | None:
        """The object ``name`` (``"pr"``) every process serving this LU shares: its store's (the gateways
        of one rbd image), else the one ``shared`` gives (hptd's worker processes), else None."""
        obj = None if self.store is None else self.store.shared_state(name)
        if obj is None and self._shared is not None:
            obj = self._shared(name)
        return obj

    # -- geometry ------------------------------------------------------------------------------
    @property
    def block_size(self) -> int:
        return self.params.block_size

    @property
    def nblocks(self) -> int:
        return 0 if self.store is None else self.store.size // self.params.block_size

    def _capacity_changed(self) -> None:
        """The store's size changed under the LU (a volume resized by its cluster): every I_T nexus
        gets CAPACITY DATA HAS CHANGED (ASC 2Ah/09h), so its initiator reads the capacity again."""
        log.info("lun %d: capacity changed to %d blocks", self.lun, self.nblocks)
        with self.lock:
            self.ua.establish(CAPACITY_DATA_CHANGED)

    def close(self, timeout: float = 30.0) -> bool:
        """Wait for the commands in flight to end (True when they did in time), then :meth:`release`."""
        deadline = time.monotonic() + timeout
        while len(self.tasks) and time.monotonic() < deadline:
            time.sleep(0.005)
        drained = not len(self.tasks)
        if not drained:
            log.warning("lun %d: %d commands still in flight after %.0f s", self.lun, len(self.tasks),
                        timeout)
        self.release()
        return drained

    def release(self) -> None:
        """Close the store and what the profile's state holds open (a drive's medium), at once."""
        self.pr.close()
        if self.store is not None:
            self.store.close()
        if self.profile.close is not None:
            self.profile.close(self)

    # -- results -------------------------------------------------------------------------------
    def check_condition(self, err: SenseError) -> ScsiResult:
        return ScsiResult(Status.CHECK_CONDITION, err.encode(self.d_sense))

    # -- dispatch ------------------------------------------------------------------------------
    def submit(self, cmd: ScsiCommand, done: Completion) -> None:
        """SAM-5 5.1 Execute Command, asynchronously: ``done(result)`` is called exactly once, on this
        thread or another one (a store's completion thread, the blocking pool). An aborted command's
        ``done`` gets :data:`ABORTED` (send nothing; its buffers are free once it is called).

        The preamble (ACA and NACA, table lookup, unit attention, reservation conflict) runs under the
        LU's state lock, then the task set decides when the command starts (``TaskSet``)."""
        started = monotonic_ns()
        store = self.store
        with self.lock:
            entry, early = self._preamble(cmd)
            if self.faults is not None and early is None:
                early, done = self._fault(entry, cmd, done)  # type: ignore[arg-type]
            # the in-memory fast path: a SIMPLE READ, WRITE or state command runs here and now
            inline = (early is None and cmd.attr is _SIMPLE and not entry.exclusive  # type: ignore[union-attr]
                      and (store is None or store.inline)
                      and (entry.io is not None or not entry.store_work)  # type: ignore[union-attr]
                      and cmd.stream is None and self.tasks.try_inline())
            if inline and not entry.store_work:  # type: ignore[union-attr]
                early = self._run(entry, cmd)  # type: ignore[arg-type]  # a state command, under the lock
                self.tasks.leave_inline()
        if early is not None:
            self.stats.end(entry.access if entry is not None else None, cmd, early, started)
            done(early)
            return
        assert entry is not None
        if inline:
            try:
                result = entry.handler(self, cmd)
            except Exception as err:  # noqa: BLE001 - every failure becomes the command's status
                result = self._failure(entry, err)
            finally:
                self.tasks.leave_inline()
            self.stats.end(entry.access, cmd, result, started)
            done(result)
            return
        lba, end, exclusive = entry.span(cmd.cdb) if entry.span is not None else NO_RANGE
        task = Task(lambda: None, cmd.attr, lba, end, exclusive, cmd.nexus.initiator_port, cmd.tag,
                    lambda: done(ABORTED))
        task.start = lambda: self._start(task, entry, cmd, done, started)
        try:
            self.tasks.submit(task)
        except TaskSetFull:
            self.stats.end(entry.access, cmd, TASK_SET_FULL, started)
            done(TASK_SET_FULL)

    def quick(self, cdb: bytes, nexus: Nexus, buf: memoryview) -> int:
        """The fast lane of a SIMPLE command whose opcode entry has one (READ on a store in memory):
        the whole of SAM-5 Execute Command on the caller's thread, with no command or result object.
        Returns the bytes moved into ``buf``, or -1 when the command must take :meth:`submit`: see
        :meth:`enter_quick`, or a check that fails, whose sense the full path then gives (the lane
        has no side effect before it answers)."""
        entry = self.table.lookup(cdb)
        store = self.store
        if (entry is None or entry.quick is None or cdb[entry.cdb_len - 1] & NACA or store is None
                or not store.inline):
            return -1
        started = monotonic_ns()
        if not self.enter_quick(nexus.initiator_port, nexus.rtpi):
            return -1
        n = -1
        try:
            n = entry.quick(self, cdb, buf)
        finally:
            self.leave_quick(started, *((1, n) if n >= 0 else (0, 0)))
        return n

    @property
    def waits(self) -> bool:
        """Serving its commands may wait for a device on the caller's thread (``BackingStore.waits``; a
        profile that is not ``store_bound``; no store): a transport's event loop must not run them."""
        store = self.store
        return store is None or store.waits or not self.profile.store_bound

    def enter_quick(self, port: str, rtpi: int | None = None) -> int:
        """What SIMPLE commands of this initiator port may do in a fast lane now: QUICK_READ, and
        QUICK_WRITE when the profile says writes may (``quick_writable``); 0 while there is a unit
        attention to report, a reservation that may conflict, injected faults or a gate, no store, a
        LU not ready, a task set that holds something back, or target port ``rtpi`` (None: any) in
        an ALUA state that is not active. Not 0 counts the lane as one task running inline until
        :meth:`leave_quick`, so ORDERED and range-locking commands wait for it.
        (Whether the lane can reach the store is the store's to say: ``direct_source``.)"""
        if self.faults is not None or self.gate is not None or self.store is None:
            return 0
        restricted = self.target.port_groups.restricted if self.target is not None else None
        if restricted and (rtpi is None or rtpi in restricted):
            return 0
        profile = self.profile
        with self.lock:
            if self.ua.pending(port) or self.pr.registrations or self.pr.spc2_holder is not None:
                return 0
            try:
                if profile.ready is not None:
                    profile.ready(self)
            except SenseError:
                return 0
            writable = profile.quick_writable is not None and profile.quick_writable(self)
            if not self.tasks.try_inline():
                return 0
        return QUICK_READ | (QUICK_WRITE if writable else 0)

    def leave_quick(self, started: int, reads: int = 0, read_bytes: int = 0, writes: int = 0,
                    written: int = 0, failed: int = 0, failed_writes: int = 0) -> None:
        """The lane entered with :meth:`enter_quick` is done, having run these READs and WRITEs
        (``failed``, ``failed_writes``: those the store failed, answered MEDIUM ERROR)."""
        self.tasks.leave_inline()
        for kind, count, what in ((READ_KIND, failed, "READs"), (WRITE_KIND, failed_writes, "WRITEs")):
            if count:
                log.error("lun %d: %d %s failed in the store (fast lane): MEDIUM ERROR", self.lun, count,
                          what)
                self.stats.add(kind, 0, started, error=True, count=count)
        if reads:
            self.stats.add(READ_KIND, read_bytes, started, count=reads)
        if writes:
            self.stats.add(WRITE_KIND, written, started, count=writes)

    def inject(self, fault: Fault) -> None:
        """Make the commands ``fault`` hits fail or misbehave (after the faults set before it) until
        :meth:`clear_faults`."""
        with self.lock:
            self.faults = (self.faults or Faults(())).adding(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults = None

    def _fault(self, entry: OpcodeEntry, cmd: ScsiCommand,
               done: Completion) -> tuple[ScsiResult | None, Completion]:
        """The result an injected fault ends ``cmd`` with (None: it runs), and the completion to give
        it: a delayed one answers ``fault.delay`` seconds after the command ends."""
        found = self.faults.find(entry, cmd.cdb) if self.faults is not None else None
        if found is None:
            return None, done
        fault, lba = found
        result = fault.result(entry, lba, self.d_sense)
        log.debug("lun %d %s: injected fault %s", self.lun, entry.name, fault.as_dict())
        if result is not None:
            return result, done
        delay = fault.delay
        return None, lambda late: threading.Timer(delay, done, (late,)).start()

    def execute(self, cmd: ScsiCommand) -> ScsiResult:
        """Run one command to its end on the caller's thread (tests, tools): :meth:`submit` and wait."""
        box: list[ScsiResult] = []
        ended = threading.Event()

        def done(result: ScsiResult) -> None:
            box.append(result)
            ended.set()

        self.submit(cmd, done)
        ended.wait()
        return box[0]

    def _preamble(self, cmd: ScsiCommand) -> tuple[OpcodeEntry | None, ScsiResult | None]:
        entry = self.table.lookup(cmd.cdb)
        # NormACA is 0: the ACA task attribute and the NACA bit are refused before a unit attention is
        # reported (SAM-5 5.2, 8.6.5; as LIO does)
        if cmd.attr == TaskAttr.ACA:
            return entry, self.check_condition(SenseError(INVALID_FIELD_IN_CDB))
        if entry is not None:
            if len(cmd.cdb) < entry.cdb_len:
                # shorter than its command (an Extended CDB AHS missing or cut short): no fields to read
                return entry, self.check_condition(SenseError(
                    INVALID_FIELD_IN_CDB, field=7 if cmd.cdb[0] == VARIABLE_LENGTH else 0))
            ctrl = control_offset(entry)
            if ctrl < len(cmd.cdb) and cmd.cdb[ctrl] & NACA:
                return entry, self.check_condition(SenseError(INVALID_FIELD_IN_CDB, field=ctrl, bit=2))
        gate = self.gate
        if gate is not None and entry is not None:
            refused = gate(entry, cmd)
            if refused is not None:
                return entry, refused
        key = cmd.nexus.initiator_port
        if entry is None or not entry.ua_exempt:
            ua = self.ua.pop(key)
            if ua is not None:
                return entry, ScsiResult(Status.CHECK_CONDITION, build_sense(ua, self.d_sense))
        if entry is None:
            return entry, self.check_condition(SenseError(INVALID_OPCODE, field=0))
        # ALUA (SPC-5 5.16.2.4): a port in standby, unavailable or transitioning refuses most commands
        restricted = self.target.port_groups.restricted if self.target is not None else None
        if restricted and cmd.nexus.rtpi in restricted:
            asc = refusal(restricted[cmd.nexus.rtpi], entry.opcode, entry.service_action)
            if asc is not None:
                return entry, self.check_condition(SenseError(asc))
        if entry.access != Access.ALWAYS and self.pr.conflict(cmd.nexus, entry, cmd.cdb):
            return entry, ScsiResult(Status.RESERVATION_CONFLICT)
        return entry, None

    def _start(self, task: Task, entry: OpcodeEntry, cmd: ScsiCommand, done: Completion,
               started: int) -> None:
        """The task set started the task: state commands run here under the state lock, the data path
        submits to the store, other store work goes to the blocking pool unless the store is inline."""

        def complete(result: ScsiResult) -> None:
            self.tasks.finish(task)
            result = ABORTED if task.aborted else result
            self.stats.end(entry.access, cmd, result, started)
            done(result)

        store = self.store
        inline = store is None or store.inline
        io = entry.io
        if cmd.stream is not None:  # a large READ or WRITE in pieces, on any store (hpt.scsi.core.stream)
            io, inline = stream_io(entry, task), False
        if io is not None and not inline:
            try:
                io(self, cmd, lambda result: complete(self._io_result(entry, result)))
            except SenseError as err:
                complete(self.check_condition(err))
            except Exception as err:  # noqa: BLE001 - reported as the command's sense
                complete(self._failure(entry, err))
            return
        if entry.store_work and (not inline or task.end - task.lba > LONG_BLOCKS):
            run_blocking(lambda: complete(self._run(entry, cmd)))
            return
        if entry.store_work:
            complete(self._run(entry, cmd))
            return
        with self.lock:
            result = self._run(entry, cmd)
        complete(result)

    def _run(self, entry: OpcodeEntry, cmd: ScsiCommand) -> ScsiResult:
        try:
            return entry.handler(self, cmd)
        except Exception as err:  # noqa: BLE001 - every failure becomes the command's status
            return self._failure(entry, err)

    def _io_result(self, entry: OpcodeEntry, result: ScsiResult | BaseException) -> ScsiResult:
        return self._failure(entry, result) if isinstance(result, BaseException) else result

    def _failure(self, entry: OpcodeEntry, err: BaseException) -> ScsiResult:
        """A SenseError is CHECK CONDITION; a store OSError a medium (or space) error; anything else a
        HARDWARE ERROR with the traceback in the log."""
        if isinstance(err, SenseError):
            return self.check_condition(err)
        if isinstance(err, OSError):
            log.error("lun %d %s: backing store error: %s", self.lun, entry.name, err)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                # the store could not allocate the blocks (SBC-4 4.7.3, thin provisioning resource exhaustion)
                return self.check_condition(SenseError(SPACE_ALLOCATION_FAILED_WRITE_PROTECT))
            if err.errno == errno.EROFS:  # the store turned read-only (a network volume's snapshot)
                return self.check_condition(SenseError(WRITE_PROTECTED))
            if err.errno in _UNREACHABLE:  # a network store's servers did not answer in time
                return self.check_condition(SenseError(LU_COMMUNICATION_TIMEOUT))
            asc = WRITE_ERROR if entry.access == Access.WRITE else UNRECOVERED_READ_ERROR
            return self.check_condition(SenseError(asc))
        log.error("lun %d %s: handler failed", self.lun, entry.name, exc_info=err)
        return self.check_condition(SenseError(INTERNAL_TARGET_FAILURE))
