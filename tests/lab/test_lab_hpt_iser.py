"""hptd's iSER transport in guests over soft-RoCE (rxe0), against Debian's tgtd --lld iser in the same setup.

* the kernel ib_iser initiator logs in to hptd, checks the LUN, verifies an O_DIRECT pattern and logs out,
  and hptd exits 0 on SIGTERM; again with tgtd's iSER keys, all write data by RDMA Read;
* libiscsi's iscsi-test-cu over iser:// URLs on the conformance LUN matrix (full, thin, 512 B on 4096 B,
  read-only, removable, sanitize; two iSER portal groups): every test the client runs to its end is a
  real pass but the client limitations ``CLIENT_FAILURES`` names, and a run in which libiscsi 1.19's own
  iSER client dies must show its fault (``CLIENT_CRASH``);
* 1 GiB sequential O_DIRECT write and read through the kernel initiator, then fio's 4K random read (once
  udev has probed the disk the login brought), hptd then tgtd in one guest, with the keys tgtd
  negotiates for iSER (InitialR2T=Yes, ImmediateData=No) and null stores on both: the MB/s, the IOPS,
  each target's CPU time and the ratios are printed (TCG soft-RoCE is slow; the ratio is what counts;
  nothing is asserted on time).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from statistics import median

import pytest

from ci.lab.guest import USER_NET_GUEST, UserNet
from tests.integration.cunit import CunitResult, merge, parse_cunit

from .conftest import INITIATOR_IQN, RECORD, Lab, guest_script

TARGET_IQN = "iqn.2026-11.org.hpt.lab:hptd-iser"
# libiscsi 1.19's iSER path crashes when immediate or unsolicited data is negotiated: use tgtd's iSER keys
TGT_ISER_KEYS = "[iscsi]\nInitialR2T = true\nImmediateData = false"
MEMORY_MIB = 1536


def iser_env(**extra: str) -> dict[str, str]:
    return {"GUEST_ADDR": USER_NET_GUEST, "TARGET_IQN": TARGET_IQN, "INITIATOR_IQN": INITIATOR_IQN,
            "IO_MIB": "8", **extra}


def kernel_initiator_script() -> str:
    """hptd in the guest, the kernel's ib_iser logging in, writing and verifying data, logging out."""
    return guest_script("rxe_up.sh", "hptd_iser_start.sh", "kernel_iser_login.sh", "iser_logout.sh",
                        "target_stop.sh")


@pytest.mark.lab
def test_kernel_iser_initiator_against_hptd(lab: Lab) -> None:
    script = kernel_initiator_script()
    result = lab.run_one(script, name="hptd-iser", env=iser_env(ISER_MAX_KB="2048"), nics=[UserNet()],
                         memory_mib=MEMORY_MIB)
    out = result.output
    assert "logged in over iSER to hptd, LUN at /dev/sd" in out
    assert "Device Identification VPD page" in out
    assert "hptd iSER verified 8 MiB" in out
    # commands of up to 2 MiB: larger than a 1 MiB ring slot, they went through a registered large buffer
    large = re.search(r"hptd iSER verified 8 MiB in commands of (\d+) KiB", out)
    assert large and int(large.group(1)) > 1024, out
    assert "registered a 2097152-byte buffer for large commands" in out
    assert "logged out" in out
    assert "target exited with status 0" in out  # SIGTERM: the iSER portal and the device are released
    assert "iSER connect request from 10.0.2.15:" in out  # hptd's own log: the CM path, not TCP


@pytest.mark.lab
@pytest.mark.parametrize("direct", [False, True], ids=["buffered", "o_direct"])
def test_kernel_iser_initiator_writes_by_rdma_read(lab: Lab, direct: bool) -> None:
    """tgtd's iSER keys: every WRITE's data is solicited, so the target RDMA-Reads it; commands of up to
    512 KiB fit a ring slot, so hptd's fast lane in C takes them (verbs.c lane_fetch), onto a file: one
    written through the page cache, and one opened O_DIRECT, whose AIO writes the data from where the
    RDMA Read put it (page-aligned in its slot)."""
    script = kernel_initiator_script()
    env = iser_env(TOML_HEAD=TGT_ISER_KEYS, LUN_EXTRA="  direct = true" if direct else "")
    result = lab.run_one(script, name=f"hptd-iser-rdma-read-{'direct' if direct else 'buffered'}", env=env,
                         nics=[UserNet()], memory_mib=MEMORY_MIB)
    out = result.output
    assert "hptd iSER verified 8 MiB" in out
    assert "target exited with status 0" in out


#: The LUN matrix of tests/integration/test_conformance.py over iSER: each suite on the LUN of the
#: guest's hptd where it passes over TCP, most on the full LUN. Over soft-RoCE under TCG a command costs
#: ~10 ms (each posted SEND or RDMA Read ~6 ms of the guest's one CPU), so each suite runs once and the
#: suites are split over two guests, one hptd each.
MATRIX_SUITES = {
    "thin": ("GetLBAStatus", "Inquiry", "Unmap"),
    "e512": ("CompareAndWrite", "WriteSame10", "WriteSame16"),
    "readonly": ("ReadOnly",),
    "removable": ("PreventAllow", "StartStopUnit"),
    "sanitize": ("Sanitize",),
}
#: Also run on the full LUN (512 B logical blocks, fully provisioned): there most of their tests pass too.
ALSO_FULL = ("Inquiry", "CompareAndWrite", "WriteSame10", "WriteSame16")
#: libiscsi 1.19's iSER client, named: iscsi_destroy_context() cancels the connection's RDMA-CM thread
#: without joining it (pthread_cancel, upstream's fix adds the join: libiscsi e114be4, 2020) and frees
#: the context; when the disconnect's RDMA_CM_EVENT_DISCONNECTED is being handled at that moment, the
#: thread logs "Failed to handle event" into the freed context after its logout, often once the next
#: connection has started, at times torn ("Fai" and the next message; use after free), or posts a freed
#: semaphore, and the process later aborts in malloc ("munmap_chunk(): invalid pointer") or
#: faults. iscsi-test-cu logs out and destroys a context in every suite's set-up and in the tests that
#: log in again, so any suite can meet it: here 17 of 55 runs died, each time in the same suites (every
#: suite on a thin LUN, the Async, TMF, Logout and second-initiator tests), against tgtd's iSER too
#: (Read10.Async, GetLBAStatus). A target cannot cause it: it reaches an iSER initiator's memory only by
#: RDMA Write into the buffer advertised for a READ and by SENDs into posted receive buffers, never
#: malloc's headers, and the same suites over TCP run clean under valgrind. Leaving the disconnect to the
#: initiator after a Logout Response made it worse (51 runs died): the event then races the teardown.
#: A run that dies must show this signature.
# its event loop failing for a connection it logged out (the two lines in either order: its threads race
# to print them), or its sem_post on freed memory
CLIENT_CRASH = re.compile(r"logout successful[^\n]*\n(?:[^\n]*\n){0,6}?[^\n]*Fai(?:led to handle event)?"
                          r"|Failed to handle event[^\n]*\n(?:[^\n]*\n){0,6}?[^\n]*logout successful"
                          r"|The futex facility returned an unexpected error code")


#: Tests libiscsi 1.19's iSER client cannot pass against any target, and why (each passes over TCP).
_WHOLE_ALLOCATION = ("the iSER client reports a READ's whole allocation length as the data it got "
                     "(iser_prepare_read_cmd sets indata.size to it)")
CLIENT_FAILURES = {
    "ModeSense6.Residuals": f"{_WHOLE_ALLOCATION}, so the test asserts that an underflow the target "
                            "rightly reports is not there",
    "Inquiry.AllocLength": f"{_WHOLE_ALLOCATION}: the standard INQUIRY data seems 255 bytes long",
    "Inquiry.BlockLimits": f"{_WHOLE_ALLOCATION}: 255 bytes against the page's length 60",
    "iSCSIcmdsn.iSCSICmdSnTooHigh": "the test waits for a time-out; the iSER client's event loop fails with "
                                    "'revents is not POLLIN' instead (libiscsi issue 262)",
    "iSCSIcmdsn.iSCSICmdSnTooLow": "as iSCSICmdSnTooHigh",
    "iSCSIdatasn.iSCSIDataSnInvalid": "the test mangles the DataSN of Data-Out PDUs; over iSER write data "
                                      "goes by RDMA Read, so there are none and the WRITEs succeed",
}


def _runs(text: str) -> list[tuple[str, str]]:
    """iser_matrix.sh's output per run: ("LUN ALL.Suite", what iscsi-test-cu printed)."""
    parts = re.split(r"^#### (\S+ \S+)\n", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def matrix_runs(names: list[str]) -> list[str]:
    """Every suite of ``names`` once ("LUN ALL.Suite [flags]" lines), on the LUN MATRIX_SUITES names, else
    on the full one."""
    placed = {suite for suites in MATRIX_SUITES.values() for suite in suites} - set(ALSO_FULL)
    suites = sorted({name.split(".")[1] for name in names} - placed)
    runs = [f"full ALL.{suite}" for suite in suites]
    for lun, named in MATRIX_SUITES.items():
        runs += [f"{lun} ALL.{suite}" + (" --allow-sanitize" if suite == "Sanitize" else "")
                 for suite in named]
    return runs


def _all_tests() -> list[str]:
    """libiscsi's test names ("ALL.Suite.Test"), from the host's iscsi-test-cu --list."""
    tool = shutil.which("iscsi-test-cu")
    if tool is None:
        pytest.skip("iscsi-test-cu not installed on the host (Debian package libiscsi-bin)")
    listing = subprocess.run([tool, "--list"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.split() if line.startswith("ALL.") and line.count(".") == 2]


def _split(runs: list[str], counts: dict[str, int]) -> tuple[list[str], list[str]]:
    """Two halves of about the same number of tests, the biggest suites first."""
    halves: tuple[list[str], list[str]] = ([], [])
    load = [0, 0]
    tests = {run: counts.get(run.split()[1].split(".")[1], 1) for run in runs}  # "LUN ALL.Suite ..."
    for run in sorted(runs, key=lambda r: -tests[r]):
        i = load.index(min(load))
        halves[i].append(run)
        load[i] += tests[run]
    return halves


@pytest.mark.lab
def test_iscsi_test_cu_matrix_over_iser(lab: Lab) -> None:
    """libiscsi's conformance suite over iSER on the LUN matrix (issue 12): every test the client runs to
    its end is a real pass but CLIENT_FAILURES, and a run that dies shows CLIENT_CRASH."""
    names = _all_tests()
    counts = Counter(name.split(".")[1] for name in names)
    halves = _split(matrix_runs(names), counts)
    specs = [lab.spec(guest_script("rxe_up.sh", "iser_matrix.sh"), name=f"matrix-{i}",
                      env=iser_env(TOML_HEAD=TGT_ISER_KEYS, MATRIX_RUNS="\n".join(half)), nics=[UserNet()],
                      memory_mib=MEMORY_MIB, timeout=1500.0) for i, half in enumerate(halves)]
    results = lab.run(*specs)
    parsed: list[CunitResult] = []
    crashed: list[str] = []
    died_in: set[str] = set()  # tests that failed in a run the client's crash ended
    for spec, result in zip(specs, results, strict=True):
        assert "target alive after iscsi-test-cu" in result.output
        for run, text in _runs((spec.workdir / "share" / "cunit.out").read_text(errors="replace")):
            parsed.append(parse_cunit(text))
            if "iscsi-test-cu died with signal" in text:
                assert CLIENT_CRASH.search(text), f"{run}: iscsi-test-cu died, not of its own fault:\n{text}"
                crashed.append(run)
                died_in |= set(parsed[-1].failed())
    merged = merge(parsed)
    not_run = sorted(n[4:] for n in names if n[4:] not in merged.outcomes)
    print(f"\niscsi-test-cu over iSER on the LUN matrix (passed on some LUN):\n{merged.table()}")
    print(f"runs the client's fault ended: {len(crashed)} of {sum(map(len, halves))}: {sorted(crashed)}")
    print(f"tests not run because of it: {len(not_run)}; failed: {', '.join(merged.failed()) or 'none'}")
    c = merged.count()
    RECORD.figures.append(f"iscsi-test-cu over iSER on the LUN matrix: {c['passed']} passed, {c['skipped']} "
                          f"skipped, {c['failed']} failed; the client's crash ended {len(crashed)} of "
                          f"{sum(map(len, halves))} runs")
    # a failure is the client's when its run died (CLIENT_CRASH) or CLIENT_FAILURES names it; else hptd's
    unexplained = [n for n in merged.failed() if n not in died_in and n not in CLIENT_FAILURES]
    assert not unexplained, f"failures over iSER: {unexplained}"
    assert merged.count()["passed"] >= 130, merged.count()


ROUNDS = 3  # turns each target takes in the throughput run (iser_throughput.sh)
# the throughput test's guest CPUs: 1, the lab's default (the initiator, soft-RoCE and the target share
# it); LAB_CPUS=2 measures with a CPU apart for the target's own work (perf/README.md, "iSER, in the lab")
THROUGHPUT_CPUS = int(os.environ.get("LAB_CPUS", "1"))
# its guest clock: LAB_ICOUNT=N (default 1) counts the guest's instructions, 2**N ns each (QEMU's -icount),
# so each figure measures the work a target makes the one vCPU do, the same from run to run within about 0.4%;
# the wall clock under TCG carries the host's load (one turn within about +-15%). LAB_ICOUNT=off: the wall
# clock, which LAB_CPUS=2 needs (counted instructions run the vCPUs in turn on one host thread)
_icount = os.environ.get("LAB_ICOUNT", "off" if THROUGHPUT_CPUS > 1 else "1")
THROUGHPUT_ICOUNT = None if _icount in ("", "off") else int(_icount)


def _turns(output: str, pattern: str, what: str) -> list[tuple[str, ...]]:
    """The groups of ``pattern`` in each turn's line of the guest output: one per turn, or a failure."""
    found = [m.groups() for m in re.finditer(pattern, output)]
    assert len(found) == ROUNDS, f"{len(found)} {what} results in the guest output, not {ROUNDS}"
    return found


def _mb_per_s(output: str, target: str, direction: str) -> list[float]:
    found = _turns(output, rf"throughput {target} {direction}: (\d+) bytes .* copied, ([\d.]+) s",
                   f"{target} {direction}")
    assert all(int(n) == 1 << 30 for n, _ in found), f"{target} {direction} did not move 1 GiB: {found}"
    return [int(n) / float(s) / 1e6 for n, s in found]


def _iops(output: str, target: str) -> list[float]:
    found = [float(n) for (n,) in _turns(output, rf"iops {target} randread: (\d+)", f"{target} randread")]
    assert all(found), f"{target}: fio read nothing in a turn: {found}"
    return found


def _cpu(output: str, target: str, what: str) -> list[tuple[int, int, int]]:
    """Each turn's (user, system) ticks of the target, and the guest's idle ticks, for one pass."""
    found = _turns(output, rf"cpu {target} {what}: user (\d+) sys (\d+) idle (\d+)", f"{target} {what} CPU")
    return [(int(u), int(s), int(i)) for u, s, i in found]


def _packets(output: str, target: str, what: str) -> list[int]:
    """Each turn's count of packets soft-RoCE sent in one pass (both ends': it carries both)."""
    return [int(n) for (n,) in _turns(output, rf"packets {target} {what}: (\d+)", f"{target} {what} packets")]


def _settle(output: str, target: str) -> list[float]:
    """Each turn's seconds of udev's probe of the new disk after the login (not timed in a pass)."""
    return [float(s) for (s,) in _turns(output, rf"settle {target}: ([\d.]+) s", f"{target} settle")]


@pytest.mark.lab
def test_sequential_throughput_hptd_and_tgtd(lab: Lab) -> None:
    """The issue's iSER figures: each target's median of ROUNDS turns, taken in turn in one guest."""
    script = guest_script("rxe_up.sh", "hptd_iser_start.sh", "tgtd_iser_start.sh", "iser_throughput.sh")
    result = lab.run_one(script, name="iser-throughput", env=iser_env(DEFINE_ONLY="1", ROUNDS=str(ROUNDS)),
                         nics=[UserNet()], memory_mib=MEMORY_MIB, timeout=1800.0,
                         cpus=THROUGHPUT_CPUS, icount=THROUGHPUT_ICOUNT)
    clock = (", wall clock" if THROUGHPUT_ICOUNT is None
             else f", guest clock by instruction count, {1 << THROUGHPUT_ICOUNT} ns each")
    lines = [f"iSER (soft-RoCE under emulation, {THROUGHPUT_CPUS} vCPU{clock}), median of {ROUNDS} turns"
             " each: 1 GiB sequential O_DIRECT in MB/s, fio 4K random read in IOPS; the target's median CPU"
             " in ticks (user + system), the guest's idle ticks and the packets soft-RoCE sent"]
    for what in ("write", "read", "randread"):
        if what == "randread":
            ours, theirs = (_iops(result.output, target) for target in ("hptd", "tgtd"))
        else:
            ours, theirs = (_mb_per_s(result.output, target, what) for target in ("hptd", "tgtd"))
        cpu = {target: _cpu(result.output, target, what) for target in ("hptd", "tgtd")}
        mine, peer = median(ours), median(theirs)
        lines.append(f"  {what:8}  hptd {mine:8.1f}  tgtd {peer:8.1f}  hptd/tgtd {mine / peer:.3f}   "
                     + "  ".join(f"{t} cpu {median(u for u, _, _ in c):.0f}+{median(s for _, s, _ in c):.0f}"
                                 f" idle {median(i for _, _, i in c):.0f}"
                                 f" packets {median(_packets(result.output, t, what)):.0f}"
                                 for t, c in cpu.items())
                     + f"   (each turn: hptd {', '.join(f'{x:.1f}' for x in ours)};"
                     f" tgtd {', '.join(f'{x:.1f}' for x in theirs)}; each round's ratio"
                     f" {', '.join(f'{o / t:.3f}' for o, t in zip(ours, theirs, strict=True))})")
    lines.append("  udev's probe of the new disk after each login, before the passes (s): "
                 + "; ".join(f"{t} {', '.join(f'{x:.2f}' for x in _settle(result.output, t))}"
                             for t in ("hptd", "tgtd")))
    print("\n" + "\n".join(lines))
    RECORD.figures.extend(lines)
