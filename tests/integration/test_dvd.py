"""hptd --demo dvd and --demo jukebox over iSCSI/TCP on loopback: libiscsi's tools see two MMC LUNs,
GET CONFIGURATION and READ TOC describe a DVD-ROM and a blank DVD+R, the ISO (made with pycdlib)
reads back byte for byte, a burn by the commands growisofs sends reads back and mounts in pycdlib;
in the jukebox MOVE MEDIUM loads an ISO disc and a blank disc into the DVD drives, and a disc burned
there is still in its drive after hptd restarts and reads back."""

from __future__ import annotations

import io
import os
import struct
import subprocess
from pathlib import Path

import pycdlib

from tests.scsi.smc.conftest import move, parse_status, read_element_status

from .hptd import Hptd, need, start_hptd
from .wire import Response, WireInitiator

DVD, JUKEBOX = "iqn.2026-11.org.hpt:dvd", "iqn.2026-11.org.hpt:jukebox"
BLOCK, UNIT_ATTENTION, CHECK_CONDITION = 2048, 0x6, 0x02
PAYLOAD = os.urandom(300_000)


def iso_image(path: Path, data: bytes, name: str = "/DATA.BIN;1") -> bytes:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident="HPTIT")
    iso.add_fp(io.BytesIO(data), len(data), name)
    iso.write(str(path))
    iso.close()
    return path.read_bytes()


def ready(ini: WireInitiator, lun: int) -> Response:
    """TEST UNIT READY until no unit attention is left to report."""
    for _ in range(4):
        rsp = ini.command(bytes(6), lun=lun)
        if not (rsp.status == CHECK_CONDITION and rsp.sense_key_asc[0] == UNIT_ATTENTION):
            return rsp
    raise AssertionError("unit attentions do not end")


def profile(ini: WireInitiator, lun: int) -> int:
    rsp = ini.command(bytes((0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0)), lun=lun, read=8)
    assert rsp.status == 0, rsp
    return int(struct.unpack_from(">H", rsp.data, 6)[0])


def read_blocks(ini: WireInitiator, lun: int, count: int) -> bytes:
    out = bytearray()
    for lba in range(0, count, 32):
        n = min(32, count - lba)
        rsp = ini.command(struct.pack(">BBIBHB", 0x28, 0, lba, 0, n, 0), lun=lun, read=n * BLOCK)
        assert rsp.status == 0, rsp
        out += rsp.data
    return bytes(out)


def ok(rsp: Response) -> None:
    assert rsp.status == 0, rsp.sense.hex()


def burn(ini: WireInitiator, lun: int, image: bytes, close_session: bool = True) -> None:
    """What growisofs sends: WRITE(10)s from the next writable address, SYNCHRONIZE CACHE, CLOSE TRACK 1
    and (``close_session``) CLOSE SESSION."""
    for lba in range(0, len(image) // BLOCK, 4):
        chunk = image[lba * BLOCK:(lba + 4) * BLOCK]
        ok(ini.command(struct.pack(">BBIBHB", 0x2A, 0, lba, 0, len(chunk) // BLOCK, 0), lun=lun, write=chunk))
    ok(ini.command(bytes((0x35, 0x02)) + bytes(8), lun=lun))  # SYNCHRONIZE CACHE, IMMED
    ok(ini.command(bytes((0x5B, 1, 1, 0, 0, 1, 0, 0, 0, 0)), lun=lun))  # CLOSE TRACK 1, IMMED
    if close_session:
        ok(ini.command(bytes((0x5B, 1, 2, 0, 0, 0, 0, 0, 0, 0)), lun=lun))  # CLOSE SESSION


def test_dvd_demo(tmp_path: Path) -> None:
    inq, ls = need("iscsi-inq", "libiscsi-bin"), need("iscsi-ls", "libiscsi-bin")
    image = iso_image(tmp_path / "served.iso", PAYLOAD)
    daemon = start_hptd(tmp_path, demo=True, demo_args=("dvd", "--path", str(tmp_path / "served.iso"),
                                                        "--control-socket", ""))
    try:
        listing = subprocess.run([ls, "-s", f"iscsi://127.0.0.1:{daemon.port}"], capture_output=True,
                                 text=True, timeout=60).stdout
        assert DVD in listing and "Lun:1    Type:MMC" in listing and "Lun:2    Type:MMC" in listing
        info = subprocess.run([inq, daemon.url(DVD, 1)], capture_output=True, text=True, timeout=60).stdout
        assert "Peripheral Device Type:MMC" in info and "Removable:1" in info

        ini = WireInitiator(daemon.port, DVD)
        assert ini.login() == 0
        assert ready(ini, 1).status == 0 and profile(ini, 1) == 0x0010
        toc = ini.command(bytes((0x43, 0, 0, 0, 0, 0, 0, 0, 64, 0)), lun=1, read=64)
        blocks = len(image) // BLOCK
        assert toc.data[2:4] == bytes((1, 1)) and toc.data[14] == 0xAA
        assert struct.unpack_from(">I", toc.data, 16)[0] == blocks
        assert read_blocks(ini, 1, blocks) == image

        ready(ini, 2)
        assert profile(ini, 2) == 0x001B
        capacity = ini.command(bytes((0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0)), lun=2, read=12)
        assert struct.unpack_from(">I", capacity.data, 4)[0] * BLOCK >= 64 << 20
        burned = iso_image(tmp_path / "burn.iso", PAYLOAD[:100_000], "/BURNED.BIN;1")
        count = len(burned) // BLOCK
        ok(ini.command(struct.pack(">BBxxxIB", 0x53, 0, count, 0), lun=2))  # RESERVE TRACK
        burn(ini, 2, burned)
        back = read_blocks(ini, 2, count)
        assert back == burned
        (tmp_path / "back.iso").write_bytes(back)
        mounted = pycdlib.PyCdlib()
        mounted.open(str(tmp_path / "back.iso"))
        out = io.BytesIO()
        mounted.get_file_from_iso_fp(out, iso_path="/BURNED.BIN;1")
        mounted.close()
        assert out.getvalue() == PAYLOAD[:100_000]
        ini.close()
    finally:
        assert daemon.stop() == 0


def elements(ini: WireInitiator, kind: int) -> list[dict[str, object]]:
    rsp = ini.command(read_element_status(kind=kind, alloc=8192), lun=0, read=8192)
    assert rsp.status == 0, rsp
    return parse_status(rsp.data)[1]


def jukebox(tmp_path: Path, media: Path) -> tuple[Hptd, WireInitiator]:
    """hptd --demo jukebox over ``media`` and an initiator logged in, the changer's attentions taken."""
    daemon = start_hptd(tmp_path, demo=True,
                        demo_args=("jukebox", "--path", str(media), "--control-socket", ""))
    ini = WireInitiator(daemon.port, JUKEBOX)
    assert ini.login() == 0
    ready(ini, 0)
    return daemon, ini


def test_jukebox_demo(tmp_path: Path) -> None:
    media = tmp_path / "media"
    daemon, ini = jukebox(tmp_path, media)
    try:
        codes = [s["barcode"] for s in elements(ini, 2)]
        assert codes == [*(f"DVD00{i}" for i in range(1, 5)), *(f"BLK00{i}" for i in range(1, 5))]
        assert ini.command(bytes(6), lun=1).status == CHECK_CONDITION  # no disc in the drive
        ok(ini.command(move(1000, 1009), lun=0))  # slot 1 (DVD001) to drive 0
        ok(ini.command(move(1004, 1010), lun=0))  # slot 5 (BLK001) to drive 1
        assert ready(ini, 1).status == 0 and profile(ini, 1) == 0x0010
        assert read_blocks(ini, 1, 17)[16 * BLOCK + 1:16 * BLOCK + 6] == b"CD001"
        assert ready(ini, 2).status == 0 and profile(ini, 2) == 0x001B
        drives = elements(ini, 4)
        assert [(d["barcode"], d["source"]) for d in drives] == [("DVD001", 1000), ("BLK001", 1004)]
        burned = iso_image(tmp_path / "burn.iso", PAYLOAD[:50_000], "/JUKEBOX.BIN;1")
        burn(ini, 2, burned, close_session=False)  # the track closed, the session left open
        ok(ini.command(move(1010, 1004), lun=0))  # the burned disc back to its slot
        assert ini.command(bytes(6), lun=2).status == CHECK_CONDITION
        ok(ini.command(move(1004, 1010), lun=0))
        assert ready(ini, 2).status == 0
        ini.close()
    finally:
        assert daemon.stop() == 0
    assert sorted(p.name for p in media.iterdir()) == sorted(
        [*(f"DVD00{i}.iso" for i in range(1, 5)), *(f"BLK00{i}" for i in range(1, 5)), "library.json"])

    again, ini = jukebox(tmp_path, media)
    try:
        assert [d["barcode"] for d in elements(ini, 4)] == ["DVD001", "BLK001"]  # still in the drives
        assert ready(ini, 2).status == 0 and profile(ini, 2) == 0x001B
        assert read_blocks(ini, 2, len(burned) // BLOCK) == burned
        info = ini.command(bytes((0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0)), lun=2, read=34).data
        assert info[2] & 0x0F == 0x05  # appendable, its session incomplete
        ini.close()
    finally:
        assert again.stop() == 0
