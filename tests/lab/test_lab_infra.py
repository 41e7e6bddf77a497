"""The lab's own parts without booting a guest: image cache key, QEMU command line, pcap codec, namespaces."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ci.lab import guest as guest_mod
from ci.lab import image as image_mod
from ci.lab.guest import USER_NET_HOST, Guest, GuestSpec, TapNet, UserNet
from ci.lab.image import LabImage
from ci.lab.netns import NetNamespace
from ci.lab.pcap import ETH_P_FIP, FIP_OP_VN2VN, read_pcap


def _inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packages: str, init: str) -> str:
    (tmp_path / "packages.txt").write_text(packages)
    (tmp_path / "lab-init").write_text(init)
    monkeypatch.setattr(image_mod, "PACKAGES_FILE", tmp_path / "packages.txt")
    monkeypatch.setattr(image_mod, "INIT_SCRIPT", tmp_path / "lab-init")
    return image_mod.image_key()


def test_image_key_follows_its_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _inputs(tmp_path, monkeypatch, "# comment\npython3\n\ntgt  # inline\n", "#!/bin/sh\n")
    assert image_mod.guest_packages() == ["python3", "tgt"]
    assert _inputs(tmp_path, monkeypatch, "python3\ntgt\n", "#!/bin/sh\n") == base, "comments changed the key"
    assert _inputs(tmp_path, monkeypatch, "python3\ntgt\nmtx\n", "#!/bin/sh\n") != base
    assert _inputs(tmp_path, monkeypatch, "python3\ntgt\n", "#!/bin/sh\n# changed\n") != base
    monkeypatch.setattr(image_mod, "BUILDER_VERSION", image_mod.BUILDER_VERSION + "x")
    assert image_mod.image_key() != base


def test_find_image_needs_every_file(tmp_path: Path) -> None:
    directory = tmp_path / f"image-{image_mod.image_key()}"
    directory.mkdir()
    for name in ("vmlinuz", "initrd.img", "rootfs.img"):
        assert image_mod.find_image(tmp_path) is None
        (directory / name).write_bytes(b"x")
    assert image_mod.find_image(tmp_path) is None
    (directory / "manifest.json").write_text('{"key": "k"}')
    found = image_mod.find_image(tmp_path)
    assert found is not None and found.manifest == {"key": "k"}


def _command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> list[str]:
    monkeypatch.setattr(guest_mod, "qemu_binary", lambda: "/usr/bin/qemu-system-x86_64")
    spec = GuestSpec(image=LabImage(tmp_path), workdir=tmp_path, script="true\n", **kwargs)  # type: ignore[arg-type]
    return Guest(spec).command()


def test_command_boots_snapshot_with_one_cpu_and_restricted_user_net(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(guest_mod.ACCEL_ENV, raising=False)
    argv = _command(tmp_path, monkeypatch, nics=(UserNet(forwards=(3260, 4000)),))
    joined = " ".join(argv)
    assert argv[argv.index("-smp") + 1] == "1"
    assert f"file={tmp_path / 'rootfs.img'},if=virtio,format=raw,snapshot=on" in argv
    assert "tcg,thread=multi" in argv
    netdev = argv[argv.index("-netdev") + 1]
    assert "restrict=on" in netdev
    for port in (3260, 4000):
        assert f"guestfwd=tcp:{USER_NET_HOST}:{port}-cmd:socat - TCP:127.0.0.1:{port}" in netdev
    assert "lab.ip=10.0.2.15/24" in joined
    assert "mount_tag=src,security_model=none,readonly=on" in joined
    two = _command(tmp_path, monkeypatch, cpus=2)
    assert two[two.index("-smp") + 1] == "2"
    counted = _command(tmp_path, monkeypatch, icount=1)
    assert counted[counted.index("-icount") + 1] == "shift=1,align=off,sleep=on"
    assert "tcg,thread=single" in counted
    assert "-icount" not in argv


def test_command_in_namespace_on_taps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(guest_mod.ACCEL_ENV, "kvm")
    argv = _command(tmp_path, monkeypatch, nics=(TapNet("tap1", "52:54:00:00:00:01"),), netns="ns1",
                    shares={"sync": tmp_path})
    assert argv[:4] == ["ip", "netns", "exec", "ns1"]
    assert argv[argv.index("-accel") + 1] == "kvm"
    assert "tap,id=n0,ifname=tap1,script=no,downscript=no" in argv
    assert "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,romfile=,event_idx=off" in argv
    assert f"local,path={tmp_path},mount_tag=sync,security_model=none" in argv
    assert not any(arg.startswith("lab.ip") for arg in " ".join(argv).split()), "tap guests get no address"


def _fip_frame(src: bytes, subcode: int, wwnn: bytes) -> bytes:
    name = bytes([4, 3, 0, 0]) + wwnn
    body = struct.pack(">BBHBBHH", 0x10, 0, FIP_OP_VN2VN, 0, subcode, len(name) // 4, 0) + name
    return b"\x01\x10\x18\x01\x00\x04" + src + struct.pack(">H", ETH_P_FIP) + body


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcap_reader_decodes_fip(tmp_path: Path, order: str) -> None:
    frame = _fip_frame(bytes.fromhex("525400bb0002"), 3, bytes.fromhex("1000525400bb0002"))
    data = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    data += struct.pack(order + "IIII", 10, 500000, len(frame), len(frame)) + frame
    path = tmp_path / "one.pcap"
    path.write_bytes(data)
    (only,) = read_pcap(path)
    assert (only.number, only.timestamp) == (1, 10.5)
    assert only.src == "52:54:00:bb:00:02" and only.dst == "01:10:18:01:00:04"
    assert only.fip() == (FIP_OP_VN2VN, 3)
    assert only.fip_node_name() == "10:00:52:54:00:bb:00:02"
    assert only.fc_header() is None


def test_pcap_reader_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "not.pcap"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a pcap file"):
        list(read_pcap(path))


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_namespace_and_taps_removed_even_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), NetNamespace() as ns:
        ns.add_tap("tapx")
        name = ns.name
        links = subprocess.run(["ip", "-n", name, "-o", "link"], capture_output=True, text=True, check=True)
        assert "tapx" in links.stdout and "br0" in links.stdout
        raise RuntimeError("boom")
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert name not in names


# Holds tap "tapd" open without reading it, as a stalled guest would (TUNSETIFF: IFF_TAP | IFF_NO_PI).
_HOLD_TAP = ("import fcntl, os, struct, time; fd = os.open('/dev/net/tun', os.O_RDWR); "
             "fcntl.ioctl(fd, 0x400454CA, struct.pack('16sH', b'tapd', 0x1002)); print('open', flush=True); "
             "time.sleep(60)")
_FLOOD = ("import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('br0', 0)); "
          "[s.send(bytes.fromhex('020000000002020000000001' '88b5') + bytes(1000)) for _ in range(50)]")


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_namespace_counts_frames_dropped_on_a_tap() -> None:
    with NetNamespace() as ns:
        ns.add_tap("tapd")
        ns.ip("link", "set", "tapd", "txqueuelen", "4")
        assert ns.drops()["tapd"] == {"rx": 0, "tx": 0}
        holder = subprocess.Popen(ns.exec_argv([sys.executable, "-c", _HOLD_TAP]), stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
            # 50 frames to an unknown MAC: the bridge floods them to the tap, whose queue holds 4
            subprocess.run(ns.exec_argv([sys.executable, "-c", _FLOOD]), check=True)
            assert ns.drops()["tapd"]["tx"] > 0
        finally:
            holder.kill()
            holder.wait()
