"""Eight registers, one PostgreSQL: sales per second and p99 per sale, with loyalty.

Eight register processes (SaleService, as the app uses it) ring up sales
against one PostgreSQL on this machine: two lines, a customer from a shared
set of 20 (so registers meet on the same balances), points redeemed on every
other sale, paid in cash. Each sale is timed from its first scan to its
completion. Two phases of BENCH_SECONDS each, after twenty warm-up sales a
register (their points count in the checks):

- flat out: each register starts its next sale as soon as the last is done.
  This measures the most sales a second the machine can complete; a sale's
  time here is mostly its wait in the queue for the CPU (with 8 registers
  in a closed loop, mean time = 8 / throughput, Little's law).
- paced at BENCH_RATE (200) sales a second in all: each register has a sale
  due every 8 / 200 s = 40 ms, and a sale's time counts from when it was
  due, not from when it started, so a register running late is charged for
  its wait too (no coordinated omission). This measures how long a sale
  takes when the store runs 200 sales a second.

At the end every balance is checked against its ledger and every register's
receipt numbers for gaps.

    python bench/registers.py   (BENCH_PG_URL, BENCH_SECONDS=10, BENCH_REGISTERS=8, BENCH_RATE=200, 0: flat out only)
Targets: >= 200 sales/s in total, p99 <= 50 ms per sale, zero discrepancies.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PG = os.environ.get("BENCH_PG_URL", os.environ.get("TUI_POS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
REGISTERS = int(os.environ.get("BENCH_REGISTERS", "8"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "20"))
RATE = float(os.environ.get("BENCH_RATE", "200"))   # the paced phase's sales/s in all; 0 skips it

WORKER = textwrap.dedent('''
    import json, os, sys, time
    from tui_pos.domain.errors import InputError
    from tui_pos.models.db import bind
    from tui_pos.services.loyalty import BalanceChanged
    from tui_pos.services.sales import SaleService
    url, register, start, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    ids = [int(c) for c in sys.argv[5].split(",")]
    period, offset = float(sys.argv[6]), float(sys.argv[7])   # paced: a sale due every `period` s (0: flat out)
    database = bind(url)
    database.connect()
    backend = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]

    def server_cpu():
        """CPU seconds of this register's PostgreSQL backend (same machine: /proc; 0.0 if unreadable)."""
        try:
            with open(f"/proc/{backend}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return 0.0
    sales = SaleService(register)
    sales.register_id
    times, complete, redeemed, refused, i = [], [], 0, 0, int(register[1:])
    next_note = None

    def sale():
        """One sale as the bench rings it up; returns the time its payment took."""
        global next_note, redeemed, refused, i
        note = next_note or sales.open_note()   # as the sale screen: the completed sale opened the next note
        sales.add_item(note, "CAPP")
        sales.add_item(note, "CROI")
        sales.attach_customer(note, ids[i % len(ids)])
        want = 0
        if i % 2 == 0:
            try:
                sales.redeem(note, 100)
                want = 100
            except InputError:
                pass
        t1 = time.perf_counter()
        try:
            result = sales.pay(note)
        except BalanceChanged:
            refused += 1
            sales.redeem(note, 0)
            want = 0
            result = sales.pay(note)
        assert result.completed
        next_note = result.next_note_id
        redeemed += want
        i += 1
        return time.perf_counter() - t1

    for w in range(20):   # warm up (a register's first sales prepare its statements), then wait for the start
        sale()
    while time.time() < start:
        time.sleep(0.0005)
    cpu0, server0 = time.process_time(), server_cpu()
    base, k = time.perf_counter() + offset, 0
    while time.time() < stop:
        t0 = time.perf_counter()
        if period:
            # open loop: the k-th sale is due at base + k * period, and its time counts from then,
            # so a register running late is charged for the wait too (no coordinated omission)
            due = base + k * period
            k += 1
            if due > t0:
                time.sleep(due - t0)
                if time.time() >= stop:
                    break
            t0 = due
        complete.append(sale())
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "complete": complete, "redeemed": redeemed, "refused": refused,
                      "cpu": time.process_time() - cpu0, "server_cpu": server_cpu() - server0}))
''')


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def run(url: str, ids: list[int], period: float) -> list[dict]:
    """One phase: REGISTERS processes for SECONDS; `period` > 0 paces each to a sale every `period` s."""
    start = time.time() + 5.0   # every register started and warmed up
    stop = start + SECONDS
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, f"R{r}", str(start), str(stop),
                               ",".join(map(str, ids)), str(period), str(period * (r - 1) / REGISTERS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(1, REGISTERS + 1)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=SECONDS + 120)
        if p.returncode:
            raise SystemExit(f"a register failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def report(title: str, results: list[dict]) -> None:
    times = [t for r in results for t in r["times"]]
    complete = [t for r in results for t in r["complete"]]
    total = len(times)
    print(f"-- {title}")
    print(f"sales: {total} in {SECONDS:.0f} s = {total / SECONDS:.0f} sales/s")
    print(f"per sale (2 scans, customer, points, pay): median {statistics.median(times) * 1000:.1f} ms  "
          f"p99 {pct(times, 99) * 1000:.1f} ms")
    print(f"completion alone (pay, in one transaction): median {statistics.median(complete) * 1000:.1f} ms  "
          f"p99 {pct(complete, 99) * 1000:.1f} ms")
    print(f"CPU per sale: registers {sum(r['cpu'] for r in results) / total * 1000:.1f} ms, PostgreSQL "
          f"{sum(r['server_cpu'] for r in results) / total * 1000:.1f} ms (this machine has {os.cpu_count()} cores)")


def main() -> None:
    import psycopg

    from tui_pos.models import Customer, LoyaltyMovement, Note, Register, db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import customers, loyalty
    from tui_pos.services.demo import seed_demo

    schema = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG}?options=-c%20search_path%3D{schema}"
    try:
        database = bind(url)
        migrate(database)
        seed_demo()
        ids = []
        for n in range(CUSTOMERS):
            c = customers.create_with_phone(f"6300-{n:04d}", region="PA")
            loyalty.opening_balance(c.id, 1000)
            ids.append(c.id)
        db.close()
        flat_out = run(url, ids, 0.0)
        paced = run(url, ids, REGISTERS / RATE) if RATE else None

        bind(url)
        problems = []
        for cid in ids:
            balance = Customer.get_by_id(cid).points_balance
            ledger = sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid))
            if balance != ledger or balance < 0:
                problems.append(f"customer {cid}: balance {balance}, ledger {ledger}")
        removed = -sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.kind == "redeem"))
        redeemed = sum(r["redeemed"] for r in flat_out + (paced or []))
        if removed != redeemed:
            problems.append(f"redeemed {redeemed} but the ledger removed {removed}")
        for reg in Register.select():
            seqs = [n.seq for n in Note.select(Note.seq).where(Note.register == reg.id, Note.status == "paid")
                    .order_by(Note.seq)]
            if seqs != list(range(1, len(seqs) + 1)):
                problems.append(f"register {reg.code}: receipt numbers are not 1..{len(seqs)}")
        db.close()

        print(f"== {REGISTERS} registers on one PostgreSQL, {CUSTOMERS} shared customers, {SECONDS:.0f} s a phase ==")
        report("flat out (each register starts its next sale when the last is done)", flat_out)
        if paced:
            report(f"paced at {RATE:.0f} sales/s in all (a sale due every {REGISTERS / RATE * 1000:.0f} ms "
                   f"on each register, timed from when it was due)", paced)
        print("targets: >= 200 sales/s flat out; p99 <= 50 ms per sale at 200 sales/s")
        print(f"redemptions refused because another register spent the points first: "
              f"{sum(r['refused'] for r in flat_out + (paced or []))}")
        print(f"discrepancies: {len(problems)}" + "".join(f"\n  {p}" for p in problems))
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
