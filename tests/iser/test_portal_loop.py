"""The iSER portal's loop (``hpt/iser/portal.py``) over a fake device: when ``hv_serve`` stops at its
budget (``Device.more``: the CQ not emptied, so no completion event will come for what is left), the loop
serves the CQ again after its other descriptors, without waiting for the channel."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

from hpt.iser.portal import IserPortal


class BudgetDevice:
    """A device whose CQ holds ``rounds`` budgets' worth of completions the lanes take whole."""

    def __init__(self, portal: IserPortal, rounds: int) -> None:
        self.portal = portal
        self.fd, self._w = os.pipe()  # the completion channel: one event, then none
        os.write(self._w, b"e")
        self.left = rounds
        self.calls = 0
        self.more = False

    def watch(self, fds: list[int]) -> None:
        self.watched = fds

    def serve(self, lanes: list[object], ready: bool = False,
              linger_us: int = 0) -> list[tuple[int, int, int, int, int]]:
        self.calls += 1
        assert ready == (self.calls == 1)  # only the event's call saw the channel readable
        if ready:
            os.read(self.fd, 1)  # hv_serve takes the channel's event
        self.more = self.left > 0
        self.left -= 1
        if not self.more:
            self.portal._stopping = True  # the CQ is empty and armed: the test is over
        return []

    def close(self) -> None:
        os.close(self.fd)
        os.close(self._w)


def test_a_call_that_stops_at_its_budget_is_served_again_without_an_event() -> None:
    portal = IserPortal.__new__(IserPortal)
    device = BudgetDevice(portal, rounds=3)
    cm_r, cm_w = os.pipe()
    wake_r, wake_w = os.pipe()
    portal.__dict__.update(
        device=SimpleNamespace(verbs=device), cm_fd=cm_r, _wake_r=wake_r, conns={}, _drain_since={},
        _stopping=False, _woken=False, _cq_ready=False, address=("127.0.0.1", 3260),
        _shutdown=lambda: None)
    thread = threading.Thread(target=portal._run, daemon=True)
    thread.start()
    thread.join(5.0)
    try:
        assert not thread.is_alive(), f"the loop waited for an event that never comes ({device.calls} calls)"
        assert device.calls == 4  # the event's call, then one per spent budget, the last one emptying the CQ
        assert not portal._cq_ready
    finally:
        portal._stopping = True
        thread.join(1.0)
        device.close()
        for fd in (cm_r, cm_w, wake_r, wake_w):
            os.close(fd)
