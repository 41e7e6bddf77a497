"""A longer fuzz run: ``python -m tests.fuzz.run --minutes N [--scale S] [-k EXPR]``.

Runs the harnesses of tests/fuzz in rounds, each round ``S`` times the suite's examples per harness with a
new random seed, until ``N`` minutes have passed (a round that has started finishes); then prints the
inputs each harness ran in all. A failing round stops the run and leaves hypothesis' falsifying example
in its output (and in ``.hypothesis/``, so the next ``pytest tests/fuzz`` tries it first).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, required=True, help="how long to keep starting rounds")
    parser.add_argument("--scale", type=float, default=10.0,
                        help="examples per harness in a round, times the suite's (default 10)")
    parser.add_argument("-k", dest="select", default="", help="pytest -k expression: some harnesses only")
    args = parser.parse_args(argv)
    end = time.monotonic() + args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        counts = Path(tmp) / "counts.json"
        env = dict(os.environ, HPT_FUZZ_SCALE=str(args.scale), HPT_FUZZ_COUNTS=str(counts))
        rounds = 0
        while time.monotonic() < end:
            rounds += 1
            seed = random.getrandbits(32)
            cmd = [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider",
                   f"--hypothesis-seed={seed}", "--ignore", str(HERE / "test_findings.py")]
            if args.select:
                cmd += ["-k", args.select]
            print(f"round {rounds}: seed {seed}", flush=True)
            if subprocess.run(cmd, env=env, cwd=HERE.parents[1]).returncode:
                print(f"round {rounds} failed (seed {seed})")
                return 1
        total = json.loads(counts.read_text()) if counts.exists() else {}
    print(f"{rounds} rounds; inputs per harness: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
