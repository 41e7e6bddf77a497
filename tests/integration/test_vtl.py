"""hptd --demo vtl over iSCSI/TCP on loopback: libiscsi's tools see the changer and the two tape drives,
READ ELEMENT STATUS lists the eight cartridges by barcode, MOVE MEDIUM loads a drive, and the library's
placement survives a restart of hptd with the same media directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.scsi.smc.conftest import move, parse_status, read_element_status

from .hptd import need, start_hptd
from .wire import Response, WireInitiator, luns_of, report_luns, tur

IQN = "iqn.2026-11.org.hpt:vtl"
SLOT1, DRIVE0 = 1000, 1009
UNIT_ATTENTION, CHECK_CONDITION = 0x6, 0x02


def _sense_key(rsp: Response) -> int:
    return rsp.sense[2] & 0x0F if rsp.sense else -1


def _ready(ini: WireInitiator, lun: int) -> Response:
    """TEST UNIT READY until no unit attention is left to report."""
    for _ in range(4):
        rsp = ini.command(tur(), lun=lun)
        if not (rsp.status == CHECK_CONDITION and _sense_key(rsp) == UNIT_ATTENTION):
            return rsp
    raise AssertionError("unit attentions do not end")


def _elements(ini: WireInitiator, kind: int) -> list[dict[str, object]]:
    rsp = ini.command(read_element_status(kind=kind, alloc=8192), lun=0, read=8192)
    assert rsp.status == 0, rsp
    return parse_status(rsp.data)[1]


def test_vtl_demo(tmp_path: Path) -> None:
    inq, ls = need("iscsi-inq", "libiscsi-bin"), need("iscsi-ls", "libiscsi-bin")
    media = tmp_path / "media"
    daemon = start_hptd(tmp_path, demo=True, demo_args=("vtl", "--path", str(media), "--control-socket", ""))
    try:
        listing = subprocess.run([ls, "-s", f"iscsi://127.0.0.1:{daemon.port}"], capture_output=True,
                                 text=True, timeout=60).stdout
        assert IQN in listing and "Lun:0    Type:MEDIA_CHANGER" in listing
        types = [subprocess.run([inq, daemon.url(IQN, lun)], capture_output=True, text=True,
                                timeout=60).stdout for lun in (0, 1, 2)]
        assert "Peripheral Device Type:MEDIA_CHANGER" in types[0]
        assert all("Peripheral Device Type:SEQUENTIAL_ACCESS" in t for t in types[1:])

        ini = WireInitiator(daemon.port, IQN)
        assert ini.login() == 0
        _ready(ini, 0)
        assert luns_of(ini.command(report_luns(), lun=0, read=4096).data) == [0, 1, 2]
        slots = _elements(ini, 2)
        assert [(s["flags"], s["barcode"]) for s in slots] == [(0x09, f"HPT00{i}L6") for i in range(1, 9)]
        assert ini.command(tur(), lun=1).status == CHECK_CONDITION  # no cartridge in the drive
        assert ini.command(move(SLOT1, DRIVE0), lun=0).status == 0
        assert _ready(ini, 1).status == 0  # the drive is ready with the cartridge
        drive = _elements(ini, 4)[0]
        assert drive["barcode"] == "HPT001L6" and drive["source"] == SLOT1
        ini.close()
    finally:
        assert daemon.stop() == 0
    assert sorted(p.name for p in media.iterdir()) == [*(f"HPT00{i}L6" for i in range(1, 9)), "library.json"]

    again = start_hptd(tmp_path, demo=True, demo_args=("vtl", "--path", str(media), "--control-socket", ""))
    try:
        ini = WireInitiator(again.port, IQN)
        assert ini.login() == 0
        _ready(ini, 0)
        drive = _elements(ini, 4)[0]
        assert drive["flags"] & 0x01 and drive["barcode"] == "HPT001L6"
        assert _elements(ini, 2)[0]["flags"] == 0x08  # slot 1 stays empty
        assert _ready(ini, 1).status == 0  # loaded again at start
        ini.close()
    finally:
        assert again.stop() == 0
