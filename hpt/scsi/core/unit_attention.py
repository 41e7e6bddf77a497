"""Unit attention conditions, queued per I_T nexus (SAM-5 5.14, SPC-5 5.14)."""

from __future__ import annotations

from collections import OrderedDict

from hpt.scsi.core.constants import Asc

#: Lost nexuses whose queue (I_T NEXUS LOSS OCCURRED) is kept for their return; the oldest beyond this
#: are forgotten (they would get POWER ON instead): initiators that pick a new ISID per session, such
#: as libiscsi, would otherwise grow the table without end.
MAX_LOST = 1024


class UnitAttentions:
    """Pending unit attentions per I_T nexus (keyed by initiator port name).

    A nexus the LU has never seen gets POWER ON, RESET, OR BUS DEVICE RESET OCCURRED on its first
    command (SAM-5 6.3.3); ``establish`` queues a condition for all or all-but-one nexuses.
    """

    def __init__(self, initial: Asc | None) -> None:
        self._initial = initial
        self._queues: dict[str, OrderedDict[Asc, None]] = {}
        self._lost: OrderedDict[str, None] = OrderedDict()  # lost nexuses, oldest first

    def _queue(self, nexus_key: str) -> OrderedDict[Asc, None]:
        q = self._queues.get(nexus_key)
        if q is None:
            q = OrderedDict()
            if self._initial is not None:
                q[self._initial] = None
            self._queues[nexus_key] = q
        return q

    def establish(self, asc: Asc, *, only: str | None = None, exclude: str | None = None) -> None:
        """Queue ``asc`` for one nexus (``only``), or for every known nexus except ``exclude``."""
        if only is not None:
            self._queue(only)[asc] = None
            return
        for key, q in list(self._queues.items()):  # a copy: a command may add a nexus meanwhile
            if key != exclude:
                q[asc] = None
        # nexuses not seen yet get the initial POWER ON condition, which outranks these

    def pending(self, nexus_key: str) -> bool:
        """Whether this nexus has a condition to report (or has never been seen, or was lost): the
        fast lane (``LogicalUnit.quick``) leaves such a command to the full path, which reports it."""
        return bool(self._queues.get(nexus_key, True)) or nexus_key in self._lost

    def peek(self, nexus_key: str) -> Asc | None:
        q = self._queue(nexus_key)
        return next(iter(q)) if q else None

    def pop(self, nexus_key: str) -> Asc | None:
        """Take the oldest condition for this nexus (reported once, SAM-5 5.14)."""
        if self._lost:
            self._lost.pop(nexus_key, None)  # back in use: no longer a candidate to forget
        q = self._queue(nexus_key)
        if not q:
            return None
        asc, _ = q.popitem(last=False)
        return asc

    def clear(self, nexus_key: str) -> None:
        self._queue(nexus_key).clear()

    def forget(self, nexus_key: str) -> None:
        self._queues.pop(nexus_key, None)
        self._lost.pop(nexus_key, None)

    def nexus_lost(self, nexus_key: str, asc: Asc) -> None:
        """The nexus is gone: its queue holds only ``asc`` (I_T NEXUS LOSS OCCURRED) for its return;
        the oldest lost nexuses beyond ``MAX_LOST`` are forgotten."""
        self.clear(nexus_key)
        self.establish(asc, only=nexus_key)
        self._lost.pop(nexus_key, None)
        self._lost[nexus_key] = None
        while len(self._lost) > MAX_LOST:
            oldest, _ = self._lost.popitem(last=False)
            self._queues.pop(oldest, None)

    def __len__(self) -> int:
        """How many nexuses have a queue."""
        return len(self._queues)
