"""Persistent reservations shared by two gateways through RADOS (hpt/scsi/pr/shared.py): two targets, as
two hptd would have, each with a LU over its own rbd store (its own librados client) on one image,
gateway A's relative port 1 and B's 2. What one initiator does through A is enforced through B (SPC-5
5.13), B's nexuses get its unit attentions, and a LOGICAL UNIT RESET through A reaches them (SAM-5 6.3.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ci.ceph.microceph import MicroCeph
from hpt.scsi.core.constants import BUS_DEVICE_RESET_FUNCTION, REGISTRATIONS_PREEMPTED, Status
from hpt.scsi.target import ScsiTarget
from hpt.store.registry import open_store
from tests.scsi.conftest import (
    HOST_A,
    HOST_B,
    READ10,
    TARGET_NAME,
    TUR,
    WRITE10,
    Initiator,
    make_lu,
    make_nexus,
)
from tests.scsi.test_spc_pr import (
    K1,
    K2,
    PREEMPT,
    RESERVE,
    prout,
    read_keys,
    register,
    reservation,
)

WRITE_EXCLUSIVE = 1


@pytest.fixture
def gateways(ceph: MicroCeph, image: Callable[..., str]) -> Iterator[tuple[ScsiTarget, ScsiTarget]]:
    name = image("16M")
    targets = []
    for rtpi, peer in ((1, 2), (2, 1)):
        t = ScsiTarget(TARGET_NAME, relative_port_ids=(rtpi,))
        t.set_ports((rtpi,), (peer,))
        t.add_lu(make_lu(0, store=open_store("rbd", {"image": name, "ceph_conf": ceph.conf})))
        targets.append(t)
    yield targets[0], targets[1]
    for t in targets:
        lu = t.lu(0)
        assert lu is not None
        lu.release()


def path(t: ScsiTarget, host: str) -> Initiator:
    """Host ``host``'s I_T nexus through the gateway's relative port, its power-on UA cleared."""
    rtpi = t.relative_port_ids[0]
    ini = Initiator(t, make_nexus(host, 0x23D000000001, rtpi))
    ini.clear_ua()
    return ini


def test_registration_and_reservation_through_a_are_enforced_through_b(
        gateways: tuple[ScsiTarget, ScsiTarget]) -> None:
    a, b = gateways
    host_a_via_a, host_b_via_b = path(a, HOST_A), path(b, HOST_B)
    assert register(host_a_via_a, K1).good
    assert read_keys(host_b_via_b) == (1, [K1])  # PERSISTENT RESERVE IN through B sees it
    assert prout(host_a_via_a, RESERVE, K1, pr_type=WRITE_EXCLUSIVE).good
    assert reservation(host_b_via_b) == (K1, WRITE_EXCLUSIVE)
    write = host_b_via_b.run(WRITE10, bytes(512))
    assert write.status == Status.RESERVATION_CONFLICT  # B's copy, kept current by the notification
    assert host_b_via_b.run(READ10, alloc=512).good  # Write Exclusive: reads are allowed
    assert host_a_via_a.run(WRITE10, bytes(512)).good


def test_preempt_through_b_reaches_a_nexus_through_a(gateways: tuple[ScsiTarget, ScsiTarget]) -> None:
    a, b = gateways
    host_a_via_a, host_b_via_b = path(a, HOST_A), path(b, HOST_B)
    assert register(host_a_via_a, K1).good and register(host_b_via_b, K2).good
    assert prout(host_a_via_a, RESERVE, K1, pr_type=WRITE_EXCLUSIVE).good
    assert host_a_via_a.run(TUR).good
    assert prout(host_b_via_b, PREEMPT, K2, K1, pr_type=WRITE_EXCLUSIVE).good
    assert host_a_via_a.run(TUR).asc == REGISTRATIONS_PREEMPTED  # queued by A on B's notification
    assert read_keys(host_a_via_a)[1] == [K2] and reservation(host_a_via_a) == (K2, WRITE_EXCLUSIVE)
    assert host_a_via_a.run(WRITE10, bytes(512)).status == Status.RESERVATION_CONFLICT


def test_logical_unit_reset_through_a_reaches_b(gateways: tuple[ScsiTarget, ScsiTarget]) -> None:
    a, b = gateways
    host_a_via_a, host_b_via_b = path(a, HOST_A), path(b, HOST_B)
    assert host_b_via_b.run(TUR).good
    a.lu_reset(0)
    assert host_a_via_a.run(TUR).asc == BUS_DEVICE_RESET_FUNCTION
    assert host_b_via_b.run(TUR).asc == BUS_DEVICE_RESET_FUNCTION


def test_a_gateway_started_later_loads_the_state(ceph: MicroCeph, gateways: tuple[ScsiTarget, ScsiTarget]
                                                 ) -> None:
    a, _ = gateways
    assert register(path(a, HOST_A), K1).good
    lu_a = a.lu(0)
    assert lu_a is not None and lu_a.store is not None
    image = lu_a.store.name.split("/")[1]
    late = make_lu(0, store=open_store("rbd", {"image": image, "ceph_conf": ceph.conf}))
    try:
        assert [(r.key, r.name, r.rtpi) for r in late.pr.registrations] == [(K1, HOST_A, 1)]
        assert late.pr.generation == 1
    finally:
        late.release()
