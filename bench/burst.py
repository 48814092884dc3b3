"""A runaway scanner: 20,000 characters into the code field, then the next scan.

The real register (`tui-pos --demo`, signed in) runs in a pty at 80x24. A
stuck key or a scanner in the wrong mode sends BENCH_BURST characters (default
20,000, an Enter every 5,000) as fast as the terminal takes them. Printed:

  - how long until the register says the burst was dropped (it is over);
  - the next scan's time, from its Enter until "Espresso" is painted
    (target: under 100 ms, issue 28);
  - the register's memory (RSS) after the burst.

Repeated BENCH_ROUNDS times (default 5), median and worst.

    python bench/burst.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ptyrun import PtyApp  # noqa: E402

BURST = int(os.environ.get("BENCH_BURST", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="tui-pos-burst-"))
    env = {"XDG_DATA_HOME": str(root / "xdg"), "TUI_POS_CONFIG": str(root / "none.toml")}
    (root / "none.toml").write_text("")
    app = PtyApp([sys.executable, "-m", "tui_pos", "--demo"], env, cols=80, rows=24)
    over, next_scan, rss = [], [], []
    try:
        app.read_until(b"Type your PIN")
        app.drain(0.3)
        app.write(b"1111\r")
        app.read_until(b"F10")
        app.drain(0.5)
        for n in range(ROUNDS):
            offset = len(app.buffer)
            t0 = time.perf_counter()
            sent = 0
            while sent < BURST:
                chunk = min(5000, BURST - sent)
                app.write(b"7" * chunk + b"\r")
                sent += chunk
            app.read_until(b"characters dropped", since=offset, timeout=120)   # the end, with the count
            over.append(time.perf_counter() - t0)
            app.drain(0.2)
            offset = len(app.buffer)
            app.write(b"ESP")
            time.sleep(0.05)                # a person's pace between the code and Enter: a scan of 3 is typing
            t1 = time.perf_counter()
            app.write(b"\r")
            app.read_until(b"Espresso" if n == 0 else b"  %d " % (n + 1), since=offset, timeout=60)
            next_scan.append(time.perf_counter() - t1)
            rss.append(rss_mb(app.pid))
            app.drain(0.3)
    finally:
        app.close()
    ms = [t * 1000 for t in next_scan]
    print(f"== a runaway burst of {BURST:,} characters, {ROUNDS} rounds, 80x24 ==")
    print(f"until the register says it is over: median {statistics.median(over):.2f} s, worst {max(over):.2f} s")
    print(f"the next scan: median {statistics.median(ms):.0f} ms, worst {max(ms):.0f} ms (target < 100 ms)")
    print(f"memory after the bursts: {max(rss):.0f} MB")


if __name__ == "__main__":
    main()
