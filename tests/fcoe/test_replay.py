"""Replay the Linux initiator's side of the project's reference capture (``tests/data/
fcoe-vn2vn-lio.pcap.gz``: open-fcoe against LIO tcm_fc) into an hpt port with LIO's identity and
compare hpt's answers with LIO's, exchange by exchange."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ci.lab.pcap import Frame
from hpt.fcoe.frame import F_EX_CTX, FcFrame, decode_fcoe, encode_fcoe
from hpt.native.ring import Ring
from tests.fcoe.conftest import INITIATOR_MAC, free_slots, make_port, make_target

INITIATOR_VN, TARGET_VN = "0e:fd:00:00:00:02", "0e:fd:00:00:00:01"
LIO_DISK = 64 << 20  # READ CAPACITY in the capture: 131072 blocks of 512 bytes
Answers = dict[int, list[tuple[int, bytes]]]


class Exchanges:
    """Answers (R_CTL, payload) grouped by the initiator request (frame number) they belong to."""

    def __init__(self) -> None:
        self.open: dict[int, int] = {}
        self.answers: Answers = defaultdict(list)

    def request(self, number: int, frame: FcFrame) -> None:
        if frame.header.r_ctl in (0x06, 0x22):
            self.open[frame.header.ox_id] = number

    def answer(self, frame: FcFrame) -> None:
        if frame.header.f_ctl & F_EX_CTX and frame.header.ox_id in self.open:
            self.answers[self.open[frame.header.ox_id]].append((frame.header.r_ctl, bytes(frame.payload)))


def lio_answers(capture: list[Frame]) -> Answers:
    ex = Exchanges()
    for f in capture:
        if f.fc_header() is None:
            continue
        if f.src == INITIATOR_VN:
            ex.request(f.number, decode_fcoe(f.data))
        elif f.src == TARGET_VN:
            ex.answer(decode_fcoe(f.data))
    return ex.answers


def hpt_answers(capture: list[Frame]) -> tuple[Answers, dict[str, int]]:
    ring = Ring(1 << 20, 4)
    port = make_port(make_target(store="null", size=LIO_DISK), ring)
    ex = Exchanges()
    rx_ids: dict[int, int] = {}
    t0 = capture[0].timestamp
    port.start(0.0)

    def sent() -> Iterable[FcFrame]:
        for parts in port.take_output():
            raw = b"".join(bytes(p) for p in parts)
            if raw[12:14] == b"\x89\x06":
                yield decode_fcoe(raw)
        port.transmitted()

    for f in capture:
        now = f.timestamp - t0
        port.tick(now)
        list(sent())
        if f.src not in (INITIATOR_MAC, INITIATOR_VN):
            continue
        data = f.data
        if f.fc_header() is not None:
            frame = decode_fcoe(data)
            ex.request(f.number, frame)
            if frame.header.r_ctl == 0x01:  # write data: hpt chose its own RX_ID
                frame.header.rx_id = rx_ids[frame.header.ox_id]
                parts = encode_fcoe(
                    frame.dst_mac, frame.src_mac, frame.header, [frame.payload], frame.sof, frame.eof
                )
                data = b"".join(bytes(p) for p in parts)
        port.receive(data, now)
        for out in sent():
            rx_ids[out.header.ox_id] = out.header.rx_id
            ex.answer(out)
    assert free_slots(ring) == ring.nslots
    return ex.answers, port.counters


def test_replay_answers_like_lio(capture: list[Frame]) -> None:
    ours, counters = hpt_answers(capture)
    theirs = lio_answers(capture)
    assert len(theirs) == 224 and set(ours) == set(theirs)
    unit_attentions = []
    for number, lio in theirs.items():
        hpt = ours[number]
        # The same information units in the same order (ELS reply; XFER_RDY; FCP_DATA...; FCP_RSP).
        assert [r for r, _ in hpt if r != 0x01][-2:] == [r for r, _ in lio if r != 0x01][-2:], number
        last_hpt, last_lio = hpt[-1][1], lio[-1][1]
        if hpt[-1][0] == 0x23:
            assert last_hpt[0] == last_lio[0] == 0x02, f"frame {number}: ELS accepted"
        else:
            # The same SCSI status, except the unit attention a fresh hpt LU reports once (CHECK
            # CONDITION, POWER ON OCCURRED: the LU was just created; LIO's was not), and commands LIO
            # lacks (INVALID COMMAND OPERATION CODE) that hpt runs (REPORT SUPPORTED OPERATION CODES).
            if last_hpt[11] != last_lio[11]:
                if last_hpt[11] == 0x02:
                    assert last_hpt[24 + 12] == 0x29, f"frame {number}"
                    unit_attentions.append(number)
                else:
                    assert (last_hpt[11], last_lio[11], last_lio[24 + 12]) == (0, 0x02, 0x20), (
                        f"frame {number}"
                    )
    assert len(unit_attentions) == 1
    write = next(n for n, a in theirs.items() if any(r == 0x05 for r, _ in a))
    assert [p[:8] for r, p in ours[write] if r == 0x05] == [
        bytes.fromhex("00000000 00100000")
    ]  # 1 MiB at once
    for bad in ("bad_crc", "truncated", "fcp_data_out_of_order", "fcp_data_unknown_exchange", "unknown_peer"):
        assert bad not in counters
