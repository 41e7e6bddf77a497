"""FCoE frames into the sans-I/O port (``FcoePort.receive(data, now)`` / ``tick(now)``): the Linux
initiator's side of the project's reference capture (FIP discovery and address claim, FLOGI, PLOGI, PRLI,
FCP commands with their data, ABTS, LOGO: ``tests/data/fcoe-vn2vn-lio.pcap.gz``) replayed with bytes
flipped, frames cut short, dropped, repeated or put in between, in VN2VN and fabric mode. No exception
escapes, the port's timers keep running, and once it stops every ring slot is free again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ci.lab.pcap import read_pcap
from hpt.native.ring import Ring
from tests.fcoe.conftest import CAPTURE, INITIATOR_MAC, free_slots, make_port, make_target
from tests.fcoe.test_replay import INITIATOR_VN
from tests.fuzz import budget

FRAMES = [(f.timestamp, f.data) for f in read_pcap(CAPTURE) if f.src in (INITIATOR_MAC, INITIATOR_VN)]
T0 = FRAMES[0][0]
SLOTS = 8
ETHERTYPES = (b"\x89\x14", b"\x89\x06")  # FIP, FCoE


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, int, int, int, bytes]:
    """(what, frame, offset, xor, bytes): flip a byte, cut, drop, repeat a frame, or put one before it."""
    what = draw(st.sampled_from(("flip", "flip", "flip", "cut", "drop", "again", "insert")))
    frame = draw(st.integers(0, len(FRAMES) - 1))
    offset = draw(st.one_of(st.integers(0, 80), st.integers(0, 2200)))
    extra = draw(st.sampled_from(ETHERTYPES)) + draw(st.binary(max_size=120))
    return what, frame, offset, draw(st.integers(1, 255)), extra


def mutated(changes: list[tuple[str, int, int, int, bytes]], upto: int) -> list[tuple[float, bytes]]:
    frames = [(t - T0, bytearray(d)) for t, d in FRAMES[:upto]]
    out: list[tuple[float, bytes]] = []
    todo: dict[int, list[tuple[str, int, int, bytes]]] = {}
    for what, frame, offset, xor, extra in changes:
        todo.setdefault(frame, []).append((what, offset, xor, extra))
    for i, (t, data) in enumerate(frames):
        keep, times = True, 1
        for what, offset, xor, extra in todo.get(i, ()):
            if what == "flip" and offset < len(data):
                data[offset] ^= xor
            elif what == "cut":
                del data[offset:]
            elif what == "drop":
                keep = False
            elif what == "again":
                times += 1
            elif what == "insert":
                out.append((t, bytes(data[:12]) + extra))
        out.extend([(t, bytes(data))] * (times if keep else 0))
    return out


@budget.fuzz_settings(200)
@given(mode=st.sampled_from(("vn2vn", "fabric")), changes=st.lists(edits(), max_size=6),
       upto=st.integers(1, len(FRAMES)))
def test_fcoe_frames(mode: str, changes: list[tuple[str, int, int, int, bytes]], upto: int) -> None:
    budget.count("fcoe")
    ring = Ring(1 << 20, SLOTS)
    port = make_port(make_target(store="null", size=64 << 20), ring, mode=mode)
    port.start(0.0)
    now = 0.0
    for now, data in mutated(changes, upto):
        port.tick(now)
        port.receive(data, now)
        port.take_output()
        port.transmitted()
    for step in range(1, 4):  # the timers run on: keep-alives, retries, timeouts
        port.tick(now + 60.0 * step)
        port.take_output()
        port.transmitted()
    port.stop()
    port.take_output()
    port.transmitted()
    assert free_slots(ring) == SLOTS, "a ring slot was not given back"
