"""Eight registers, one PostgreSQL: sales per second and p99 per sale, with loyalty.

Eight register processes (SaleService, as the app uses it) ring up sales at
full speed against one PostgreSQL on this machine: two lines, a customer from
a shared set of 20 (so registers meet on the same balances), points redeemed
on every other sale, paid in cash. Each sale is timed from its first scan to
its completion. At the end every balance is checked against its ledger and
every register's receipt numbers for gaps.

    python bench/registers.py        (BENCH_PG_URL, BENCH_SECONDS=10, BENCH_REGISTERS=8)
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

WORKER = textwrap.dedent('''
    import json, os, sys, time
    from tui_pos.domain.errors import InputError
    from tui_pos.models.db import bind
    from tui_pos.services.loyalty import BalanceChanged
    from tui_pos.services.sales import SaleService
    url, register, start, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    ids = [int(c) for c in sys.argv[5].split(",")]
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
    while time.time() < start:
        time.sleep(0.0005)
    cpu0, server0 = time.process_time(), server_cpu()
    while time.time() < stop:
        t0 = time.perf_counter()
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
        t2 = time.perf_counter()
        assert result.completed
        next_note = result.next_note_id
        times.append(t2 - t0)
        complete.append(t2 - t1)
        redeemed += want
        i += 1
    print(json.dumps({"times": times, "complete": complete, "redeemed": redeemed, "refused": refused,
                      "cpu": time.process_time() - cpu0, "server_cpu": server_cpu() - server0}))
''')


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


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
        start = time.time() + 3.0
        stop = start + SECONDS
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, f"R{r}", str(start), str(stop),
                                   ",".join(map(str, ids))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for r in range(1, REGISTERS + 1)]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=SECONDS + 120)
            if p.returncode:
                raise SystemExit(f"a register failed:\n{err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        pg_cpu = sum(r["server_cpu"] for r in results)
        client_cpu = sum(r["cpu"] for r in results)
        times = [t for r in results for t in r["times"]]
        complete = [t for r in results for t in r["complete"]]

        bind(url)
        problems = []
        for cid in ids:
            balance = Customer.get_by_id(cid).points_balance
            ledger = sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid))
            if balance != ledger or balance < 0:
                problems.append(f"customer {cid}: balance {balance}, ledger {ledger}")
        removed = -sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.kind == "redeem"))
        if removed != sum(r["redeemed"] for r in results):
            problems.append(f"redeemed {sum(r['redeemed'] for r in results)} but the ledger removed {removed}")
        for reg in Register.select():
            seqs = [n.seq for n in Note.select(Note.seq).where(Note.register == reg.id, Note.status == "paid")
                    .order_by(Note.seq)]
            if seqs != list(range(1, len(seqs) + 1)):
                problems.append(f"register {reg.code}: receipt numbers are not 1..{len(seqs)}")
        db.close()

        total = len(times)
        print(f"== {REGISTERS} registers on one PostgreSQL, {SECONDS:.0f} s, {CUSTOMERS} shared customers ==")
        print(f"sales: {total} in {SECONDS:.0f} s = {total / SECONDS:.0f} sales/s (target >= 200)")
        print(f"per sale (2 scans, customer, points, pay): median {statistics.median(times) * 1000:.1f} ms  "
              f"p99 {pct(times, 99) * 1000:.1f} ms (target <= 50 ms)")
        print(f"completion alone (pay, in one transaction): median {statistics.median(complete) * 1000:.1f} ms  "
              f"p99 {pct(complete, 99) * 1000:.1f} ms")
        print(f"CPU per sale: registers {client_cpu / total * 1000:.1f} ms, PostgreSQL {pg_cpu / total * 1000:.1f} ms "
              f"(this machine has {os.cpu_count()} cores)")
        print(f"redemptions refused because another register spent the points first: "
              f"{sum(r['refused'] for r in results)}")
        print(f"discrepancies: {len(problems)}" + "".join(f"\n  {p}" for p in problems))
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
