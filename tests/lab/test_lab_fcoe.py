"""Proof 3: open-fcoe in VN2VN mode on virtio NICs, LIO's tcm_fc target in a second guest on one bridge.

The host captures the bridge; the capture must show the initiator's FIP VN2VN probe/claim/beacon
frames, the FC logins (PLOGI, PRLI) and FCP traffic both ways. A capture of this exchange is kept in
``tests/data/fcoe-vn2vn-lio.pcap.gz`` as the reference hpt's FCoE target is developed against
(``HPT_LAB_UPDATE_REFERENCE=1`` rewrites it from a new run).
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from ci.lab.guest import ARTIFACTS_ENV, TapNet
from ci.lab.netns import NetNamespace
from ci.lab.pcap import FIP_OP_VN2VN, Frame, read_pcap

from .conftest import Lab, guest_script

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "fcoe-vn2vn-lio.pcap.gz"
TARGET_MAC = "52:54:00:aa:00:01"
INITIATOR_MAC = "52:54:00:bb:00:02"
# open-fcoe derives the WWNN (10:00) and WWPN (20:00) from the ENode MAC.
TARGET_WWNN, INITIATOR_WWNN = f"10:00:{TARGET_MAC}", f"10:00:{INITIATOR_MAC}"
INITIATOR_WWPN = f"20:00:{INITIATOR_MAC}"
PROBE_REQUEST, CLAIM_NOTIFICATION, BEACON = 1, 3, 5
# FC-FS-4 R_CTL values: ELS request/reply; FCP (FCP-4 9.1) command, transfer ready, data, response.
ELS_REQUEST, ELS_REPLY = 0x22, 0x23
FCP_CMND, FCP_XFER_RDY, FCP_DATA, FCP_RSP = 0x06, 0x05, 0x01, 0x07
ELS_LS_ACC, ELS_PLOGI, ELS_PRLI = 0x02, 0x03, 0x20


def vn2vn_subcodes(frames: Iterable[Frame], wwnn: str) -> set[int]:
    """FIP VN2VN subcodes sent by the ENode with node name ``wwnn``."""
    return {fip[1] for f in frames
            if (fip := f.fip()) and fip[0] == FIP_OP_VN2VN and f.fip_node_name() == wwnn}


def fc_id_of(frames: Iterable[Frame], wwnn: str) -> int:
    """The FC_ID the ENode ``wwnn`` claimed (VN_Port ID descriptor of its beacons)."""
    ids = {vn[1] for f in frames if f.fip() == (FIP_OP_VN2VN, BEACON) and f.fip_node_name() == wwnn
           and (vn := f.fip_vn_port())}
    assert len(ids) == 1, f"{wwnn} beaconed FC_IDs {ids}"
    return ids.pop()


def fc_frames(frames: Iterable[Frame], src: int, dst: int) -> set[tuple[int, int | None]]:
    """(R_CTL, first payload byte) of the FCoE frames from FC_ID ``src`` to ``dst``."""
    return {(h[0], f.fc_payload_opcode()) for f in frames
            if (h := f.fc_header()) and (h[2], h[1]) == (src, dst)}


def assert_vn2vn_login_and_io(frames: list[Frame]) -> None:
    """Both ENodes claimed addresses with FIP VN2VN; the initiator logged in and ran FCP I/O both ways."""
    for wwnn in (INITIATOR_WWNN, TARGET_WWNN):
        sent = vn2vn_subcodes(frames, wwnn)
        assert {PROBE_REQUEST, CLAIM_NOTIFICATION, BEACON} <= sent, f"{wwnn} sent VN2VN subcodes {sent}"
    initiator, target = fc_id_of(frames, INITIATOR_WWNN), fc_id_of(frames, TARGET_WWNN)
    outbound, inbound = fc_frames(frames, initiator, target), fc_frames(frames, target, initiator)
    for els in (ELS_PLOGI, ELS_PRLI):
        assert (ELS_REQUEST, els) in outbound, f"initiator sent no ELS {els:#x}"
    assert (ELS_REPLY, ELS_LS_ACC) in inbound, "target accepted no ELS"
    outbound_rctl, inbound_rctl = {r for r, _ in outbound}, {r for r, _ in inbound}
    assert {FCP_CMND, FCP_DATA} <= outbound_rctl, f"initiator R_CTLs {sorted(outbound_rctl)}"
    assert {FCP_XFER_RDY, FCP_DATA, FCP_RSP} <= inbound_rctl, f"target R_CTLs {sorted(inbound_rctl)}"


def test_reference_capture_shows_vn2vn_login_and_io() -> None:
    frames = list(read_pcap(REFERENCE))
    assert_vn2vn_login_and_io(frames)


@pytest.mark.lab
def test_fcoe_vn2vn_initiator_against_lio_tcm_fc(lab: Lab, tmp_path: Path) -> None:
    sync = tmp_path / "sync"
    sync.mkdir()
    capture = tmp_path / "fcoe-vn2vn-lio.pcap"
    env = {"INITIATOR_WWPN": INITIATOR_WWPN, "PEER_TIMEOUT": "150", "IO_MIB": "1"}
    with NetNamespace() as ns:
        ns.add_tap("tapt")
        ns.add_tap("tapi")
        ns.capture(capture, expression="ether proto 0x8914 or ether proto 0x8906")
        target = lab.spec(guest_script("fcoe_lio_target.sh"), name="fcoe-target", env=env, netns=ns.name,
                          nics=[TapNet("tapt", TARGET_MAC)], shares={"sync": sync})
        initiator = lab.spec(guest_script("fcoe_initiator.sh"), name="fcoe-initiator", env=env, netns=ns.name,
                             nics=[TapNet("tapi", INITIATOR_MAC)], shares={"sync": sync})
        results = lab.run(target, initiator)
        ns.stop_captures()
    assert "initiator finished: done" in results[0].output
    assert "LUN at /dev/sd" in results[1].output
    frames = list(read_pcap(capture))
    _keep_capture(capture)
    assert_vn2vn_login_and_io(frames)


def _keep_capture(capture: Path) -> None:
    """Copy the capture (gzip) to ``$HPT_LAB_ARTIFACTS``, and over the reference when asked to."""
    packed = capture.with_suffix(".pcap.gz")
    with capture.open("rb") as src, gzip.GzipFile(packed, "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    if os.environ.get(ARTIFACTS_ENV):
        Path(os.environ[ARTIFACTS_ENV]).mkdir(parents=True, exist_ok=True)
        shutil.copy(packed, Path(os.environ[ARTIFACTS_ENV]) / packed.name)
    if os.environ.get("HPT_LAB_UPDATE_REFERENCE") == "1":
        shutil.copy(packed, REFERENCE)
