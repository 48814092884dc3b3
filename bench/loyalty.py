"""Loyalty statistics and the report over 1,000,000 customers and 10,000,000 ledger rows (SQLite).

    python bench/loyalty.py          (BENCH_CUSTOMERS, default 1,000,000; BENCH_LEDGER, default 10,000,000)

Generates the customers and a ledger spread over 24 months in bulk (balances,
lifetime totals and monthly totals consistent with it), then times:
  1. the statistics (enrolled, tiers, 12 months issued/redeemed, most active, liability)
  2. the whole report as CSV (every customer), and one month's report
  3. the Loyalty screen in the real app (headless): how long until the statistics and
     the report's first page are on it, and the longest the event loop was held meanwhile
Target: statistics and report <= 2 s each, computed in a worker while the screen stays responsive.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N = int(os.environ.get("BENCH_CUSTOMERS", "1000000"))
LEDGER = int(os.environ.get("BENCH_LEDGER", "10000000"))


def generate(db_path: Path) -> float:
    import tui_pos.services.demo as demo
    from tui_pos.domain.loyalty import parse_program, program_to_toml
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import loyalty_admin
    from tui_pos.services.demo import DEMO_PROGRAM, seed_demo
    database = bind(f"sqlite:///{db_path}")
    migrate(database)
    demo.DEMO_USERS = []  # no sign-in: the screen benchmark opens straight on the register
    seed_demo(with_loyalty=False)
    loyalty_admin.save_program_text(program_to_toml(parse_program(DEMO_PROGRAM)))
    t0 = time.perf_counter()
    conn = database.connection()
    conn.execute("PRAGMA synchronous = OFF")  # generation only
    rnd = random.Random(7)
    batch = 50000
    with database.atomic():
        for start in range(0, N, batch):
            conn.executemany(
                "INSERT INTO customer (id, code, name, phone, created_at, contact, fiscal_name, dv, ruc_type, "
                "nt_person, payment_status, status, sms_consent, email_consent, notes, points_balance, "
                "points_earned, points_redeemed, visits, marketing_opt_out, invite_declined) VALUES (?, ?, ?, ?, "
                "'2024-01-01 00:00:00', '', '', '', '', '', 0, 'open', 0, 0, '', 0, 0, 0, 0, 0, 0)",
                [(i + 1, f"B{i:07d}", f"Customer {i}", f"+5076{i:07d}") for i in range(start, min(N, start + batch))])
    balance, earned, redeemed = (array("q", bytes(8 * (N + 1))), array("q", bytes(8 * (N + 1))),
                                 array("q", bytes(8 * (N + 1))))
    months: dict[tuple[str, str], list[int]] = {}
    with database.atomic():
        for start in range(0, LEDGER, batch):
            rows = []
            for _ in range(min(batch, LEDGER - start)):
                cid = int(rnd.paretovariate(1.2)) % N + 1 if rnd.random() < 0.5 else rnd.randrange(1, N + 1)
                month = rnd.randrange(24)
                y, m = 2024 + (10 + month) // 12, (10 + month) % 12 + 1
                at = f"{y:04d}-{m:02d}-{rnd.randrange(1, 28):02d} 12:00:00"
                spend = balance[cid] >= 100 and rnd.random() < 0.25
                points = -100 if spend else rnd.randrange(1, 40)
                kind = "redeem" if spend else "earn"
                before = balance[cid]
                balance[cid] = before + points
                if spend:
                    redeemed[cid] += 100
                else:
                    earned[cid] += points
                entry = months.setdefault((at[:7], kind), [0, 0])
                entry[0] += points
                entry[1] += 1
                rows.append((at, cid, kind, points, before, before + points, 0 if spend else 1))
            conn.executemany("INSERT INTO loyalty_movement (at, customer_id, kind, points, balance_before, "
                             "balance_after, counts_as_earned, register, reason)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, 'R1', '')",
                             rows)
        conn.executemany("UPDATE customer SET points_balance = ?, points_earned = ?, points_redeemed = ? WHERE id = ?",
                         ((balance[i], earned[i], redeemed[i], i) for i in range(1, N + 1) if earned[i] or redeemed[i]))
        conn.execute("DELETE FROM loyalty_month")
        conn.executemany("INSERT INTO loyalty_month (month, kind, points, movements, shard) VALUES (?, ?, ?, ?, '')",
                         [(m, k, v[0], v[1]) for (m, k), v in months.items()])
    conn.execute("PRAGMA synchronous = FULL")
    took = time.perf_counter() - t0
    db.close()
    return took


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


async def on_screen(db_path: Path) -> tuple[float, float, float]:
    """The real app's Loyalty screen: seconds to statistics and report on screen, longest loop stall."""
    import datetime as dt

    from tui_pos.app import PosApp
    from tui_pos.bootstrap import build
    from tui_pos.config import from_dict
    from tui_pos.screens.loyalty_admin import LoyaltyAdmin
    runtime = build(from_dict({"database": {"url": f"sqlite:///{db_path}"}}), allow_no_users=True)   # no sign-in
    app = PosApp(runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        stall = 0.0
        done = {"stats": None, "report": None}
        t0 = time.perf_counter()
        app.push_screen(LoyaltyAdmin(runtime.money, None, "R1", today=dt.date(2026, 10, 31)))
        screen = None
        last = time.perf_counter()
        while None in done.values():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stall = max(stall, now - last - 0.005)
            last = now
            screen = app.screen
            if isinstance(screen, LoyaltyAdmin):
                # each widget looked for on its own: the screen may be part-way through mounting
                figures, message = screen.query("#stats-figures"), screen.query("#report-message")
                if done["stats"] is None and figures and "Enrolled" in str(figures.first().render()):
                    done["stats"] = now - t0
                if done["report"] is None and message and "customers." in str(message.first().render()):
                    done["report"] = now - t0
            if now - t0 > 120:
                raise TimeoutError("the Loyalty screen never finished")
        return done["stats"], done["report"], stall


def main() -> None:
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.services import loyalty_admin
    with tempfile.TemporaryDirectory() as tmp:
        keep = os.environ.get("BENCH_DB")  # a path to keep the generated database for another run
        db_path = Path(keep) if keep else Path(tmp) / "loyalty.db"
        print(f"== loyalty over {N:,} customers and {LEDGER:,} ledger rows (SQLite) ==")
        if keep and db_path.exists():
            print(f"reusing {db_path} ({db_path.stat().st_size / 2**20:.0f} MiB)")
        else:
            print(f"generated in bulk: {generate(db_path):.1f} s ({db_path.stat().st_size / 2**20:.0f} MiB)")
        bind(f"sqlite:///{db_path}")
        t, stats = timed(lambda: loyalty_admin.statistics(today=__import__("datetime").date(2026, 10, 31)))
        print(f"statistics: {t * 1000:.0f} ms (enrolled {stats.enrolled:,}, "
              f"liability {stats.liability_cents / 100:,.2f},"
              f" {sum(a for _, a, _ in stats.months):,} points issued in 12 months) (target <= 2 s)")

        def whole_csv() -> int:
            with open(Path(tmp) / "report.csv", "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(loyalty_admin.REPORT_COLUMNS)
                writer.writerows(loyalty_admin.report_rows())
            with open(Path(tmp) / "report.csv", "rb") as f:
                return sum(1 for _ in f) - 1
        t, count = timed(whole_csv, repeat=1)
        print(f"report, every customer as CSV to a file: {t * 1000:.0f} ms ({count:,} rows) (target <= 2 s)")
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n')
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui_pos", "--config", str(cfg), "report", "loyalty", "--csv"],
                       stdout=subprocess.DEVNULL, check=True)
        print(f"`tui-pos report loyalty --csv`, the whole command with its start-up: "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        t, rows = timed(lambda: loyalty_admin.report(date_from="2026-03-01", date_to="2026-03-31"), repeat=1)
        print(f"report, one month (2026-03): {t * 1000:.0f} ms ({len(rows):,} customers)")
        t, rows = timed(lambda: loyalty_admin.report(tier="Gold", limit=500))
        print(f"report, first screen of the Gold tier: {t * 1000:.0f} ms")
        db.close()
        stats_at, report_at, stall = asyncio.run(on_screen(db_path))
        print(f"Loyalty screen: statistics on screen after {stats_at * 1000:.0f} ms, report's first page after "
              f"{report_at * 1000:.0f} ms; longest event-loop stall meanwhile {stall * 1000:.0f} ms")


if __name__ == "__main__":
    main()
