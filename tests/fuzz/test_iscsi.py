"""iSCSI PDUs into the sans-I/O connection (``hpt.iscsi.connection.Connection``), as bytes the way the TCP
driver feeds them: during login (no target, CHAP, discovery) and in the full feature phase after a real
login, with and without header and data digests. No exception escapes, everything the target sends parses
as whole PDUs, and once the connection is gone every ring slot and the session are given back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import event, given
from hypothesis import strategies as st

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi.chap import chap_digest
from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import BHS_LEN, Opcode, Pdu, initiator_pdu, set_dsl
from hpt.iscsi.text import decode_binary, encode_binary, parse_text
from tests.fuzz import budget
from tests.fuzz.pdus import PAIRS, VALUE, Wire, pdus, text_data
from tests.iscsi.initiator import Initiator

TARGET = "iqn.2026-11.org.hpt.fuzz:disk"
SECURE = "iqn.2026-11.org.hpt.fuzz:chap"
MUTUAL = "iqn.2026-11.org.hpt.fuzz:mutual"
CONFIG = f"""
[[portal]]
address = "127.0.0.1:3260"

[[account]]
name = "fuzz"
secret = "fuzz-secret-12"

[[target]]
name = "{TARGET}"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "4M"

[[account]]
name = "fuzz-target"
secret = "fuzz-target-secret-34"

[[target]]
name = "{SECURE}"
incoming = ["fuzz"]
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "1M"

[[target]]
name = "{MUTUAL}"
incoming = ["fuzz"]
outgoing = "fuzz-target"
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "1M"
"""
TARGET_OPCODES = {op for op in Opcode if op >= 0x20}


@contextmanager
def serving() -> Iterator[Server]:
    """A fresh target for each input, so what one input leaves behind is blamed on that input."""
    srv = Server(parse_config(CONFIG))
    try:
        yield srv
    finally:
        srv.stop()


def connection(server: Server) -> Connection:
    return Connection(server.context_for(server.config.portals[0]), server.ring, peer="127.0.0.1:40000",
                      local="127.0.0.1:3260")


def parse_output(conn: Connection, hd: int, dd: int) -> list[Pdu]:
    """What the target queued, split into PDUs: each must be a whole target PDU."""
    raw = b"".join(bytes(b) for b in conn.data_to_send())
    conn.output_sent()
    out = []
    while raw:
        assert len(raw) >= BHS_LEN + hd, f"a partial header: {raw.hex()}"
        pdu = Pdu(raw[:BHS_LEN])
        assert pdu.opcode in TARGET_OPCODES, f"target sent opcode {pdu.opcode:#x}"
        end = BHS_LEN + pdu.ahs_len + hd + pdu.dsl + (-pdu.dsl & 3) + (dd if pdu.dsl else 0)
        assert end <= len(raw), f"a PDU cut short: {raw[:BHS_LEN].hex()}"
        out.append(pdu)
        raw = raw[end:]
    return out


def feed(conn: Connection, wires: list[Wire], cmdsn: int) -> None:
    for wire in wires:
        if conn.closing:
            break
        ffp = conn.full_feature
        hd, dd = conn.hd, conn.dd
        conn.receive_bytes(wire.encode(bool(hd), bool(dd)))
        conn.execute_ready()
        conn.drain_completions()
        if ffp:
            parse_output(conn, hd, dd)
        else:
            conn.data_to_send()
            conn.output_sent()


def step(conn: Connection, wire: Wire) -> dict[str, str]:
    """Send one Login Request; the keys of the target's answer."""
    conn.receive_bytes(wire.encode(False, False))
    raw = b"".join(bytes(b) for b in conn.data_to_send())
    conn.output_sent()
    if len(raw) < BHS_LEN:
        return {}
    dsl = Pdu(raw[:BHS_LEN]).dsl
    return dict(parse_text(raw[BHS_LEN:BHS_LEN + dsl]))


def finish(server: Server, conn: Connection) -> None:
    conn.connection_lost()
    conn.drain_completions()
    conn.output_sent()
    assert server.ring.in_use == 0, f"{server.ring.in_use} ring slots not given back"
    for name in (TARGET, SECURE, MUTUAL):
        assert not server.sessions_of(name), f"a session of {name} outlived its connection"


def login_request(pairs: list[tuple[str, str]], b1: int) -> Wire:
    """A Login Request (CmdSN 1, ITT 1, the ISID the test initiator uses) with any text in it."""
    hdr = initiator_pdu(Opcode.LOGIN_REQ, b1, (0x23D000000001).to_bytes(6, "big") + bytes(2), 1,
                        w24=1, immediate=True)
    data = text_data(pairs)
    set_dsl(hdr, len(data))
    return Wire(bytes(hdr), b"", data)


def opening(target: str | None, auth: str, keys: list[tuple[str, str]]) -> Wire:
    """A first Login Request of the security stage that gets as far as the target's checks go."""
    pairs = [("InitiatorName", "iqn.2026-11.org.hpt.fuzz:ini"),
             ("SessionType", "Normal" if target else "Discovery"), ("AuthMethod", auth), *keys]
    if target:
        pairs.insert(1, ("TargetName", target))
    return login_request(pairs, 0x81)


@budget.fuzz_settings(300)
@given(start=st.one_of(st.none(), st.builds(opening, st.sampled_from((TARGET, SECURE, None, "iqn.x:none")),
                                            st.sampled_from(("None", "CHAP", "CHAP,None", "SRP")), PAIRS)),
       wires=st.lists(pdus(1, login=True), min_size=1, max_size=6))
def test_login_phase(start: Wire | None, wires: list[Wire]) -> None:
    """Any PDUs from the first byte (after a well-formed first Login Request, or none): login requests
    with any keys (CHAP's among them), and whatever else an initiator sends."""
    budget.count("iscsi-login")
    with serving() as server:
        conn = connection(server)
        feed(conn, ([start] if start else []) + wires, 1)
        finish(server, conn)


@budget.fuzz_settings(300)
@given(target=st.sampled_from((TARGET, None)), digests=st.sampled_from(((False, False), (True, True),
                                                                          (True, False))),
       data=st.data())
def test_full_feature_phase(target: str | None, digests: tuple[bool, bool], data: st.DataObject) -> None:
    """After a real login (a normal or a discovery session, digests or none): any PDUs."""
    budget.count("iscsi-ffp")
    with serving() as server:
        conn = connection(server)
        ini = Initiator(conn)
        ini.hd, ini.dd = digests
        reply = ini.login(target, discovery=target is None)
        assert reply.pdu.w36 >> 16 == 0 and conn.full_feature, reply.text
        wires = data.draw(st.lists(pdus(ini.cmdsn, login=False), min_size=1, max_size=8))
        feed(conn, wires, ini.cmdsn)
        finish(server, conn)


BINARY = st.one_of(st.binary(min_size=1, max_size=40).map(lambda b: encode_binary(b, base64=False)),
                   st.binary(min_size=1, max_size=40).map(lambda b: encode_binary(b, base64=True)), VALUE)


GOOD_MUTUAL = st.builds(lambda i, c: [("CHAP_I", str(i)), ("CHAP_C", encode_binary(c))], st.integers(0, 255),
                        st.binary(min_size=16, max_size=32))
ANY_MUTUAL = st.lists(st.tuples(st.sampled_from(("CHAP_I", "CHAP_C")),
                                st.one_of(BINARY, st.integers(0, 300).map(str))), max_size=2)


HONEST = st.tuples(st.sampled_from(("5", "7", "7,6,5")), st.just(True), st.just("fuzz"),
                   st.one_of(st.just([]), GOOD_MUTUAL), st.just([]))
FUZZED = st.tuples(st.one_of(st.sampled_from(("5", "7", "6,5", "8")), VALUE), st.booleans(),
                   st.one_of(st.just("fuzz"), VALUE), st.one_of(st.just([]), GOOD_MUTUAL, ANY_MUTUAL), PAIRS)


@budget.fuzz_settings(200)
@given(target=st.sampled_from((SECURE, MUTUAL)), keys=st.one_of(HONEST, FUZZED), data=st.data())
def test_chap(target: str, keys: tuple[str, bool, str, list[tuple[str, str]], list[tuple[str, str]]],
              data: st.DataObject) -> None:
    """A CHAP login carried as far as the values allow: the right algorithm, response, name and mutual
    challenge, or any of them fuzzed (any algorithm list, response, name, CHAP_I and CHAP_C, extra keys),
    then any PDUs."""
    algorithms, right, name, mutual, extra = keys
    budget.count("iscsi-chap")
    with serving() as server:
        conn = connection(server)
        first = [("InitiatorName", "iqn.2026-11.org.hpt.fuzz:ini"), ("SessionType", "Normal"),
                 ("TargetName", target), ("AuthMethod", "CHAP")]
        answer: dict[str, str] = {}
        for pairs, b1 in ((first, 0x00), ([("CHAP_A", algorithms)], 0x00)):
            if not conn.closing:
                answer = step(conn, login_request(pairs, b1))
        response = data.draw(BINARY)
        if right and {"CHAP_A", "CHAP_I", "CHAP_C"} <= answer.keys():
            digest = chap_digest(int(answer["CHAP_A"]), int(answer["CHAP_I"]), b"fuzz-secret-12",
                                 decode_binary(answer["CHAP_C"]))
            response = encode_binary(digest)
        if not conn.closing:
            step(conn, login_request([("CHAP_N", name), ("CHAP_R", response), *mutual, *extra], 0x81))
        event(f"past CHAP: {conn.login.stage >= 1 and not conn.closing}")
        wires = data.draw(st.lists(pdus(2, login=not conn.full_feature), max_size=4))
        feed(conn, wires, 2)
        finish(server, conn)


def _pick(draw: st.DrawFn, good: bool, right: object, *others: object) -> object:
    """``right`` for a well-formed command, else any of ``right`` and ``others``."""
    return right if good else draw(st.sampled_from((right, *others)))


@st.composite
def lane_burst(draw: st.DrawFn, cmdsn: int) -> bytes:
    """Pipelined READ and WRITE commands as the fast lane in C meets them (``Connection.take_burst``):
    most of them well-formed, the others out of CmdSN order, of another LUN, out of range, with other
    lengths, flags or attributes, immediate data cut short or missing; random bytes mixed in, and the
    burst cut anywhere."""
    out = b""
    for i in range(draw(st.integers(1, 12))):
        good = draw(st.integers(0, 3)) > 0
        write = draw(st.booleans())
        blocks = draw(st.sampled_from((1, 8))) if good else draw(st.sampled_from((0, 64, 300, 1, 8)))
        lba = _pick(draw, good, draw(st.sampled_from((0, 8, 8176))), 8191, 8192, 1 << 40)
        flags, control = _pick(draw, good, 0, 0x08, 0x20), _pick(draw, good, 0, 4)
        op = (0x8A if write else 0x88) if draw(st.booleans()) else (0x2A if write else 0x28)
        if op & 0x80:
            cdb = (bytes((op, flags)) + lba.to_bytes(8, "big") + blocks.to_bytes(4, "big")
                   + bytes((0, control)))
        else:
            cdb = (bytes((op, flags)) + (lba & 0xFFFFFFFF).to_bytes(4, "big") + bytes(1)
                   + (blocks & 0xFFFF).to_bytes(2, "big") + bytes((control,)))
        edtl = _pick(draw, good, blocks * 512, 512, 0, 4096)
        data = bytes(_pick(draw, good, edtl, 0, 100)) if write else b""
        b1 = _pick(draw, good, 0xA1 if write else 0xC1, 0x81, 0xC2, 0x21, 0xE1)
        lun = _pick(draw, good, 1, 0, 2, 255)
        hdr = initiator_pdu(Opcode.SCSI_CMD, b1, bytes((0, lun)) + bytes(6), 0x1000 + i, w20=edtl,
                            w24=cmdsn + i + _pick(draw, good, 0, 1, -1))
        set_dsl(hdr, len(data))
        hdr[32:32 + len(cdb)] = cdb[:16]
        out += bytes(hdr) + data + bytes(-len(data) & 3)
        if draw(st.integers(0, 9)) == 0:
            out += draw(st.binary(min_size=1, max_size=60))
    return out[:draw(st.integers(1, len(out)))] if draw(st.integers(0, 3)) == 0 else out


@budget.fuzz_settings(300)
@given(data=st.data(), room=st.sampled_from((32 * 1024, 600, 100)))
def test_fast_lane_bursts(data: st.DataObject, room: int) -> None:
    """Bursts through the fast lane in C first, the rest through the full path, as the TCP driver hands
    them over: no crash (the C parses peer bytes), every answer a whole PDU, every slot given back."""
    budget.count("iscsi-lane")
    with serving() as server:
        conn = connection(server)
        ini = Initiator(conn)
        assert ini.login(TARGET).pdu.w36 >> 16 == 0 and conn.full_feature
        ini.scsi(bytes(6))  # the POWER ON unit attention, so the lane is open
        conn.data_to_send()
        conn.output_sent()
        wire = data.draw(lane_burst(ini.cmdsn))
        taken = conn.take_burst(memoryview(wire), room)
        assert 0 <= taken <= len(wire) and (taken == 0 or taken >= BHS_LEN)
        event("the lane took " + ("none" if not taken else "some" if taken < len(wire) else "all"))
        conn.receive_bytes(wire[taken:])
        conn.execute_ready()
        lu = server.targets[TARGET].lu(1)
        deadline = time.monotonic() + 10  # commands on the blocking pool end on its threads
        while len(lu.tasks) and time.monotonic() < deadline:
            time.sleep(0.005)
        conn.drain_completions()
        parse_output(conn, 0, 0)
        finish(server, conn)
