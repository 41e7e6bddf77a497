"""The benchmarks' rbd medium without a cluster: ``rbd bench``'s command and summary, how long it runs,
the ceiling's rows in the printed table, and what tgtd and hptd are told to serve."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hpt.daemon.config import parse_config
from perf import ceph, fio, harness
from perf.peers import Hptd, Tgtd
from perf.report import Summary, table

RANDREAD, SEQWRITE = fio.WORKLOADS[0], fio.WORKLOADS[3]
IMAGE = ceph.Image("/tmp/c/ceph.conf", "rbd", "perf1")


def test_bench_command_follows_the_workload() -> None:
    argv = ceph.bench_command(IMAGE, RANDREAD, 4, 1 << 20)
    assert argv[:4] == ["rbd", "-c", "/tmp/c/ceph.conf", "bench"] and argv[-1] == "rbd/perf1"
    opts = dict(zip(argv[4:-1:2], argv[5:-1:2], strict=True))
    assert opts == {
        "--io-type": "read",
        "--io-size": "4K",
        "--io-threads": "128",
        "--io-pattern": "rand",
        "--io-total": str(1 << 20),
    }
    opts = dict(zip(*(iter(ceph.bench_command(IMAGE, SEQWRITE, 1, 1 << 20)[4:-1]),) * 2, strict=True))
    assert (opts["--io-type"], opts["--io-size"], opts["--io-threads"], opts["--io-pattern"]) == (
        "write",
        "128K",
        "8",
        "seq",
    )


def test_bench_summary() -> None:
    out = (
        "bench  type read io_size 4096 io_threads 32 bytes 33554432 pattern random\n"
        "  SEC       OPS   OPS/SEC   BYTES/SEC\n"
        "    1      7000   7012.50    27 MiB/s\n"
        "elapsed: 1   ops: 8192   ops/sec: 15515.2   bytes/sec: 61 MiB/s\n"
    )
    result = ceph.parse_bench(out, 4096)
    assert (result.iops, result.ios, result.bw_bytes) == (15515.2, 8192, 15515.2 * 4096)
    assert math.isnan(result.p99_ms) and result.percentiles_ms == {}


def test_bench_length() -> None:
    assert ceph.bench_total(RANDREAD, 10_000.0, 5, 64 << 20) == 100_000 * 4096  # twice the faster gateway
    assert ceph.bench_total(RANDREAD, 10.0, 1, 64 << 20) == 1000 * 4096  # at least 1000 I/Os
    assert ceph.bench_total(RANDREAD, 0.0, 5, 64 << 20) == 64 << 20  # no gateway ran: the image's size


def test_the_ceiling_is_the_last_row_of_the_rbd_groups() -> None:
    assert harness.targets_of("rbd", ("tgt", "hpt")) == ("tgt", "hpt", ceph.BENCH)
    assert harness.targets_of("memory", ("tgt", "hpt")) == ("tgt", "hpt")
    rows = {
        name: Summary(iops, iops * 4096 / 1e6, 1.0, 10.0, iops, iops, 1)
        for name, iops in (("tgt", 5000.0), ("hpt", 7500.0), (ceph.BENCH, 10_000.0))
    }
    lines = table(RANDREAD, rows, 2).splitlines()
    assert lines[-3].split()[:2] == ["hpt/tgt", "1.50x"]
    assert [line.split() for line in lines[-2:]] == [["tgt/ceil", "0.50x"], ["hpt/ceil", "0.75x"]]
    assert "ceil" not in table(RANDREAD, {k: rows[k] for k in ("tgt", "hpt")}, 2)


def test_tgtd_serves_the_image_through_bs_rbd(tmp_path: Path) -> None:
    tgt = Tgtd(tmp_path, None, {}, rbd=IMAGE)
    assert tgt._backing_store() == (
        "--bstype",
        "rbd",
        "--backing-store",
        "rbd/perf1",
        "--bsopts",
        "conf=/tmp/c/ceph.conf",
    )
    assert Tgtd(tmp_path, tmp_path / "f", {}, True)._backing_store() == (
        "--backing-store",
        str(tmp_path / "f"),
        "--bsoflags",
        "direct",
    )


def test_hptd_serves_the_image_with_the_rbd_store(tmp_path: Path) -> None:
    conf = tmp_path / "ceph.conf"
    conf.write_text("[global]\n")
    text = Hptd(tmp_path, None, {}, rbd=ceph.Image(str(conf), "rbd", "perf1")).config_text()
    parse_config(text, str(tmp_path / "hptd.toml"))  # the configuration hptd accepts
    assert 'store = "rbd"' in text and 'pool = "rbd"' in text and 'image = "perf1"' in text
    assert f'ceph_conf = "{conf}"' in text


def test_a_missing_tgt_rbd_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ceph, "TGT_BS_RBD", tmp_path / "bs_rbd.so")
    assert "apt-get install tgt-rbd" in (ceph.tgt_rbd_missing() or "")
    (tmp_path / "bs_rbd.so").touch()
    assert ceph.tgt_rbd_missing() is None
