"""`make bench`: the foundation's benchmarks, printed as figures (not tests).

1. cold start to the sale screen vs a minimal Textual app (target <= 1.5x)
2. scan-to-line latency in a real pty, notes of 10 and 500 lines, vs the naive
   reference app (targets: median <= 0.5x the reference; 500 within 1.2x of 10)
3. completing a 10-line sale on SQLite with synchronous=FULL (target p99 <= 15 ms)
4. peak RSS of the running register vs the minimal app (target <= 1.3x)
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

PRODUCTS = 1200
SCANS = int(os.environ.get("BENCH_SCANS", "40"))
STARTS = int(os.environ.get("BENCH_STARTS", "5"))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def ms(v: float) -> str:
    return f"{v * 1000:7.1f} ms"


def ean13(i: int) -> str:
    from stdnum import ean
    body = f"20{i:010d}"
    return body + ean.calc_check_digit(body)


def make_store(root: Path, prefill: int) -> dict[str, str]:
    """A database with PRODUCTS items and an open note of `prefill` lines; returns env."""
    db_path = root / f"bench-{prefill}.db"
    cfg = root / f"config-{prefill}.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n')
    csv = root / "products.csv"
    with csv.open("w") as f:
        f.write("barcode,sku,name,section,price,tax_rate,points,points_cost\n")
        for i in range(PRODUCTS):
            f.write(f"{ean13(i)},SKU{i:04d},Item {i:04d},Bench,1.00,7,,\n")
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import catalog
    from tui_pos.services.sales import SaleService
    database = bind(f"sqlite:///{db_path}")
    migrate(database)
    catalog.import_products(csv)
    from tui_pos.services import users
    users.add_user("Bench", "manager", PIN)   # a register opens only with a user (issue 28 item 10)
    sales = SaleService("R1")
    note = sales.open_note()
    for i in range(prefill):
        sales.add_item(note, ean13(i))
    db.close()
    return {"TUI_POS_CONFIG": str(cfg), "XDG_DATA_HOME": str(root / "xdg")}


def tui_pos_argv() -> list[str]:
    return [sys.executable, "-m", "tui_pos"]


def reference_argv(rows: int) -> list[str]:
    return [sys.executable, str(HERE / "reference_app.py"), str(rows)]


APP_MARKER = b"scan or type a code"
PIN_MARKER = b"Type your PIN"   # the register's first screen: its PIN prompt
PIN = "1234"
REF_MARKER = b"reference ready"


def ready(app, marker: bytes) -> None:
    """Wait until the app can take scans: the register opens on its PIN prompt, so sign in first."""
    if marker != APP_MARKER:
        app.read_until(marker)
        return
    app.read_until(PIN_MARKER)
    app.drain(0.2)
    offset = len(app.buffer)
    app.write(f"{PIN}\r".encode())
    app.read_until(APP_MARKER, since=offset)


def cold_start(argv, env, marker) -> tuple[float, int]:
    app = PtyApp(argv, env)
    try:
        app.read_until(marker)
        took = time.perf_counter() - app.start
        app.drain()
        return took, app.peak_rss_kib()
    finally:
        app.close()


def scan_latency(argv, env, marker, first_item: int) -> tuple[list[float], list[int], int]:
    app = PtyApp(argv, env)
    times, sizes = [], []
    try:
        ready(app, marker)
        app.drain(0.5)
        for k in range(SCANS):
            item = first_item + k
            offset = len(app.buffer)
            app.write((ean13(item) + "\r").encode())
            times.append(app.read_until(f"Item {item:04d}".encode(), since=offset))
            app.drain(0.05)
            sizes.append(len(app.buffer) - offset)
        return times, sizes, app.peak_rss_kib()
    finally:
        app.close()


def sale_completion(root: Path) -> list[float]:
    """Time SaleService.pay() completing 10-line notes (synchronous=FULL)."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import catalog
    from tui_pos.services.sales import SaleService
    database = bind(f"sqlite:///{root / 'complete.db'}")
    migrate(database)
    catalog.import_products(root / "products.csv")
    assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
    sales = SaleService("R1")
    times = []
    for n in range(200):
        note = sales.open_note()
        for i in range(10):
            sales.add_item(note, ean13((n * 10 + i) % PRODUCTS))
        t0 = time.perf_counter()
        result = sales.pay(note)
        times.append(time.perf_counter() - t0)
        assert result.completed
    db.close()
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env10 = make_store(root, 10)
        env500 = make_store(root, 500)
        ref_env = {"XDG_DATA_HOME": str(root / "xdg")}

        print("== cold start to the first screen (pty, 120x40) ==")
        app_starts, ref_starts, app_rss, ref_rss = [], [], [], []
        for _ in range(STARTS):
            t, rss = cold_start(tui_pos_argv(), env10, PIN_MARKER)
            app_starts.append(t)
            app_rss.append(rss)
            t, rss = cold_start(reference_argv(0), ref_env, REF_MARKER)
            ref_starts.append(t)
            ref_rss.append(rss)
        a, r = statistics.median(app_starts), statistics.median(ref_starts)
        print(f"tui-pos  median {ms(a)}   minimal app median {ms(r)}   ratio {a / r:.2f}x (target <= 1.5x)")

        print(f"\n== scan-to-line latency ({SCANS} scans, 13 digits + Enter, until the line is painted) ==")
        results = {}
        for label, env, prefill in (("10 lines", env10, 10), ("500 lines", env500, 500)):
            at, asz, arss = scan_latency(tui_pos_argv(), env, APP_MARKER, 600)
            rt, rsz, rrss = scan_latency(reference_argv(prefill), ref_env, REF_MARKER, 600)
            results[label] = (at, rt)
            print(f"{label:>9}: tui-pos median {ms(statistics.median(at))} p99 {ms(pct(at, 99))} "
                  f"{statistics.median(asz) / 1024:5.1f} KiB/scan | reference median {ms(statistics.median(rt))} "
                  f"p99 {ms(pct(rt, 99))} {statistics.median(rsz) / 1024:5.1f} KiB/scan | ratio "
                  f"{statistics.median(at) / statistics.median(rt):.2f}x (target <= 0.5x)")
            app_rss.append(arss)
            ref_rss.append(rrss)
        m10 = statistics.median(results["10 lines"][0])
        m500 = statistics.median(results["500 lines"][0])
        print(f"tui-pos 500-line vs 10-line median: {m500 / m10:.2f}x (target <= 1.2x)")

        print("\n== completing a 10-line sale (SQLite, WAL, synchronous=FULL) ==")
        times = sale_completion(root)
        print(f"200 sales: median {ms(statistics.median(times))}  p99 {ms(pct(times, 99))}  "
              f"max {ms(max(times))} (target p99 <= 15 ms)")

        print("\n== peak RSS ==")
        print(f"tui-pos {max(app_rss) / 1024:.1f} MiB   minimal app {max(ref_rss) / 1024:.1f} MiB   "
              f"ratio {max(app_rss) / max(ref_rss):.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
