"""Connection admission, the CHAP failure penalty and rate-limited warnings (hpt.iscsi.limits, ratelog)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from hpt.iscsi.limits import Admission, AuthPenalty, Limits, host_of
from hpt.iscsi.ratelog import RateLimitedLog


@dataclass(eq=False)
class Conn:
    name: str
    prelogin: bool = True
    shed_for: str = ""

    def shed(self, reason: str) -> None:
        self.shed_for = reason


def test_a_full_address_sheds_its_oldest_connection_still_logging_in() -> None:
    adm = Admission(Limits(max_connections=100, max_connections_per_address=2))
    a, b, c = Conn("a", prelogin=False), Conn("b"), Conn("c")
    assert adm.admit(a, "10.0.0.1") and adm.admit(b, "10.0.0.1")
    assert adm.admit(c, "10.0.0.1")  # b (the oldest pre-login one) makes room; a has logged in
    assert b.shed_for and "connection limit" in b.shed_for and not a.shed_for
    assert len(adm) == 2
    d = Conn("d", prelogin=False)
    c.prelogin = False
    assert not adm.admit(d, "10.0.0.1")  # both logged in: nothing to shed, refused, not counted
    assert len(adm) == 2
    assert adm.admit(Conn("e"), "10.0.0.2")  # another address has its own count


def test_the_total_limit_sheds_across_addresses_and_gone_frees_a_place() -> None:
    adm = Admission(Limits(max_connections=2, max_connections_per_address=10))
    a, b = Conn("a"), Conn("b", prelogin=False)
    assert adm.admit(a, "10.0.0.1") and adm.admit(b, "10.0.0.2")
    c = Conn("c")
    assert adm.admit(c, "10.0.0.3") and a.shed_for
    adm.gone(b)
    assert adm.admit(Conn("d"), "10.0.0.4") and not c.shed_for
    assert adm.shed_oldest("out of descriptors") and c.shed_for == "out of descriptors"
    assert not Admission(Limits()).shed_oldest("nothing")


def test_auth_penalty_doubles_up_to_its_cap_and_a_success_forgets() -> None:
    pen = AuthPenalty(Limits(auth_delay=1, auth_delay_max=4), window=60)
    key = ("iqn.x", "10.0.0.1")
    assert [pen.failed(key, now=t) for t in (0, 1, 2, 3)] == [1, 2, 4, 4]
    assert pen.failed(("iqn.x", "10.0.0.2"), now=4) == 1  # per initiator name and address
    pen.succeeded(key)
    assert pen.failed(key, now=5) == 1
    assert pen.failed(key, now=100) == 1  # a failure after the window starts again


def test_auth_penalty_forgets_the_oldest_keys_beyond_its_bound() -> None:
    pen = AuthPenalty(Limits())
    for i in range(AuthPenalty.MAX_KEYS + 10):
        pen.failed(("iqn.x", f"host{i}"), now=0)
    assert pen.failed(("iqn.x", "host0"), now=0) == Limits().auth_delay  # forgotten: a first failure again


def test_rate_limited_warnings_count_what_they_hold_back(caplog: pytest.LogCaptureFixture) -> None:
    rl = RateLimitedLog(logging.getLogger("test.ratelog"), interval=3600)
    with caplog.at_level(logging.WARNING, "test.ratelog"):
        for i in range(50):
            rl.warning("10.0.0.1", "bad PDU %d", i)
        rl.warning("10.0.0.2", "bad PDU from another peer")
    assert [r.getMessage() for r in caplog.records] == ["bad PDU 0", "bad PDU from another peer"]
    rl.interval = 0  # the interval has passed: the next line says how many were held back
    with caplog.at_level(logging.WARNING, "test.ratelog"):
        rl.warning("10.0.0.1", "bad PDU %d", 50)
    assert caplog.records[-1].getMessage() == "bad PDU 50 (49 more like this from 10.0.0.1 held back)"


@pytest.mark.parametrize("peer,host", [("10.0.0.1:3260", "10.0.0.1"), ("[fe80::1]:3260", "fe80::1"),
                                       ("::1:40000", "::1")])
def test_host_of(peer: str, host: str) -> None:
    assert host_of(peer) == host
