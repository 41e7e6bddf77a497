"""iSCSI PDUs into the sans-I/O connection (``hpt.iscsi.connection.Connection``), as bytes the way the TCP
driver feeds them: during login (no target, CHAP, discovery) and in the full feature phase after a real
login, with and without header and data digests. No exception escapes, everything the target sends parses
as whole PDUs, and once the connection is gone every ring slot and the session are given back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given
from hypothesis import strategies as st

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import BHS_LEN, Opcode, Pdu, initiator_pdu, set_dsl
from tests.fuzz import budget
from tests.fuzz.pdus import PAIRS, Wire, pdus, text_data
from tests.iscsi.initiator import Initiator

TARGET = "iqn.2026-11.org.hpt.fuzz:disk"
SECURE = "iqn.2026-11.org.hpt.fuzz:chap"
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

[[target]]
name = "{SECURE}"
incoming = ["fuzz"]
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


def finish(server: Server, conn: Connection) -> None:
    conn.connection_lost()
    conn.drain_completions()
    conn.output_sent()
    assert server.ring.in_use == 0, f"{server.ring.in_use} ring slots not given back"
    for name in (TARGET, SECURE):
        assert not server.sessions_of(name), f"a session of {name} outlived its connection"


def opening(target: str | None, auth: str, keys: list[tuple[str, str]]) -> Wire:
    """A first Login Request of the security stage that gets as far as the target's checks go."""
    pairs = [("InitiatorName", "iqn.2026-11.org.hpt.fuzz:ini"),
             ("SessionType", "Normal" if target else "Discovery"), ("AuthMethod", auth), *keys]
    if target:
        pairs.insert(1, ("TargetName", target))
    hdr = initiator_pdu(Opcode.LOGIN_REQ, 0x81, (0x23D000000001).to_bytes(6, "big") + bytes(2), 1,
                        w24=1, immediate=True)
    data = text_data(pairs)
    set_dsl(hdr, len(data))
    return Wire(bytes(hdr), b"", data)


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
