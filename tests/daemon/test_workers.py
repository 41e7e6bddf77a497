"""hptd's worker processes, in one process: ``[daemon] workers`` in the configuration, and the main
process's state owner reached over real channels (AF_UNIX SOCK_SEQPACKET pairs) by two workers' ends:
compare-and-swap, notifications, TSIHs, reinstatement across workers."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from hpt.daemon.config import ConfigError, parse_config
from hpt.daemon.workers.channel import Channel, ChannelClosed, channel_pair
from hpt.daemon.workers.memory import MemoryTable
from hpt.daemon.workers.owner import StateOwner
from hpt.daemon.workers.remote import OwnedObject, Watches, WorkerSessions, owned_memory
from hpt.store.ram import PAGE, RamStore, shared_bytes

DISK = """
[[target]]
name = "iqn.2026-12.org.hpt.test:w"
  [[target.lun]]
  lun = 1
  {lun}
"""


def workers_config(workers: str, lun: str = 'store = "null"\nsize = "1M"', head: str = "") -> str:
    return f"[daemon]\nworkers = {workers}\n{head}\n" + DISK.format(lun=lun.replace("\n", "\n  "))


# -- configuration ---------------------------------------------------------------------------------


def test_workers_default_and_set() -> None:
    default = parse_config(DISK.format(lun='store = "ram"\nsize = "1M"')).daemon  # "auto": one per core
    assert default.workers_auto and default.workers == min(len(os.sched_getaffinity(0)), 256)
    assert parse_config(workers_config("1")).daemon.workers == 1
    file_lun = 'store = "file"\npath = "/tmp/x.img"\nsize = "1M"'
    assert parse_config(workers_config("2", file_lun)).daemon.workers == 2
    # a ram store's memory is one memfd every worker maps (hpt/daemon/workers/memory.py)
    assert parse_config(workers_config("2", 'store = "ram"\nsize = "1M"')).daemon.workers == 2
    # the main process serves [metrics], summing every worker's
    assert parse_config(workers_config("2", file_lun, '[metrics]\naddress = "127.0.0.1:9410"')).metrics.host


@pytest.mark.parametrize("value", ["0", "257", '"two"'])
def test_workers_out_of_range(value: str) -> None:
    with pytest.raises(ConfigError, match=r"test.toml:2: daemon.workers"):
        parse_config(workers_config(value), "test.toml")
    if value == '"two"':
        with pytest.raises(ConfigError, match=r'must be 1..256 or "auto", got "two"'):
            parse_config(workers_config(value), "test.toml")


def test_auto_workers_are_one_per_core_unless_one_process_must_serve() -> None:
    """workers = "auto": one worker per core this process may run on; one process, and why, when the
    configuration has what only one process serves (here a tape drive)."""
    auto = parse_config(workers_config('"auto"'), "test.toml").daemon
    assert auto.workers_auto and not auto.workers_note
    assert auto.workers == min(len(os.sched_getaffinity(0)), 256)
    single = parse_config(workers_config('"auto"', 'type = "tape"'), "test.toml").daemon
    assert single.workers == 1 and "a tape keeps its state in one process" in single.workers_note


@pytest.mark.parametrize(("lun", "head", "names", "why"), [
    ('type = "dvd"', "", "target[0].lun[0]", "a dvd keeps its state in one process"),
    ('store = "null"\nsize = "1M"\nremovable = true', "", "target[0].lun[0]",
     "a removable disk's PREVENT MEDIUM REMOVAL is one process's"),
    ('type = "tape"', "", "target[0].lun[0]", "a tape keeps its state in one process"),
    ('store = "null"\nsize = "1M"', '[[portal]]\naddress = "10.9.9.9:3260"\ntransport = "iser"',
     "portal[0].address", "an iser portal"),
])
def test_workers_refuse_what_one_process_keeps(lun: str, head: str, names: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(workers_config("2", lun, head), "test.toml")
    message = str(info.value)
    assert names in message and why in message and "test.toml:2: daemon.workers = 2" in message, message


# -- the state owner over channels -----------------------------------------------------------------


@dataclass
class FakeSession:
    """What the session table and a reinstatement look at."""

    initiator_name: str
    isid: int
    target_name: str
    tsih: int = 0
    closed: threading.Event = field(default_factory=threading.Event)

    def close(self, _reason: str) -> None:
        self.closed.set()


@dataclass
class End:
    """A worker's side: its channel, watches and session table."""

    channel: Channel
    watches: Watches
    sessions: WorkerSessions


@pytest.fixture
def ends() -> Iterator[tuple[StateOwner, End, End]]:
    mains: dict[int, Channel] = {}
    owner = StateOwner(mains.get)
    made: list[End] = []
    for index in (1, 2):
        main_sock, worker_sock = channel_pair()
        watches = Watches()
        holder: list[WorkerSessions] = []

        def handle(m: dict, _fds: list[int], watches: Watches = watches,
                   holder: list = holder) -> dict | None:
            return watches.deliver(m) if m["op"] == "notified" else holder[0].close_session(m)

        worker = Channel(worker_sock, handle, f"worker {index}")
        holder.append(WorkerSessions(worker))
        mains[index] = Channel(main_sock, lambda m, fds, i=index: owner.handle(i, m, fds), f"main {index}",
                               on_close=lambda i=index: owner.gone(i))
        mains[index].start()
        worker.start()
        made.append(End(worker, watches, holder[0]))
    yield owner, made[0], made[1]
    for end in made:
        end.channel.close()
    for channel in mains.values():
        channel.close()


def test_compare_and_swap(ends: tuple[StateOwner, End, End]) -> None:
    _owner, a, b = ends
    obj_a, obj_b = OwnedObject(a.channel, "t/1/pr", a.watches), OwnedObject(b.channel, "t/1/pr", b.watches)
    assert obj_a.read() == (b"", 0)
    assert obj_a.write(b"first", 0) == 1
    assert obj_b.write(b"stale", 0) is None  # changed since version 0: the writer must read again
    assert obj_b.read() == (b"first", 1)
    assert obj_b.write(b"\x00\xffbinary", 1) == 2
    assert obj_a.read() == (b"\x00\xffbinary", 2)
    assert OwnedObject(a.channel, "t/2/pr", a.watches).read() == (b"", 0)  # each object on its own


def test_notify_reaches_the_other_worker_and_waits(ends: tuple[StateOwner, End, End]) -> None:
    _owner, a, b = ends
    got: list[bytes] = []
    handled = threading.Event()

    def slow(payload: bytes) -> None:
        handled.wait(0.2)  # notify returns only after this handler did
        got.append(payload)

    obj_a, obj_b = OwnedObject(a.channel, "t/1/pr", a.watches), OwnedObject(b.channel, "t/1/pr", b.watches)
    obj_a.watch(lambda p: got.append(b"self: " + p))
    obj_b.watch(slow)
    assert obj_a.notify(b"ua for b") is True
    assert got == [b"ua for b"]  # not delivered to the notifier itself
    obj_b.close()
    assert obj_a.notify(b"nobody") is True
    assert got == [b"ua for b"]


def test_notify_reports_a_worker_that_does_not_answer(ends: tuple[StateOwner, End, End]) -> None:
    _owner, a, b = ends
    stuck = threading.Event()
    OwnedObject(b.channel, "t/1/pr", b.watches).watch(lambda _p: stuck.wait(5))
    try:
        assert OwnedObject(a.channel, "t/1/pr", a.watches).notify(b"x", timeout=0.3) is False
    finally:
        stuck.set()


def test_tsihs_are_unique_across_workers(ends: tuple[StateOwner, End, End]) -> None:
    _owner, a, b = ends
    tsihs = [end.sessions.new_tsih() for end in (a, b, a, b)]
    assert len(set(tsihs)) == 4 and all(0 < t <= 0xFFFF for t in tsihs)


def test_reinstatement_closes_the_session_on_the_other_worker(ends: tuple[StateOwner, End, End]) -> None:
    owner, a, b = ends
    old = FakeSession("iqn.i", 0x23D000000042, "iqn.t", tsih=a.sessions.new_tsih())
    other = FakeSession("iqn.i", 0x23D000000043, "iqn.t", tsih=a.sessions.new_tsih())
    assert a.sessions.add(old) is None  # type: ignore[arg-type]
    assert a.sessions.add(other) is None  # type: ignore[arg-type]
    assert owner.sessions() == {1: 2}
    new = FakeSession("iqn.i", 0x23D000000042, "iqn.t", tsih=b.sessions.new_tsih())
    b.sessions.add(new)  # type: ignore[arg-type]
    assert old.closed.is_set() and not other.closed.is_set()
    assert owner.sessions() == {1: 1, 2: 1}
    a.sessions.remove(old)  # type: ignore[arg-type]  # the old one ends: the new one's claim stays
    b.sessions.new_tsih()  # a round trip, after the release reached the owner
    assert owner.sessions() == {1: 1, 2: 1}


def test_sessions_per_initiator_count_every_worker(ends: tuple[StateOwner, End, End]) -> None:
    """limits.max_sessions_per_initiator counts the initiator's normal sessions on all workers, but
    not the ISID a login reinstates, nor discovery sessions (no target name)."""
    _owner, a, b = ends
    for end, isid, target in ((a, 1, "iqn.t"), (b, 2, "iqn.t"), (b, 3, "iqn.u"), (a, 4, "")):
        end.sessions.add(FakeSession("iqn.i", isid, target, tsih=end.sessions.new_tsih()))  # type: ignore[arg-type]
    b.sessions.add(FakeSession("iqn.other", 1, "iqn.t", tsih=b.sessions.new_tsih()))  # type: ignore[arg-type]
    assert a.sessions.held("iqn.i", 9) == 3 == b.sessions.held("iqn.i", 9)
    assert a.sessions.held("iqn.i", 2) == 2  # ISID 2 (on worker 2) is the one a login would reinstate
    assert a.sessions.held("iqn.nobody", 1) == 0


def test_a_worker_that_is_gone_leaves_nothing(ends: tuple[StateOwner, End, End]) -> None:
    owner, a, b = ends
    a.sessions.add(FakeSession("iqn.i", 1, "iqn.t", tsih=a.sessions.new_tsih()))  # type: ignore[arg-type]
    OwnedObject(b.channel, "t/1/pr", b.watches).watch(lambda _p: None)
    b.channel.close()
    for _ in range(100):
        if not owner.watching("t/1/pr"):
            break
        threading.Event().wait(0.02)
    assert owner.watching("t/1/pr") == set()
    assert owner.sessions() == {1: 1}
    assert OwnedObject(a.channel, "t/1/pr", a.watches).notify(b"x") is True
    with pytest.raises(ChannelClosed):
        b.sessions.new_tsih()


# -- hptadm's answers combined over the workers ------------------------------------------------------


def test_control_answers_combined() -> None:
    from hpt.daemon.control.rpc import INVALID_CONFIG, NOT_FOUND, RpcError
    from hpt.daemon.workers.control import COMBINE, _same

    session = lambda sid: {"sid": sid, "initiator": f"iqn.i{sid}"}  # noqa: E731
    assert COMBINE["session.show"]([[session(1)], [session(2)]]) == [session(1), session(2)]
    # a session named by sid lives in one worker: the others' NOT_FOUND is no error
    missing = RpcError(NOT_FOUND, "can't find the session 2")
    assert COMBINE["session.delete"]([missing, {"closed": [2]}]) == {"closed": [2]}
    with pytest.raises(RpcError, match="session 2"):
        COMBINE["session.delete"]([missing, missing])
    targets = [[{"name": "t", "sessions": [session(1)]}], [{"name": "t", "sessions": [session(2)]}]]
    assert COMBINE["target.show"](targets) == [{"name": "t", "sessions": [session(1), session(2)]}]
    stats = [[{"name": "t", "lun": 1, "counters": {"read_commands": 5, "in_flight": 1}}],
             [{"name": "t", "lun": 1, "counters": {"read_commands": 7, "in_flight": 0}}]]
    assert COMBINE["lun.stat"](stats)[0]["counters"] == {"read_commands": 12, "in_flight": 1}
    shown = COMBINE["sys.show"]([{"sessions": 2, "pid": 1}, {"sessions": 3, "pid": 2}])
    assert shown["sessions"] == 5 and shown["workers"] == 2 and shown["pid"] not in (1, 2)
    # a change: every worker must have made it; the first refusal is the answer
    assert _same([{"tid": 1}, {"tid": 1}]) == {"tid": 1}
    with pytest.raises(RpcError, match="ram"):
        _same([RpcError(INVALID_CONFIG, "ram"), RpcError(INVALID_CONFIG, "ram")])


# -- a ram LU's memory, one memfd for every worker -------------------------------------------------


def _wait_for(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


def test_ram_memory_is_one_memfd_over_the_channels(ends: tuple[StateOwner, End, End]) -> None:
    """Two workers' ram stores map the main process's memfd (SCM_RIGHTS in a reply): one medium,
    one page map; it outlives a worker that died, and goes when the last holder unmaps it."""
    owner, a, b = ends
    size = 64 * PAGE
    store_a = RamStore(size, memory=owned_memory(a.channel, "t", 1, shared_bytes(size)))
    store_b = RamStore(size, memory=owned_memory(b.channel, "t", 1, shared_bytes(size)))
    key = f"t/1/{shared_bytes(size)}"
    assert owner.memory.held() == {key: {1, 2}}
    store_a.write_from(3 * PAGE, memoryview(b"\x5a" * PAGE))
    got = bytearray(PAGE)
    store_b.read_into(3 * PAGE, memoryview(got))
    assert got == b"\x5a" * PAGE and store_b.mapped_extent(3 * PAGE) == (True, PAGE)
    owner.gone(1)  # a worker that died still holds its LU's memory: its restart maps the same bytes
    assert owner.memory.held() == {key: {1, 2}}
    again = RamStore(size, memory=owned_memory(a.channel, "t", 1, shared_bytes(size)))
    again.read_into(3 * PAGE, memoryview(got))
    assert got == b"\x5a" * PAGE
    other = RamStore(size, memory=owned_memory(a.channel, "t", 2, shared_bytes(size)))  # another LU
    other.read_into(3 * PAGE, memoryview(got))
    assert got == bytes(PAGE)
    for store in (store_a, again, other):
        store.close()
    assert _wait_for(lambda: owner.memory.held() == {key: {2}})
    store_b.close()
    assert _wait_for(lambda: owner.memory.held() == {})


def test_memory_table_refuses_a_bad_size() -> None:
    table = MemoryTable()
    with pytest.raises(ValueError, match="t/1/0: cannot share 0 bytes"):
        table.map(1, "t/1/0", 0)
    table.unmap(1, "never/mapped")  # nothing held: nothing to do
    assert table.held() == {}
