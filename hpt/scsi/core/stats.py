"""Per-LU command statistics, counted where each command completes (``LogicalUnit.submit``).

Plain integers and one fixed array of latency buckets per kind of command, so the data path pays a few
additions per command; readers (hptd's Prometheus collector, ``hptadm --op stat``) copy them with
:meth:`LuStats.snapshot` when asked. A command is a *read* when it reads the medium and a *write* when
it changes the medium or the LU's state, as its opcode entry says for reservations (``Access``, SPC-5
5.13.1 table 64); every other command (INQUIRY, REPORT LUNS, TEST UNIT READY ...) is *other*. Latency
runs from the transport handing the command over to its status (SAM-5 5.1, Execute Command).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from time import monotonic_ns
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.opcodes import Access

if TYPE_CHECKING:
    from hpt.scsi.core.command import ScsiCommand, ScsiResult

READ, WRITE, OTHER = 0, 1, 2
KINDS = ("read", "write", "other")
#: kind of command by the opcode entry's reservation access, indexed by its value
_KIND = {Access.ALWAYS: OTHER, Access.READ: READ, Access.WRITE: WRITE, Access.CONFLICT: OTHER}
_KIND_OF = tuple(_KIND[Access(value)] for value in range(len(Access)))
#: latency bucket upper bounds in seconds (a command that took at most this long), then +Inf
LATENCY_BOUNDS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                  0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOUNDS_NS = tuple(round(b * 1e9) for b in LATENCY_BOUNDS)


_NB = len(LATENCY_BOUNDS) + 1  # buckets per kind, the last one beyond the bounds
# one flat array of counters: commands, errors and latency sums per kind, read and write bytes, buckets
_ERRORS, _LATENCY, _BYTES, _BUCKETS = 3, 6, 9, 11


class LuStats:
    """Counters of one LU's completed commands, by kind (``READ``, ``WRITE``, ``OTHER``): commands,
    errors (any status but GOOD, an aborted command included), the latency's sum and its buckets,
    and for READ and WRITE the bytes moved by the commands that ended GOOD.

    Completions come from several threads (store completions, the blocking pool, transports), so an
    update takes a lock held for a few additions: a counter never loses an increment, nor goes back."""

    __slots__ = ("counts", "_lock")

    def __init__(self) -> None:
        self.counts = [0] * (_BUCKETS + len(KINDS) * _NB)
        self._lock = threading.Lock()

    def end(self, access: Access | None, cmd: ScsiCommand, result: ScsiResult, started_ns: int) -> None:
        """Count one command that ended with ``result``; it was handed over at ``started_ns``
        (``time.monotonic_ns``); ``access`` is its opcode entry's (None: an unknown opcode)."""
        kind = OTHER if access is None else _KIND_OF[access]
        if result.status:
            self.add(kind, 0, started_ns, True)
        elif kind == READ:
            self.add(kind, min(result.in_len, cmd.expected_in), started_ns)
        elif kind == WRITE:
            self.add(kind, cmd.expected_out if result.out_len is None else result.out_len, started_ns)
        else:
            self.add(kind, 0, started_ns)

    def add(self, kind: int, nbytes: int, started_ns: int, error: bool = False, count: int = 1) -> None:
        """Count ``count`` commands of ``kind`` handed over at ``started_ns`` and ending now (a burst
        of the fast lane counts as one): errors, or ``nbytes`` moved in all."""
        ns = monotonic_ns() - started_ns
        bucket = _BUCKETS + kind * _NB + bisect_left(_BOUNDS_NS, ns)
        c = self.counts
        with self._lock:
            c[kind] += count
            c[_LATENCY + kind] += ns * count
            c[bucket] += count
            if error:
                c[_ERRORS + kind] += count
            elif kind != OTHER:
                c[_BYTES + kind] += nbytes

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A consistent copy: for each kind name, ``commands``, ``errors``, ``bytes`` (read and write
        only), ``latency_seconds`` (the sum) and ``buckets`` (cumulative counts per upper bound in
        seconds, ``"+Inf"`` last, as a Prometheus histogram has them)."""
        with self._lock:
            c = list(self.counts)
        out: dict[str, dict[str, Any]] = {}
        for kind, name in enumerate(KINDS):
            cumulative: dict[str, int] = {}
            total = 0
            first = _BUCKETS + kind * _NB
            for bound, count in zip((*LATENCY_BOUNDS, "+Inf"), c[first:first + _NB], strict=True):
                total += count
                cumulative[str(bound)] = total
            out[name] = {"commands": c[kind], "errors": c[_ERRORS + kind],
                         "latency_seconds": c[_LATENCY + kind] / 1e9, "buckets": cumulative}
            if kind != OTHER:
                out[name]["bytes"] = c[_BYTES + kind]
        return out
