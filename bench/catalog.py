"""`make bench`: a big catalog (issue 23), printed as figures (not tests), with the machine's load.

1. `import products` of N rows (BENCH_CATALOG_N, default 300,000) on SQLite and PostgreSQL (a fresh schema), in
   rows/s, beside a floor measured in the same run: raw sqlite3 executemany of the same rows into a bare table
   (the ratio says what checking and indexing cost). Target >= 50,000 rows/s.
2. the register's start-up to its first screen (pty) with 40 products vs N (target <= 1.2x)
3. catalog.search (F3) as a name, a SKU and a barcode are typed one character at a time: p50/p99 (target p99
   <= 10 ms)
4. scan-to-line with N products vs 40 (pty, as bench/run_all.py measures it)
"""

from __future__ import annotations

import csv
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_all import (  # noqa: E402
    APP_MARKER,
    PIN,
    PIN_MARKER,
    cold_start,
    ean13,
    ms,
    pct,
    scan_latency,
    tui_pos_argv,
)

N = int(os.environ.get("BENCH_CATALOG_N", "300000"))
STARTS = int(os.environ.get("BENCH_STARTS", "5"))
PG_URL = os.environ.get("TUI_POS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("barcode,sku,name,section,price,tax_rate,points,points_cost\n")
        for i in range(n):
            f.write(f"{ean13(i)},SKU{i:06d},Item {i:04d} Café {i % 997},Aisle {i % 40},{i % 5000 + 1}.{i % 100:02d},"
                    f"7,,\n")


def floor(path: Path, root: Path) -> float:
    """rows/s of the bare minimum: csv.reader and sqlite3 executemany into a table without indexes."""
    db_path = root / "floor.db"
    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE t (barcode TEXT, sku TEXT, name TEXT, section TEXT, price TEXT, tax_rate TEXT, "
                 "points TEXT, points_cost TEXT)")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        rows = list(reader)
    with conn:
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()
    return len(rows) / (time.perf_counter() - t0)


def timed_import(url: str, path: Path) -> tuple[float, float]:
    """(rows/s of the first import, rows/s of importing the same file again)."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import catalog
    database = bind(url)
    database.connect(reuse_if_open=True)
    migrate(database)
    t0 = time.perf_counter()
    r = catalog.import_products(path)
    first = time.perf_counter() - t0
    assert r.created == N, r
    t0 = time.perf_counter()
    r = catalog.import_products(path)
    again = time.perf_counter() - t0
    assert r.unchanged == N, r
    db.close()
    return N / first, N / again


def pg_import(path: Path) -> tuple[float, float] | None:
    try:
        import psycopg
        schema = "bench_" + uuid.uuid4().hex[:10]
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL: not measured ({exc})")
        return None
    try:
        return timed_import(f"{PG_URL}?options=-c%20search_path%3D{schema}", path)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def store(root: Path, name: str, n: int, csv_path: Path | None) -> dict[str, str]:
    """A SQLite store of n products (the first n of the bench file) and a manager; the register's env."""
    db_path = root / f"{name}.db"
    cfg = root / f"{name}.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n')
    small = root / f"{name}.csv"
    if csv_path is None:
        write_csv(small, n)
        csv_path = small
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import catalog, users
    database = bind(f"sqlite:///{db_path}")
    migrate(database)
    catalog.import_products(csv_path)
    users.add_user("Bench", "manager", PIN)
    db.close()
    return {"TUI_POS_CONFIG": str(cfg), "XDG_DATA_HOME": str(root / "xdg")}


def search_times(env: dict[str, str]) -> list[float]:
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.services import catalog
    url = Path(env["TUI_POS_CONFIG"]).read_text().split('"')[1]
    bind(url).connect(reuse_if_open=True)
    typed = [f"Item {i:04d} Café" for i in (7, N // 3, N - 1)] + [f"caf {N // 2}", "aisle", "x", "zq",
                                                                  f"SKU{N // 5:06d}", ean13(N // 7), "item 1"]
    times = []
    for text in typed:
        for k in range(1, len(text) + 1):
            for _ in range(3):
                t0 = time.perf_counter()
                catalog.search(text[:k], limit=30)
                times.append(time.perf_counter() - t0)
    db.close()
    return times


def main() -> None:
    print(f"== a big catalog: {N:,} products ({load()}) ==")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "products.csv"
        write_csv(path, N)
        base = floor(path, root)
        print(f"floor (csv.reader + sqlite3 executemany into a bare table): {base:,.0f} rows/s")
        first, again = timed_import(f"sqlite:///{root / 'import.db'}", path)
        print(f"import products, SQLite:     {first:,.0f} rows/s ({base / first:.1f}x the floor's time); "
              f"again (all unchanged) {again:,.0f} rows/s (target >= 50,000)")
        pg = pg_import(path)
        if pg is not None:
            print(f"import products, PostgreSQL: {pg[0]:,.0f} rows/s ({base / pg[0]:.1f}x the floor's time); "
                  f"again (all unchanged) {pg[1]:,.0f} rows/s (target >= 50,000)   [{load()}]")

        small, big = store(root, "small", 40, None), store(root, "big", N, path)
        print(f"\n== the register's start-up to its first screen (pty, median of {STARTS}) ==")
        starts: dict[str, list[float]] = {"40": [], "N": []}
        for _ in range(STARTS):
            starts["40"].append(cold_start(tui_pos_argv(), small, PIN_MARKER)[0])
            starts["N"].append(cold_start(tui_pos_argv(), big, PIN_MARKER)[0])
        a, b = statistics.median(starts["40"]), statistics.median(starts["N"])
        print(f"40 products {ms(a)}   {N:,} products {ms(b)}   ratio {b / a:.2f}x (target <= 1.2x)   [{load()}]")

        print("\n== catalog.search as a name, a SKU and a barcode are typed, a character at a time ==")
        times = search_times(big)
        print(f"{len(times)} searches: p50 {ms(statistics.median(times))}  p99 {ms(pct(times, 99))}  "
              f"max {ms(max(times))} (target p99 <= 10 ms)")

        print("\n== scan-to-line (pty, until the line is painted) ==")
        for label, env in (("40 products", small), (f"{N:,} products", big)):
            t, _, _ = scan_latency(tui_pos_argv(), env, APP_MARKER, 0 if label.startswith("40") else 600)
            print(f"{label:>17}: median {ms(statistics.median(t))}  p99 {ms(pct(t, 99))}")
        print(f"[{load()}]")


if __name__ == "__main__":
    main()
