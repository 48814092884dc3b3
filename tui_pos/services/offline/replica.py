"""The register's local replica (issue 24, docs/offline.md): a SQLite file with the whole schema, holding what
selling needs, copied from the server and refreshed from its change log; and the journal of what was done on it
while the server was away.

The replica is written through its own `sqlite3` connection (`connect`), never through the app's database
proxy: the register may be selling on it meanwhile. Server rows are read with plain SQL on the `server`
database given (this thread's connection to it).

The journal is kept by triggers of the replica itself, in the transaction of what they record: a note that
becomes paid (a sale or a return), a customer made, an audit entry written. A refresh marks its own writes
(`replica_meta.applying`, inside its transaction) so that server rows copied in are never journalled.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import Database

from tui_pos.models.db import db, open_database
from tui_pos.models.migrations import REPLICATED, migrate

PAGE = 20_000        # rows per server read while building (keyset pages by id)

_REPLICA_SQL = (
    "CREATE TABLE IF NOT EXISTS replica_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, "
    "kind TEXT NOT NULL, ref INTEGER NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', "
    "sent_at TEXT, server_id INTEGER, result TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS journal_state ON journal (state, id)",
    # a sale or a return completed on the replica: its uid goes to the server with it
    "CREATE TRIGGER IF NOT EXISTS journal_note AFTER UPDATE OF status ON note "
    "WHEN new.status = 'paid' AND old.status <> 'paid' "
    "AND NOT EXISTS (SELECT 1 FROM replica_meta WHERE key = 'applying') BEGIN "
    "INSERT INTO journal (uid, kind, ref, at) VALUES (lower(hex(randomblob(16))), new.kind, new.id, "
    "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
    "CREATE TRIGGER IF NOT EXISTS journal_customer AFTER INSERT ON customer "
    "WHEN NOT EXISTS (SELECT 1 FROM replica_meta WHERE key = 'applying') BEGIN "
    "INSERT INTO journal (uid, kind, ref, at) VALUES (lower(hex(randomblob(16))), 'customer', new.id, "
    "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
    "CREATE TRIGGER IF NOT EXISTS journal_audit AFTER INSERT ON audit_log "
    "WHEN NOT EXISTS (SELECT 1 FROM replica_meta WHERE key = 'applying') BEGIN "
    "INSERT INTO journal (uid, kind, ref, at) VALUES (lower(hex(randomblob(16))), 'audit', new.id, "
    "strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection of our own to the replica: WAL, synchronous=FULL (a journal entry is on disk when the
    cashier sees the sale), foreign keys off (server rows arrive in any order; the server checked them)."""
    conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = full")
    conn.execute("PRAGMA foreign_keys = off")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM replica_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO replica_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET value = excluded.value", (key, value))


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


# Server rows go to the replica as the driver gives them: a bool is an int to sqlite3, and times are written
# as sqlite3's own default adapters (deprecated from Python 3.12) and so peewee on SQLite write them,
# "2026-12-07 10:41:04.123456" and "2026-12-07". Said once here, so no row is converted in Python.
sqlite3.register_adapter(_dt.datetime, str)
sqlite3.register_adapter(_dt.date, str)


def _watermark(server: Database) -> str:
    """Where the next refresh starts: "xmax:xip,xip" of a snapshot taken before the changes are read. Every
    transaction below xmax and not in progress then (xip) had ended, so its changes are read now; the next
    refresh reads those from xmax on and those that were in progress. (The snapshot's xmin would do too, but
    any long transaction on the server, a backup say, would make each refresh read again all since.)"""
    xmax, xip = server.execute_sql("SELECT pg_snapshot_xmax(s)::text, COALESCE(ARRAY(SELECT x::text FROM "
                                   "pg_snapshot_xip(s) AS x), '{}') FROM pg_current_snapshot() AS s").fetchone()
    return f"{xmax}:{','.join(xip or [])}"


def _since(watermark: str) -> tuple[str, list[str]]:
    xmax, _, xip = watermark.partition(":")
    return xmax or "0", [x for x in xip.split(",") if x]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r["name"] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _put(conn: sqlite3.Connection, table: str, names: list[str], rows: Sequence[Sequence[Any]]) -> int:
    """INSERT OR REPLACE server rows (a row whose unique value moved to this one gives way; its own change
    comes with a later refresh)."""
    marks = ", ".join("?" * len(names))
    if rows:
        conn.executemany(f'INSERT OR REPLACE INTO "{table}" ({_quoted(names)}) VALUES ({marks})', rows)
    return len(rows)


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _shared(conn: sqlite3.Connection, server: Database, table: str) -> list[str]:
    """The table's columns both sides have, in the replica's order (each side made by the same migrations)."""
    on_server = {d[0] for d in server.execute_sql(f'SELECT * FROM "{table}" LIMIT 0').description}
    return [n for n in _columns(conn, table) if n in on_server]


# rows of a table that are another store's: a replica holds its own store's prices (and the chain's customers)
_STORE_ONLY = {"store_price": "point_of_sale_id = (SELECT point_of_sale_id FROM register WHERE code = %s)"}


def _only(table: str, register: str) -> tuple[str, tuple[Any, ...]]:
    where = _STORE_ONLY.get(table)
    return (f" AND {where}", (register,)) if where else ("", ())


@dataclass(frozen=True)
class Built:
    rows: dict[str, int]
    seconds: float


def build(path: str | Path, server: Database, progress: Callable[[str, int], None] | None = None, *,
          register: str = "") -> Built:
    """Make the replica at `path` from the server: the schema by the migrations, then each table of
    REPLICATED copied in pages; written to `path.building` and renamed over `path` when whole."""
    started = time.perf_counter()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    schema = open_database(f"sqlite:///{tmp}")
    with db.routed(schema):
        migrate(schema)
    schema.close()
    conn = connect(tmp)
    # a build that fails is thrown away whole: no journal, no fsync, a large cache; the indexes are made
    # after the rows are in (kept up row by row, they were most of the time: 13 s of 300,000 customers)
    conn.execute("PRAGMA journal_mode = off")
    conn.execute("PRAGMA synchronous = off")
    conn.execute("PRAGMA cache_size = -262144")
    for sql in _REPLICA_SQL:
        conn.execute(sql)
    marks = ", ".join("?" * len(REPLICATED))
    indexes = [(r["name"], r["sql"]) for r in conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        REPLICATED)]
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    counts: dict[str, int] = {}
    conn.execute("BEGIN")
    set_meta(conn, "applying", "1")
    # every page read from one snapshot, the watermark's: a unique value moving between two rows while the
    # build reads (a customer's cards made again, say) can never put both rows in the file
    with server.atomic():
        server.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        watermark = _watermark(server)
        for table in REPLICATED:
            names = _shared(conn, server, table)
            at = names.index("id")
            last, total = 0, 0
            only, params = _only(table, register)
            while True:
                rows = server.execute_sql(f'SELECT {_quoted(names)} FROM "{table}" WHERE id > %s{only} '
                                          f"ORDER BY id LIMIT {PAGE}", (last, *params)).fetchall()
                if not rows:
                    break
                total += _put(conn, table, names, rows)
                last = rows[-1][at]
                if progress is not None:
                    progress(table, total)
                if len(rows) < PAGE:
                    break
            counts[table] = total
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("DELETE FROM replica_meta WHERE key = 'applying'")
    set_meta(conn, "watermark", watermark)
    set_meta(conn, "built_at", _now())
    set_meta(conn, "refreshed_at", _now())
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = full")
    conn.close()
    for old in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        old.unlink(missing_ok=True)
    os.replace(tmp, target)
    os.chmod(target, 0o600)        # it holds the users' PIN hashes
    return Built(counts, time.perf_counter() - started)


def ensure_journal(conn: sqlite3.Connection) -> None:
    for sql in _REPLICA_SQL:
        conn.execute(sql)


@dataclass(frozen=True)
class Refreshed:
    changed: int
    removed: int
    seconds: float


class JournalPending(Exception):
    """The replica still holds offline work: it is sent before the replica takes server rows again."""


class SellingOffline(JournalPending):
    """Another process (the register) sells on this replica now: it is neither tidied nor refreshed under it."""


def _selling_file(path: str | Path) -> Path:
    """`REPLICA.selling`: the pid of the process selling on the replica now. A file beside it, not a row in
    it: saying so never waits for a write lock the replica's own sales may hold."""
    return Path(f"{path}.selling")


def selling_elsewhere(conn: sqlite3.Connection) -> int | None:
    """The process that sells on this replica now, if it is not this one and still runs."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    try:
        text = _selling_file(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit() or int(text) == os.getpid():
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None           # killed (kill -9, a crash) while offline: nobody sells on it now
    except PermissionError:
        pass
    return int(text)


def _check_free(conn: sqlite3.Connection, selling_here: Callable[[], bool] | None = None) -> None:
    """Inside the caller's write transaction: nothing waits to be sent, and no register sells on the replica
    (`selling_here`: this process's own register, which may have switched since the caller looked)."""
    if selling_here is not None and selling_here():
        raise SellingOffline("the register is selling offline on this replica now")
    other = selling_elsewhere(conn)
    if other is not None:
        raise SellingOffline(f"the register (process {other}) is selling offline on this replica: it sends its "
                             "journal itself when the server answers")
    if pending(conn):
        raise JournalPending("the journal has entries to send first")
    refused = failed(conn)
    if refused:
        raise JournalPending(f"{refused} journal entries the server refused are kept on the register: "
                             "`tui-pos sync --problems` says why, `tui-pos sync --now` tries them again")


def failed(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM journal WHERE state = 'failed'").fetchone()[0])


def retry_failed(conn: sqlite3.Connection) -> int:
    """Entries the server refused, made pending again (after the manager fixed what they needed)."""
    return conn.execute("UPDATE journal SET state = 'pending' WHERE state = 'failed'").rowcount


def mark_selling(path: str | Path, selling: bool) -> None:
    """Say beside the replica that this process sells on it (or no longer does)."""
    marker = _selling_file(path)
    if selling:
        marker.write_text(str(os.getpid()), encoding="ascii")
        return
    try:
        if marker.read_text(encoding="ascii").strip() == str(os.getpid()):
            marker.unlink(missing_ok=True)
    except OSError:
        pass


def refresh(conn: sqlite3.Connection, server: Database, *, register: str = "",
            selling_here: Callable[[], bool] | None = None) -> Refreshed:
    """Bring the replica up to date: the rows the server's change log names since the last watermark."""
    started = time.perf_counter()
    since, running = _since(meta(conn, "watermark") or "0")
    watermark = _watermark(server)
    by_table: dict[str, list[int]] = {}
    for tbl, row_id in server.execute_sql("SELECT tbl, row_id FROM replica_change WHERE xid >= %s::xid8 "
                                          "OR xid = ANY(%s::xid8[])", (since, running)).fetchall():
        by_table.setdefault(tbl, []).append(int(row_id))
    changed = removed = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        _check_free(conn, selling_here)   # under the write lock: no sale completes between the check and the writes
        set_meta(conn, "applying", "1")
        for table in REPLICATED:
            ids = by_table.get(table)
            if not ids:
                continue
            names = _shared(conn, server, table)
            only, params = _only(table, register)
            rows = server.execute_sql(f'SELECT {_quoted(names)} FROM "{table}" WHERE id = ANY(%s){only}',
                                      (ids, *params)).fetchall()
            at = names.index("id")
            found = {row[at] for row in rows}
            gone = [i for i in ids if i not in found]
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                conn.execute(f'DELETE FROM "{table}" WHERE id IN ({", ".join("?" * len(part))})', part)
            removed += len(gone)
            changed += _put(conn, table, names, rows)
        conn.execute("DELETE FROM replica_meta WHERE key = 'applying'")
        set_meta(conn, "watermark", watermark)
        set_meta(conn, "refreshed_at", _now())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Refreshed(changed, removed, time.perf_counter() - started)


def pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM journal WHERE state = 'pending'").fetchone()[0])


@dataclass(frozen=True)
class JournalState:
    built: bool
    built_at: str | None
    refreshed_at: str | None
    synced_at: str | None
    pending: int
    pending_sales: int
    oldest: str | None
    selling: int | None = None     # another process selling on the replica now
    failed: int = 0                # entries the server refused, kept on the register


def state(path: str | Path) -> JournalState:
    if not Path(path).exists():
        return JournalState(False, None, None, None, 0, 0, None)
    conn = connect(path)
    try:
        ensure_journal(conn)
        row = conn.execute("SELECT count(*) AS n, sum(kind IN ('sale', 'return')) AS sales, min(at) AS oldest "
                           "FROM journal WHERE state = 'pending'").fetchone()
        return JournalState(meta(conn, "built_at") is not None, meta(conn, "built_at"), meta(conn, "refreshed_at"),
                            meta(conn, "synced_at"), int(row["n"]), int(row["sales"] or 0), row["oldest"],
                            selling_elsewhere(conn), failed(conn))
    finally:
        conn.close()


def purge(conn: sqlite3.Connection, selling_here: Callable[[], bool] | None = None) -> int:
    """After a whole journal is on the server: drop the offline work from the replica (notes, their lines,
    payments, ledger rows and print jobs; the customers made offline). The next refresh brings the server's
    rows of the same customers. Returns the notes dropped."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _check_free(conn, selling_here)
        notes = int(conn.execute("SELECT count(*) FROM note").fetchone()[0])
        made = [r["ref"] for r in conn.execute("SELECT ref FROM journal WHERE kind = 'customer'")]
        for table in ("note_line", "payment", "loyalty_movement", "loyalty_month", "stamp_event", "print_job",
                      "fiscal_document", "message", "note", "audit_log", "day_close"):
            conn.execute(f'DELETE FROM "{table}"')
        for start in range(0, len(made), 500):
            part = made[start:start + 500]
            marks = ", ".join("?" * len(part))
            for table in ("loyalty_card", "customer_word", "consent_event", "customer_group_member", "stamp_card"):
                conn.execute(f'DELETE FROM "{table}" WHERE customer_id IN ({marks})', part)
            conn.execute(f"DELETE FROM customer WHERE id IN ({marks})", part)
        conn.execute("DELETE FROM journal")
        set_meta(conn, "synced_at", _now())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return notes
