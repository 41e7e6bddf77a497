"""The task set of one logical unit: concurrency, task attributes, LBA range locks (SAM-5 8).

Commands of a LU run concurrently up to ``depth``; beyond it a command ends in TASK SET FULL
(SAM-5 5.3.3). The task attribute orders them (SAM-5 8.6, with QUEUE ALGORITHM MODIFIER 1:
unrestricted reordering of SIMPLE tasks):

* SIMPLE tasks start at once unless an ORDERED task ahead of them has not ended, or their LBA range
  conflicts with a task running or waiting ahead of them;
* an ORDERED task starts once every task that arrived before it has ended, and holds every later
  task until it ends;
* a HEAD OF QUEUE task starts at once, ahead of every waiting task.

A task that changes blocks as one unit (COMPARE AND WRITE, WRITE SAME, UNMAP, FORMAT UNIT ...) takes
its range exclusively: no overlapping task runs beside it, so it stays atomic while plain READs and
WRITEs of other ranges go on. The scheduler's lock is held for bookkeeping only, never across I/O.

Task management waits for the aborted tasks that are in the store, so nothing they do lands after its
answer; but a store that never returns must not hold the answer, nor the LU, for ever: after
``abort_wait`` seconds the function is answered anyway, and the tasks still in the store become
*stuck* (logged, counted in ``status()``): they no longer hold the depth, an ORDERED task or a range;
their buffers stay with them until the store returns, when they end unreported as any aborted task.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from hpt.scsi.core.command import TaskAttr

WHOLE = (0, 1 << 64)  # a range covering every LBA (FORMAT UNIT, a LU-wide state change)
ABORT_WAIT = 5.0  # seconds task management waits for aborted tasks in the store (initiators wait 15 s+)

log = logging.getLogger("hpt.scsi")


class Task:
    """One command in the task set: how to start it, its range and what aborting it means.

    ``start()`` runs (or submits) the command; whoever completes it calls :meth:`TaskSet.finish`.
    ``key`` is the I_T nexus (initiator port) and ``tag`` the transport's task tag, for task
    management. An aborted task is never reported to its initiator (``aborted``).
    """

    __slots__ = ("start", "attr", "lba", "end", "exclusive", "key", "tag", "aborted", "running", "on_abort")

    def __init__(self, start: Callable[[], None], attr: TaskAttr, lba: int, end: int, exclusive: bool,
                 key: str, tag: int, on_abort: Callable[[], None]) -> None:
        self.start = start
        self.attr = attr
        self.lba = lba
        self.end = end
        self.exclusive = exclusive
        self.key = key
        self.tag = tag
        self.aborted = False
        self.running = False
        self.on_abort = on_abort  # a waiting task that is aborted: give its buffers back, say nothing

    def overlaps(self, other: Task) -> bool:
        return self.lba < other.end and other.lba < self.end and (self.exclusive or other.exclusive)


class TaskSetFull(Exception):
    """The LU holds ``depth`` tasks already (SAM-5 5.3.3 TASK SET FULL)."""


class TaskSet:
    """Admission and ordering of one LU's tasks; see the module docstring for the rules."""

    def __init__(self, depth: int = 128, lock: threading.RLock | None = None) -> None:
        self.depth = depth
        # the LU passes its state lock (reentrant), so its preamble and try_inline share one hold
        self._lock = lock if lock is not None else threading.RLock()
        self._running: set[Task] = set()
        self._waiting: deque[Task] = deque()
        self._ordered_running = 0
        self._exclusive_running = 0
        self._drained: list[tuple[set[Task], Callable[[], None]]] = []  # (tasks to outlive, callback)
        self._inline = 0  # SIMPLE tasks running inline on their caller's thread (enter_inline)
        self.abort_wait = ABORT_WAIT
        self._stuck: set[Task] = set()  # aborted, answered, still in the store

    def __len__(self) -> int:
        return len(self._running) + len(self._waiting) + self._inline

    # -- the inline path -----------------------------------------------------------------------
    def try_inline(self) -> bool:
        """A SIMPLE task that changes no range as a unit, on a store in memory, may run right now on
        its caller's thread, with no Task of its own: True when nothing it must wait for is there (no
        task waiting, no ORDERED or range-locking task running, room in the depth). It then counts as
        running until :meth:`leave_inline`; it takes microseconds, so task management lets it end.
        The caller holds the task set's lock."""
        if (self._waiting or self._ordered_running or self._exclusive_running
                or len(self._running) + self._inline >= self.depth):
            return False
        self._inline += 1
        return True

    def leave_inline(self) -> None:
        with self._lock:
            self._inline -= 1
            go = self._schedule() if self._waiting else []
        for t in go:
            t.start()

    # -- admission -----------------------------------------------------------------------------
    def submit(self, task: Task) -> None:
        """Start the task now or queue it; TaskSetFull when the LU is at its depth."""
        with self._lock:
            if len(self._running) + len(self._waiting) + self._inline >= self.depth:
                raise TaskSetFull
            if (not self._waiting and not self._ordered_running and task.attr == TaskAttr.SIMPLE
                    and not task.exclusive and not self._exclusive_running):
                self._begin(task)  # the common case: nothing to order against
                go = [task]
            else:
                if task.attr == TaskAttr.HEAD_OF_QUEUE:
                    self._waiting.appendleft(task)
                else:
                    self._waiting.append(task)
                go = self._schedule()
        for t in go:
            t.start()

    def finish(self, task: Task) -> None:
        """The task ended (or its I/O did, for an aborted one): start what it held back."""
        with self._lock:
            if not task.running:
                if task not in self._stuck:
                    return
                self._stuck.discard(task)  # a stuck task's store I/O is back at last
                log.warning("aborted task %#x of %s: back from the store after task management gave up "
                            "waiting; its buffers are free", task.tag, task.key)
            else:
                self._leave(task)
            go = self._schedule() if self._waiting else []
            done = self._drains_done(task)
        for t in go:
            t.start()
        for cb in done:
            cb()

    def _leave(self, task: Task) -> None:
        task.running = False
        self._running.discard(task)
        if task.attr == TaskAttr.ORDERED:
            self._ordered_running -= 1
        if task.exclusive:
            self._exclusive_running -= 1

    def _begin(self, task: Task) -> None:
        task.running = True
        self._running.add(task)
        if task.attr == TaskAttr.ORDERED:
            self._ordered_running += 1
        if task.exclusive:
            self._exclusive_running += 1

    def _conflicts(self, task: Task, ahead: list[Task]) -> bool:
        if (self._exclusive_running or task.exclusive) and any(task.overlaps(r) for r in self._running):
            return True
        return any(task.overlaps(w) for w in ahead)

    def _schedule(self) -> list[Task]:
        """Start every waiting task the rules allow, in order; returns them (started outside the lock)."""
        go: list[Task] = []
        ahead: list[Task] = []  # tasks still waiting in front of the one considered
        for task in list(self._waiting):
            attr = task.attr
            if attr == TaskAttr.HEAD_OF_QUEUE:
                ok = not self._conflicts(task, [])
            elif attr == TaskAttr.ORDERED:
                ok = not self._running and not self._inline and not ahead
            else:
                ok = not self._ordered_running and not self._conflicts(task, ahead)
            if ok:
                self._waiting.remove(task)
                self._begin(task)
                go.append(task)
            else:
                ahead.append(task)
                if attr == TaskAttr.ORDERED:
                    break  # an ORDERED task holds every later one
            if self._ordered_running:
                break
        return go

    # -- task management -----------------------------------------------------------------------
    def abort(self, match: Callable[[Task], bool], done: Callable[[], None]) -> int:
        """Abort the matching tasks (SAM-5 7.2, 7.3, 7.4): waiting ones are dropped now, running ones
        are marked and end unreported when their I/O ends. ``done()`` runs once every matched running
        task has ended, so nothing an aborted command wrote lands after the task management response.
        Returns how many tasks matched."""
        with self._lock:
            dropped = [t for t in self._waiting if match(t)]
            for t in dropped:
                self._waiting.remove(t)
                t.aborted = True
            busy = {t for t in self._running if match(t)}
            for t in busy:
                t.aborted = True
            if busy:
                entry = (busy, done)
                self._drained.append(entry)
            go = self._schedule() if dropped and self._waiting else []
        for t in dropped:
            t.on_abort()
        for t in go:
            t.start()
        if not busy:
            done()
        else:
            timer = threading.Timer(self.abort_wait, self._give_up, (entry,))
            timer.daemon = True
            timer.start()
        return len(dropped) + len(busy)

    def _give_up(self, entry: tuple[set[Task], Callable[[], None]]) -> None:
        """``abort_wait`` is over: answer the function; the aborted tasks still in the store are stuck."""
        with self._lock:
            if not any(e is entry for e in self._drained):
                return  # they ended in time
            self._drained = [e for e in self._drained if e is not entry]
            stuck = [t for t in entry[0] if t.running]
            for t in stuck:
                self._leave(t)
                self._stuck.add(t)
            go = self._schedule() if self._waiting else []
        log.warning("task management answered after %.0f s with %d aborted tasks still in the store (%s): "
                    "they hold their buffers until the store returns", self.abort_wait, len(entry[0]),
                    ", ".join(f"{t.tag:#x} of {t.key}" for t in entry[0]))
        for t in go:
            t.start()
        entry[1]()

    def find(self, match: Callable[[Task], bool]) -> list[Task]:
        with self._lock:
            return [t for t in (*self._running, *self._waiting) if match(t)]

    def _drains_done(self, task: Task) -> list[Callable[[], None]]:
        if not self._drained:
            return []
        done = []
        keep = []
        for entry in self._drained:  # the entries themselves: _give_up finds its own by identity
            entry[0].discard(task)
            (keep if entry[0] else done).append(entry)
        self._drained = keep
        return [cb for _, cb in done]

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"running": len(self._running), "waiting": len(self._waiting), "depth": self.depth,
                    "stuck": len(self._stuck)}
