"""bench/portal.py runs at a small size (its figures are read from `make bench` only, as the others')."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_portal_benchmark_runs_at_a_small_size(tmp_path):
    env = dict(os.environ, BENCH_PORTAL_CUSTOMERS="2000", BENCH_PORTAL_RECEIPTS="20", BENCH_PORTAL_REQUESTS="30",
               BENCH_PORTAL_SCANS="3", BENCH_PORTAL_ROUNDS="1",
               XDG_DATA_HOME=str(tmp_path / "xdg"))
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "portal.py")], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "account page" in done.stdout and "p99" in done.stdout
    assert "portal idle" in done.stdout and "requests/s of the account page" in done.stdout
