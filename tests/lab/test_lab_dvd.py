"""hptd's DVD drives under the Linux kernel's sr over iSCSI/TCP, in one guest boot (issue 9's lab proof).

* ``hptd --demo dvd --path rom.iso`` in the guest, the ISO made here with pycdlib: the DVD-ROM (LUN 1)
  reads back as the ISO, mounts read-only and its file has the checksum known here; ``eject`` opens the
  tray (no medium), ``eject -t`` brings the disc back. The DVD+R (LUN 2) takes an ISO made in the guest
  with ``xorriso -as mkisofs`` through ``growisofs -Z``, then mounts and reads back as that image.
* ``hptd --demo jukebox``: ``mtx load`` puts DVD001 into drive 0, where sr mounts it; BLK001 goes into
  drive 1 and is burned with ``xorriso -outdev``, mounted, checked and ejected; mtx puts it back in its
  slot and then into drive 0, where it mounts again.

udev's ``cdrom_id`` describes each disc as it arrives. The guest prints the figures (read and burn MB/s);
the test prints them again at the end, and checks hptd's log (copied to the share) for errors.
"""

from __future__ import annotations

import hashlib
import io
import os
import re

import pycdlib
import pytest

from .conftest import INITIATOR_IQN, Lab, guest_script, hptd_missing

ROM_BYTES = 6 << 20  # the random file on the DVD-ROM
BURN_MIB = 16  # the random file of each burn
STEPS = ("dvd.sh", "dvd_rom.sh", "target_stop.sh", "dvd_jukebox.sh", "target_stop.sh")


def rom_iso(path: os.PathLike[str], data: bytes) -> None:
    """A DVD-ROM image holding ``data.bin`` (ISO 9660 and Joliet names), made with pycdlib."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, vol_ident="HPTLABROM")
    iso.add_fp(io.BytesIO(data), len(data), "/DATA.BIN;1", joliet_path="/data.bin")
    iso.write(str(path))
    iso.close()


@pytest.mark.lab
def test_dvd_drives_under_sr(lab: Lab) -> None:
    reason = hptd_missing()
    if reason:
        pytest.skip(f"lab: {reason}")
    data = os.urandom(ROM_BYTES)
    env = {"INITIATOR_IQN": INITIATOR_IQN, "ROM_SHA256": hashlib.sha256(data).hexdigest(),
           "BURN_MIB": str(BURN_MIB)}
    discs = lab.workdir / "discs"  # the guest's /discs
    discs.mkdir()
    rom_iso(discs / "rom.iso", data)
    spec = lab.spec(guest_script(*STEPS), name="dvd", env=env, shares={"discs": discs}, timeout=420.0)
    out = lab.run(spec)[0].output
    hptd_log = (discs / "hptd.log").read_text()
    assert "hptd ready" in hptd_log and not re.search(r"Traceback| (ERROR|CRITICAL) ", hptd_log), hptd_log
    assert out.count(f": data.bin has sha256 {env['ROM_SHA256']}") == 2, out  # mounted, then after eject -t
    for step in ("eject -t: the DVD-ROM is back and mounts again",
                 "the burned DVD+R reads back as the image", "mtx load 1 0: DVD001 in drive 0",
                 "BLK001 burned in drive 1, moved to drive 0 by mtx, mounts there"):
        assert f"== {step}" in out, f"{step!r} not in the guest's output:\n{out}"
    assert out.count(": medium not present, tray open") == 4, out  # two in each demo
    assert out.count("== target exited with status 0") == 2, out
    figures = [re.search(pattern, out) for pattern in (
        r"== DVD-ROM \S+ reads back as rom.iso: \d+ bytes in [\d.]+ s, ([\d.]+ MB/s)",
        r"== growisofs -Z burned (\d+) bytes onto the DVD\+R in ([\d.]+) s: ([\d.]+ MB/s)",
        r"== xorriso -outdev burned (\d+) bytes onto BLK001 in ([\d.]+) s: ([\d.]+ MB/s)")]
    rom, growisofs, xorriso = figures
    assert rom and growisofs and xorriso, out
    assert int(growisofs.group(1)) > BURN_MIB << 20 and int(xorriso.group(1)) > BURN_MIB << 20
    warnings = len(re.findall(r" WARNING ", hptd_log))
    print(f"\nDVD-ROM read through sr: {rom.group(1)}"
          f"\ngrowisofs -Z onto the DVD+R: {int(growisofs.group(1)) / 1e6:.1f} MB in {growisofs.group(2)} s, "
          f"{growisofs.group(3)}"
          f"\nxorriso -outdev onto BLK001 in the jukebox: {int(xorriso.group(1)) / 1e6:.1f} MB in "
          f"{xorriso.group(2)} s, {xorriso.group(3)}\nhptd's log: no errors, {warnings} warnings")
