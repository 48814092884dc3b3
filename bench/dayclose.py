"""The close of day at volume (`python bench/dayclose.py`), issue 23 item 3: the X and Z reports over
BENCH_DAY_SALES sales in one day (default 5,000 sales of BENCH_DAY_LINES lines, default 5, half of them to
customers with loyalty), target <= 1 s each, on SQLite (synchronous=FULL, as a register runs).

The sales are made through SaleService (real notes, lines, payments, ledger rows); then the X report is
taken BENCH_DAY_RUNS times (default 5) and the Z once. Prints the machine's load beside the figures.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SALES = int(os.environ.get("BENCH_DAY_SALES", "5000"))
LINES = int(os.environ.get("BENCH_DAY_LINES", "5"))
RUNS = int(os.environ.get("BENCH_DAY_RUNS", "5"))
TARGET_S = 1.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_DATA_HOME", str(Path(tmp) / "xdg"))
        from tui_pos.models.db import bind
        from tui_pos.models.migrations import migrate
        from tui_pos.services import customers, dayclose, loyalty
        from tui_pos.services.demo import DEMO_PRODUCTS, seed_demo
        from tui_pos.services.sales import SaleService
        database = bind(f"sqlite:///{Path(tmp) / 'day.db'}")
        database.connect()
        migrate(database)
        seed_demo(with_loyalty=True)
        people = [customers.create({"name": f"Bench {i}", "mobile": f"6{i:07d}"}, region="PA").id
                  for i in range(200)]
        for pid in people:
            loyalty.opening_balance(pid, 1000)
        skus = [p[1] for p in DEMO_PRODUCTS]
        shop = SaleService("R1", store_name="Bench")
        t0 = time.perf_counter()
        for n in range(SALES):
            note = shop.open_note()
            for k in range(LINES):
                shop.add_item(note, skus[(n * LINES + k) % len(skus)])
            if n % 2:
                shop.attach_customer(note, people[n % len(people)])
            if n % 3:
                shop.pay(note, "cash", 1_000_000)             # cash, with change
            else:
                shop.pay(note, "card", shop.summary(note).due_cents)
        made = time.perf_counter() - t0
        print(f"day: {SALES:,} sales of {LINES} lines made in {made:.1f} s "
              f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            report = dayclose.x_report("R1")
            times.append(time.perf_counter() - t0)
        assert report.sales_count == SALES, report.sales_count
        x = statistics.median(times)
        print(f"X report over {report.sales_count:,} sales, {RUNS} runs: median {x:.3f} s, max {max(times):.3f} s "
              f"(target <= {TARGET_S:.0f} s: {'met' if max(times) <= TARGET_S else 'NOT met'})")
        t0 = time.perf_counter()
        z = dayclose.close_day("R1", report.cash_expected_cents)
        took = time.perf_counter() - t0
        print(f"Z report (closes the day) over {z.sales_count:,} sales: {took:.3f} s "
              f"(target <= {TARGET_S:.0f} s: {'met' if took <= TARGET_S else 'NOT met'})")
        t0 = time.perf_counter()
        dayclose.z_report("R1", z.number)
        print(f"Z report shown again: {time.perf_counter() - t0:.3f} s")
        database.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
