"""The audit log's hash chain: what an append costs, and how long verifying a long log takes.

    python bench/audit.py            (BENCH_APPENDS, default 1,000; BENCH_VERIFY_ROWS, default 100,000;
                                      TUI_POS_TEST_PG: the PostgreSQL server, skipped when unreachable)

1. 1,000 appends, each in a transaction of its own as a register writes them
   (`with db.atomic(): audit.record(...)`), on a SQLite file (synchronous=FULL)
   and on PostgreSQL: total seconds and per append, chained (`record`) and as
   a plain INSERT (what `record` was before the chain), alternated BENCH_ROUNDS
   times (default 5) on fresh databases; median and best.
2. `tui-pos doctor`'s chain check over a log of 100,000 rows (written in bulk
   through the chain's own hashing, then verified streaming in id order).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

APPENDS = int(os.environ.get("BENCH_APPENDS", "1000"))
ROWS = int(os.environ.get("BENCH_VERIFY_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PG_URL = os.environ.get("TUI_POS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def bind_fresh(url: str):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(url)
    database.connect(reuse_if_open=True)
    migrate(database)
    return database


def plain_record(action: str, *, user_id=None, approved_by=None, register: str = "", **detail) -> None:
    """`record` as it was before the chain (one INSERT), for the comparison."""
    import json

    from tui_pos.models import AuditLog
    AuditLog.create(action=action, user=user_id, approved_by=approved_by, register=register,
                    detail=json.dumps(detail, sort_keys=True, default=str))


def appends(url: str, chained: bool = True) -> float:
    from tui_pos.models import db
    from tui_pos.services import audit
    record = audit.record if chained else plain_record
    database = bind_fresh(url)
    with db.atomic():   # warm up: connection, statements
        record("bench.warmup", register="R1")
    t0 = time.perf_counter()
    for i in range(APPENDS):
        with db.atomic():
            record("line.void", register="R1", note=i, sku="A-100", qty=1, unit_price_cents=250)
    took = time.perf_counter() - t0
    database.close()
    return took


def verify(url: str) -> tuple[float, float] | None:
    """Seconds to write ROWS rows in bulk, and to verify them (None: no chain in this tree)."""
    try:
        from tui_pos.domain import audit_chain
        from tui_pos.services.audit import verify_chain
    except ImportError:
        return None
    import datetime as dt

    from tui_pos.models import AuditLog, db
    database = bind_fresh(url)
    t0 = time.perf_counter()
    prev = audit_chain.GENESIS
    start = dt.datetime(2026, 1, 1, 8, 0, 0)
    rows = []
    with db.atomic():
        for i in range(1, ROWS + 1):
            entry = audit_chain.AuditRow(id=i, at=start + dt.timedelta(seconds=i), action="line.void", user_id=None,
                                         approved_by=None, register="R1",
                                         detail=f'{{"note": {i}, "qty": 1, "sku": "A-100"}}')
            digest = audit_chain.row_hash(prev, entry)
            rows.append({"id": i, "at": entry.at, "action": entry.action, "user": None, "approved_by": None,
                         "register": "R1", "detail": entry.detail, "prev_hash": prev, "hash": digest})
            prev = digest
            if len(rows) == 5000:
                AuditLog.insert_many(rows).execute()
                rows = []
        if rows:
            AuditLog.insert_many(rows).execute()
    wrote = time.perf_counter() - t0
    t0 = time.perf_counter()
    status = verify_chain()
    took = time.perf_counter() - t0
    assert status.broken is None and status.rows == ROWS, status
    database.close()
    return wrote, took


def pg_url() -> str | None:
    try:
        import psycopg
        schema = "bench_" + uuid.uuid4().hex[:10]
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{PG_URL}?options=-c%20search_path%3D{schema}"
    except Exception:  # noqa: BLE001 - no server: SQLite only
        return None


def drop(url: str) -> None:
    import psycopg
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("SQLite", f"sqlite:///{tmp}/a.db", f"sqlite:///{tmp}/v.db")]
        first, second = pg_url(), pg_url()
        if first and second:
            backends.append(("PostgreSQL", first, second))
        for name, url, url2 in backends:
            runs: dict[bool, list[float]] = {False: [], True: []}
            for i in range(ROUNDS):   # alternated, each on a fresh database: the same machine load for both
                for chained in (False, True):
                    fresh = url if url.startswith("sqlite") else (pg_url() or url)
                    if fresh.startswith("sqlite"):
                        fresh = f"sqlite:///{tmp}/a{i}{int(chained)}.db"
                    runs[chained].append(appends(fresh, chained))
                    if fresh != url and not fresh.startswith("sqlite"):
                        drop(fresh)
            for chained, label in ((False, "plain insert (before)"), (True, "chained (after)")):
                best, median = min(runs[chained]), sorted(runs[chained])[len(runs[chained]) // 2]
                print(f"{name:<10} {APPENDS} appends, {label:<21}: median {median:5.2f} s, best {best:5.2f} s "
                      f"({median / APPENDS * 1000:.2f} ms each)")
            timed = verify(url2)
            if timed is not None:
                print(f"{name:<10} verify {ROWS} rows: {timed[1]:6.2f} s (written in bulk in {timed[0]:.1f} s)")
        for url in (first, second):
            if url:
                drop(url)


if __name__ == "__main__":
    main()
