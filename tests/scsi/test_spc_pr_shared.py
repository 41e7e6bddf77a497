"""Persistent reservations on a shared object (hpt/scsi/pr/shared.py) without a cluster: an in-memory
object with versions and synchronous notifications stands for the RADOS one (tests/rbd has the real)."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable

import pytest

from hpt.scsi.core.alua import AluaState
from hpt.scsi.core.constants import (
    ASYMMETRIC_ACCESS_STATE_CHANGED,
    BUS_DEVICE_RESET_FUNCTION,
    LU_COMMUNICATION_TIMEOUT,
    MODE_PARAMETERS_CHANGED,
    RESERVATIONS_RELEASED,
    SANITIZE_IN_PROGRESS,
    TARGET_PORT_IN_STANDBY,
    Status,
)
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.pr.shared import TRIES
from hpt.scsi.sbc.profile import DISK
from hpt.scsi.spc.alua import TPGS_EXPLICIT, TPGS_IMPLICIT
from hpt.scsi.target import ScsiTarget, TmfResult

from .conftest import HOST_A, HOST_B, TARGET_NAME, TUR, WRITE10, Initiator, MemStore, make_lu, make_nexus
from .test_spc_alua import stpg, stpg_list
from .test_spc_mode import current, select_pages
from .test_spc_pr import K1, K2, RELEASE, RESERVE, prout, read_keys, register

WRITE_EXCLUSIVE, WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 1, 5


class Hub:
    """One shared object's contents, version and watchers; ``before_write`` runs before each write."""

    def __init__(self) -> None:
        self.data, self.version = b"", 0
        self.watchers: list[Callable[[bytes], None]] = []
        self.before_write: Callable[[], None] | None = None


class HubObject:
    name = "hub"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def read(self) -> tuple[bytes, int]:
        return self.hub.data, self.hub.version

    def write(self, data: bytes, version: int) -> int | None:
        if self.hub.before_write is not None:
            self.hub.before_write()
        if version != self.hub.version:
            return None
        self.hub.data, self.hub.version = data, version + 1
        return self.hub.version

    def watch(self, notified: Callable[[bytes], None]) -> None:
        self.hub.watchers.append(notified)

    def notify(self, payload: bytes, timeout: float = 5.0) -> bool:
        for notified in list(self.hub.watchers):
            notified(payload)
        return True

    def close(self) -> None:
        return None


class SharedMemStore(MemStore):
    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub

    def shared_state(self, name: str) -> HubObject:
        return HubObject(self.hub)


def gateway(hub: Hub, rtpi: int, host: str) -> Initiator:
    """A gateway (a target whose LU 0 shares ``hub``) through relative port ``rtpi``, and ``host``'s path."""
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(rtpi,))
    t.set_ports((rtpi,), (3 - rtpi,))  # the other gateway's group: 2 or 1
    t.tpgs = TPGS_IMPLICIT | TPGS_EXPLICIT
    t.add_lu(make_lu(0, store=SharedMemStore(hub)))
    ini = Initiator(t, make_nexus(host, 0x23D000000001, rtpi))
    ini.clear_ua()
    return ini


@pytest.fixture
def hub() -> Hub:
    return Hub()


def test_a_reservation_through_one_gateway_holds_through_the_other(hub: Hub) -> None:
    a, b = gateway(hub, 1, HOST_A), gateway(hub, 2, HOST_B)
    assert register(a, K1).good and register(b, K2).good
    assert read_keys(a) == (2, [K1, K2]) == read_keys(b)
    assert prout(a, RESERVE, K1, pr_type=WRITE_EXCLUSIVE).good
    assert b.run(WRITE10, bytes(512)).status == Status.RESERVATION_CONFLICT
    assert prout(a, RELEASE, K1, pr_type=WRITE_EXCLUSIVE).good
    assert b.run(WRITE10, bytes(512)).good
    # releasing a registrants-only reservation: the other registrants get RESERVATIONS RELEASED
    assert prout(a, RESERVE, K1, pr_type=WRITE_EXCLUSIVE_REGISTRANTS_ONLY).good
    assert prout(a, RELEASE, K1, pr_type=WRITE_EXCLUSIVE_REGISTRANTS_ONLY).good
    assert b.run(TUR).asc == RESERVATIONS_RELEASED  # queued by B on A's notification (SPC-5 5.13.11.2.2)
    assert b.run(TUR).good


def test_a_lost_compare_and_swap_runs_again_on_the_newer_state(hub: Hub) -> None:
    a, b = gateway(hub, 1, HOST_A), gateway(hub, 2, HOST_B)
    raced = []

    def b_first() -> None:  # B registers between A's read and A's write, once
        if not raced:
            raced.append(True)
            hub.before_write = None
            assert register(b, K2).good

    hub.before_write = b_first
    assert register(a, K1).good
    assert read_keys(a) == (2, [K2, K1]) and hub.version == 2


def test_an_object_that_keeps_changing_fails_the_command(hub: Hub) -> None:
    a = gateway(hub, 1, HOST_A)

    def someone_else() -> None:
        hub.version += 1

    hub.before_write = someone_else
    assert register(a, K1).asc == LU_COMMUNICATION_TIMEOUT and hub.version == TRIES


def test_a_damaged_object_is_logged_and_ignored(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    hub.data, hub.version = b"{not json", 7
    with caplog.at_level(logging.ERROR, "hpt.scsi"):
        a = gateway(hub, 1, HOST_A)
    assert "hub: ignoring damaged persistent reservation state" in caplog.text
    assert read_keys(a) == (0, []) and register(a, K1).good and hub.version == 8


def test_set_target_port_groups_through_one_gateway_reaches_the_other(hub: Hub) -> None:
    """Explicit ALUA across gateways (SPC-5 6.46, 5.16.2.6): A puts B's group in standby."""
    a, b = gateway(hub, 1, HOST_A), gateway(hub, 2, HOST_B)
    data = stpg_list((AluaState.ACTIVE_NON_OPTIMIZED, 1), (AluaState.STANDBY, 2))
    assert a.run(stpg(len(data)), data).good
    for ini in (a, b):
        assert ini.target.port_groups.states == {1: AluaState.ACTIVE_NON_OPTIMIZED, 2: AluaState.STANDBY}
    assert a.run(TUR).good  # the nexus that asked gets no unit attention
    assert b.run(TUR).asc == ASYMMETRIC_ACCESS_STATE_CHANGED
    assert b.run(WRITE10, bytes(512)).asc == TARGET_PORT_IN_STANDBY


def test_mode_select_through_one_gateway_reaches_the_other(hub: Hub) -> None:
    """MODE SELECT's current values are the LU's, not one process's (SPC-5 6.13): A turns the write
    cache off, B reports WCE 0 after MODE PARAMETERS CHANGED; a LU reset through B restores the
    default in both (SAM-5 6.3.3)."""
    a, b = gateway(hub, 1, HOST_A), gateway(hub, 2, HOST_B)
    caching = bytearray(current(a, 0x08))
    caching[2] &= ~0x04  # WCE off
    assert select_pages(a, bytes(caching)).good
    assert a.run(TUR).good  # the nexus that changed them gets no unit attention
    assert b.run(TUR).asc == MODE_PARAMETERS_CHANGED
    assert not current(b, 0x08)[2] & 0x04 and b.target.lu(0).wce is False  # type: ignore[union-attr]
    assert select_pages(a, bytes(caching)).good and b.run(TUR).good  # unchanged: no attention
    assert b.target.lu_reset(0) == TmfResult.FUNCTION_COMPLETE
    assert a.run(TUR).asc == BUS_DEVICE_RESET_FUNCTION
    assert a.target.lu(0).wce is True and current(a, 0x08)[2] & 0x04  # type: ignore[union-attr]


def disk_gateway(hub: Hub, rtpi: int, host: str, store: SharedMemStore, rate: int) -> Initiator:
    """A gateway whose LU 0 is a whole disk (SANITIZE included) over ``store``, sharing ``hub``."""
    t = ScsiTarget(TARGET_NAME, relative_port_ids=(rtpi,))
    t.add_lu(LogicalUnit(DISK, LuParams(extra={"sanitize_rate": rate}), store, lun=0))
    ini = Initiator(t, make_nexus(host, 0x23D000000001, rtpi))
    ini.clear_ua()
    return ini


def test_a_sanitize_through_one_gateway_gates_the_other(hub: Hub) -> None:
    """SANITIZE (SBC-4 4.11.2) is the LU's: while it runs through A, B's commands end with NOT READY,
    SANITIZE IN PROGRESS and its progress (REQUEST SENSE too); when it completes, both serve again."""
    store = SharedMemStore(hub)  # one medium, as a file two workers open
    a = disk_gateway(hub, 1, HOST_A, store, rate=len(store.buf) * 2)  # about half a second
    b = disk_gateway(hub, 2, HOST_B, store, rate=0)
    plist = struct.pack(">BxH", 1, 4) + b"\xa5" * 4
    assert a.run(struct.pack(">BB5xHx", 0x48, 0x80 | 0x01, len(plist)), plist).good  # IMMED OVERWRITE
    busy = b.run(TUR)
    assert busy.result.status == Status.CHECK_CONDITION and busy.asc == SANITIZE_IN_PROGRESS
    assert b.run(bytes((0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0))).asc == SANITIZE_IN_PROGRESS  # READ(10)
    sense = b.run(bytes((0x03, 0, 0, 0, 252, 0)), alloc=252).data  # REQUEST SENSE: the progress
    assert sense[12:14] == bytes((0x04, 0x1B)) and sense[15] & 0x80, sense.hex()
    deadline = time.monotonic() + 10
    while not b.run(TUR).good and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.run(TUR).good and a.run(TUR).good
    assert store.buf[:8] == b"\xa5" * 8 and store.buf[-4:] == b"\xa5" * 4
