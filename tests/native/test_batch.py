"""Completion batches: deferred work runs once per key when the batch ends, and only inside one."""

from __future__ import annotations

from hpt.native.batch import batch, later


def test_work_is_deferred_once_per_key_to_the_end_of_the_batch() -> None:
    ran: list[str] = []
    with batch():
        for _ in range(5):
            assert later("conn-a", lambda: ran.append("a"))
        assert later("conn-b", lambda: ran.append("b"))
        assert ran == []  # nothing yet: the completions of the batch are still being delivered
    assert ran == ["a", "b"]


def test_outside_a_batch_the_caller_does_the_work() -> None:
    assert not later("conn", lambda: None)


def test_a_failing_deferred_work_does_not_stop_the_others() -> None:
    ran: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    with batch():
        later(1, boom)
        later(2, lambda: ran.append(2))
    assert ran == [2]
    assert not later(3, lambda: None)  # the batch is over
