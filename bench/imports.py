"""Bulk customer import and export (issue 23), on SQLite and PostgreSQL.

    python bench/imports.py       (BENCH_IMPORT_N rows, default 200,000; BENCH_PG to change the server's URL)

A customers.csv of N rows (code, name, phone, email, birthday, a card, every tenth in a group, opening points)
is imported into a fresh database with `import_customers` and the loyalty service's `opening_balances`
(as `tui-pos import customers` does), then imported again with `--update` (nothing changes), then exported.
Beside it, floors measured in the same run: raw `sqlite3` `executemany` of the same rows into a bare table
(what writing alone costs), and phonenumbers alone on the file's phones (parse, is_valid, format: what the
phone check alone costs); and the import's own reading and checking of the file, without a database. The
target is 50,000 rows/s. Each figure comes with the machine's load (os.getloadavg()).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N = int(os.environ.get("BENCH_IMPORT_N", "200000"))
PG_URL = os.environ.get("BENCH_PG", os.environ.get("TUI_POS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
FIRST = ["Ana", "José", "María", "Luis", "Carmen", "Pedro", "Rosa", "Jorge", "Elena", "Carlos"]
LAST = ["Pérez", "González", "Rodríguez", "Castillo", "Batista", "Herrera", "Sánchez", "Quintero", "Vega", "Ríos"]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def write_file(path: Path) -> list[list[str]]:
    from tui_pos.services.customers import CSV_COLUMNS
    rows = []
    for i in range(N):
        rows.append([f"K{i:07d}", f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {LAST[(i // 100) % 10]}",
                     f"+507 6{i:07d}", "", f"c{i}@example.com", "", "", "", "", "VIP" if i % 10 == 0 else "", "",
                     f"LOY-{i:07d}", "0", "open", f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                     str(i % 1000)])
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return rows


def floor_sqlite(root: Path, rows: list[list[str]]) -> float:
    """Raw sqlite3 executemany of the file's rows into a bare table, one transaction: rows/s."""
    conn = sqlite3.connect(root / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA synchronous=full")
    conn.execute("CREATE TABLE customer (" + ", ".join(f"c{i} TEXT" for i in range(16)) + ")")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO customer VALUES ({', '.join('?' * 16)})", rows)
    conn.execute("COMMIT")
    took = time.perf_counter() - t0
    conn.close()
    return N / took


def floor_phones(rows: list[list[str]]) -> float:
    """phonenumbers alone on the file's phones (what `normalize_phone` calls): rows/s."""
    import phonenumbers
    t0 = time.perf_counter()
    for row in rows:
        number = phonenumbers.parse(row[2], "PA")
        phonenumbers.is_valid_number(number)
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return N / (time.perf_counter() - t0)


def checks_alone(path: Path) -> float:
    """The import's reading and checking of every row (phones, emails, dates, RUC...), no database: rows/s."""
    from tui_pos.services import customers
    t0 = time.perf_counter()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = customers._read_customer_rows(reader, reader.fieldnames or [], "PA", lambda *a: ValueError(a))
    assert len(rows) == N
    return N / (time.perf_counter() - t0)


def run(url: str, path: Path, label: str) -> None:
    from tui_pos.models import Customer, LoyaltyMovement, db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import customers, loyalty
    database = bind(url)
    database.connect(reuse_if_open=True)
    migrate(database)
    customers.set_group("VIP", 500)

    def timed(what: str, call) -> object:
        before = load()
        t0 = time.perf_counter()
        result = call()
        took = time.perf_counter() - t0
        print(f"{label:>10} {what:<34} {took:7.1f} s {N / took:9,.0f} rows/s   ({before})")
        return result

    created = timed("import", lambda: customers.import_customers(path, region="PA",
                                                                 opening_balances=loyalty.opening_balances))
    assert created == (N, 0, 0), created
    assert not loyalty.ledger_mismatches(), "a balance is not the sum of its ledger"
    moved = LoyaltyMovement.select().count()
    again = timed("re-import --update (no change)", lambda: customers.import_customers(
        path, region="PA", update=True, opening_balances=loyalty.opening_balances))
    assert again == (0, 0, N) and LoyaltyMovement.select().count() == moved, again
    out = io.StringIO()
    count = timed("export", lambda: customers.export_customers(out))
    assert count == N == Customer.select().count()
    if not db.is_closed():
        db.close()


def main() -> None:
    print(f"== import customers: {N:,} rows (target >= 50,000 rows/s), {os.cpu_count()} CPUs ==")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(root / "xdg")
        path = root / "customers.csv"
        rows = write_file(path)
        print(f"{'floor':>10} {'raw sqlite3 executemany':<34} {'':9} {floor_sqlite(root, rows):9,.0f} rows/s   "
              f"({load()})")
        print(f"{'floor':>10} {'phonenumbers alone':<34} {'':9} {floor_phones(rows):9,.0f} rows/s   ({load()})")
        print(f"{'checks':>10} {'reading + checking, no database':<34} {'':9} {checks_alone(path):9,.0f} rows/s   "
              f"({load()})")
        run(f"sqlite:///{root / 'pos.db'}", path, "SQLite")
        try:
            import psycopg
            with psycopg.connect(PG_URL, connect_timeout=2, autocommit=True) as conn:
                schema = "bench_" + uuid.uuid4().hex[:10]
                conn.execute(f"CREATE SCHEMA {schema}")
        except Exception as exc:  # noqa: BLE001
            print(f"PostgreSQL: not measured ({exc})")
            return
        try:
            run(f"{PG_URL}?options=-c%20search_path%3D{schema}", path, "PostgreSQL")
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
