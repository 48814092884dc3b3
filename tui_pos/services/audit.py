"""The append-only audit log: overrides, cancellations, sign-ins, imports; each row chained to the one before.

`record` is the only writer. It appends in the caller's transaction, after
the newest row: the row's id is the newest id + 1 and its hash covers the
newest row's hash (domain/audit_chain.py). Appends are serialized so that
two registers writing at once still make one chain: on PostgreSQL by a
transaction-level advisory lock on the log (held until the caller's
transaction ends), on SQLite by the database's own write lock, which every
transaction here takes at BEGIN (IMMEDIATE, models/db.py).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from peewee import ModelInsert, ModelSelect

from tui_pos.domain import audit_chain
from tui_pos.domain.audit_chain import AuditRow
from tui_pos.domain.errors import InputError
from tui_pos.models import AuditLog, User, db, local_time, utcnow
from tui_pos.models.db import is_sqlite
from tui_pos.models.prepared import fetch_one, prepared


@prepared(0)
def _q_head() -> ModelSelect:
    return AuditLog.select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)


@prepared(9)
def _q_append(*args: Any) -> ModelInsert:
    return AuditLog.insert(id=args[0], at=args[1], action=args[2], user=args[3], approved_by=args[4],
                           register=args[5], detail=args[6], prev_hash=args[7], hash=args[8])


def record(action: str, *, user_id: int | None = None, approved_by: int | None = None,
           register: str = "", **detail: Any) -> None:
    """Append one entry. Call inside the transaction of the change it records (alone, it is its own)."""
    text = json.dumps(detail, sort_keys=True, default=str)
    if db.in_transaction():
        _append(action, user_id, approved_by, register, text)
    else:
        with db.atomic():
            _append(action, user_id, approved_by, register, text)


def _append(action: str, user_id: int | None, approved_by: int | None, register: str, detail: str) -> None:
    if not is_sqlite():
        # one appender at a time until this transaction ends; the next one then reads this row as the head.
        # The lock is taken before the head is read, by a statement of its own: in READ COMMITTED each
        # statement sees what was committed when it began.
        db.execute_sql("SELECT pg_advisory_xact_lock('audit_log'::regclass::oid::bigint)")
    head = chain_head()
    row = AuditRow(id=head.id + 1, at=utcnow(), action=action, user_id=user_id, approved_by=approved_by,
                   register=register, detail=detail, prev_hash=head.hash)
    _q_append.cursor(row.id, row.at, row.action, row.user_id, row.approved_by, row.register, row.detail,
                     row.prev_hash, audit_chain.row_hash(row.prev_hash, row))


# ------------------------------------------------------------------ reading the chain

_CHAIN_FIELDS = (AuditLog.id, AuditLog.at, AuditLog.action, AuditLog.user, AuditLog.approved_by, AuditLog.register,
                 AuditLog.detail, AuditLog.prev_hash, AuditLog.hash)


def _as_row(r: dict[str, Any]) -> AuditRow:
    return AuditRow(id=r["id"], at=r["at"], action=r["action"], user_id=r["user"], approved_by=r["approved_by"],
                    register=r["register"], detail=r["detail"], prev_hash=r["prev_hash"], hash=r["hash"])


def chain_rows(after_id: int = 0, batch: int = 5000) -> Iterator[AuditRow]:
    """Every row after `after_id`, in id order, read `batch` rows at a time (a million rows never sit in memory)."""
    while True:
        page = list(AuditLog.select(*_CHAIN_FIELDS).where(AuditLog.id > after_id)
                    .order_by(AuditLog.id).limit(batch).dicts())
        for r in page:
            yield _as_row(r)
        if len(page) < batch:
            return
        after_id = page[-1]["id"]


@dataclass(frozen=True)
class ChainStatus:
    """What verifying the whole log found."""

    rows: int                    # rows that matched the chain
    broken: AuditRow | None      # the first row that does not, if any
    head: str                    # the newest row's hash when the whole chain holds (GENESIS: an empty log)
    head_row: int = 0            # and its id

    def holds_text(self, digits: int = 64) -> str:
        """What `doctor` and `tui-pos audit --verify` say of a chain that holds."""
        if not self.rows:
            return "0 rows, the chain holds (empty)"
        return f"{self.rows} rows, the chain holds; newest row {self.head_row}, hash {self.head[:digits]}"


def log_gone() -> str | None:
    """What is wrong when the log itself is missing or was emptied (the chain cannot say: there is no row
    to break it), or None. A dropped table or hash column, or an empty log in a database with users (adding
    a user is always logged), is a log somebody removed."""
    database = db.obj
    tables = database.get_tables()
    if "schema_migrations" not in tables:
        return None                                     # no schema yet: the schema check says so
    applied = {r[0] for r in database.execute_sql("SELECT version FROM schema_migrations").fetchall()}
    if "audit_log" not in tables:
        return "the audit_log table is missing: it was dropped or renamed by hand; restore it from a backup"
    if 17 in applied and "hash" not in {c.name for c in database.get_columns("audit_log")}:
        return "the audit log's hash column is missing: the table was changed by hand; restore it from a backup"
    if 17 in applied and not AuditLog.select().exists() and User.select().exists():
        return (f"the audit log is empty though {User.select().count()} users exist (adding one is always "
                "logged): it was emptied by hand; restore it from a backup")
    return None


def verify_chain(batch: int = 5000) -> ChainStatus:
    """Walk the log in id order and find the first row that does not match the chain."""
    seen = [0]
    last: list[AuditRow] = []

    def counted() -> Iterator[AuditRow]:
        for row in chain_rows(batch=batch):
            seen[0] += 1
            last[:] = [row]
            yield row

    broken_id = audit_chain.verify(counted())
    if broken_id is not None:
        return ChainStatus(rows=seen[0] - 1, broken=last[0], head="")
    if not last:
        return ChainStatus(rows=0, broken=None, head=audit_chain.GENESIS)
    return ChainStatus(rows=seen[0], broken=None, head=last[0].hash, head_row=last[0].id)


def when(at: Any) -> str:
    """A row's time as people read it (local, to the minute); text written over it by hand as it is."""
    return local_time(at).strftime("%Y-%m-%d %H:%M") if isinstance(at, _dt.datetime) else str(at)


def broken_text(row: AuditRow) -> str:
    """The one sentence `doctor` and `tui-pos audit --verify` say about a broken chain."""
    return (f"row {row.id} ({when(row.at)}, {row.action}) does not match the chain: "
            "the log was changed at or before it")


@dataclass(frozen=True)
class ChainHead:
    """The newest row: its id (0 for an empty log) and its hash as stored."""

    id: int
    hash: str


def chain_head() -> ChainHead:
    """The newest row as stored: the anchor a Z report prints (read after the Z's own row, in its transaction)."""
    cursor = _q_head.cursor()
    found = fetch_one(cursor)
    return ChainHead(**dict(zip((c[0] for c in cursor.description), found))) if found \
        else ChainHead(0, audit_chain.GENESIS)


def head_hash() -> str:
    """The newest row's hash as stored (GENESIS for an empty log)."""
    return chain_head().hash


# ------------------------------------------------------------------ listing and filtering

@dataclass(frozen=True)
class Entry:
    """One row as `tui-pos audit` lists it."""

    id: int
    at: _dt.datetime | str       # local time
    register: str
    user: str
    approver: str
    action: str
    detail: dict[str, Any]
    hash: str


def local_day_bounds(day: _dt.date) -> tuple[_dt.datetime, _dt.datetime]:
    """The store's local day `day` as [start, end) in stored time (naive UTC); DST days are 23 or 25 hours."""
    start = _dt.datetime.combine(day, _dt.time()).astimezone(_dt.UTC).replace(tzinfo=None)
    end = _dt.datetime.combine(day + _dt.timedelta(days=1), _dt.time()).astimezone(_dt.UTC)
    return start, end.replace(tzinfo=None)


def listing(*, user: str | None = None, action: str | None = None, day: str | None = None,
            limit: int | None = 50, batch: int = 1000) -> Iterator[Entry]:
    """The log newest first: rows where `user` acted or approved, whose action starts with `action`, on the
    store's local `day` (YYYY-MM-DD); at most `limit` rows (None: all), read a page at a time.
    Checks every filter before the first row."""
    where = []
    if user is not None:
        person = User.get_or_none(User.name == user.strip())
        if person is None:
            known = [u.name for u in User.select(User.name).order_by(User.name).limit(11)]
            said = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else "none yet"
            raise InputError(f"no user named {user!r} (the users: {said})")
        where.append((AuditLog.user == person.id) | (AuditLog.approved_by == person.id))
    if action:
        where.append(AuditLog.action.startswith(action))
    if day is not None:
        try:
            date = _dt.date.fromisoformat(day.strip())
        except ValueError:
            raise InputError(f"--day {day!r}: expected a date as YYYY-MM-DD") from None
        start, end = local_day_bounds(date)
        where += [AuditLog.at >= start, AuditLog.at < end]
    return _pages(where, limit, batch)


def _pages(where: list, limit: int | None, batch: int) -> Iterator[Entry]:
    approver = User.alias()
    names: dict[int, str] = {}
    left = limit
    before = None
    while left is None or left > 0:
        query = (AuditLog.select(AuditLog.id, AuditLog.at, AuditLog.register, AuditLog.user, AuditLog.approved_by,
                                 AuditLog.action, AuditLog.detail, AuditLog.hash)
                 .order_by(AuditLog.id.desc()).limit(batch if left is None else min(batch, left)))
        conditions = where + ([AuditLog.id < before] if before is not None else [])
        if conditions:
            query = query.where(*conditions)
        page = list(query.dicts())
        wanted = {r[k] for r in page for k in ("user", "approved_by") if r[k] is not None} - names.keys()
        if wanted:
            names.update((u["id"], u["name"]) for u in approver.select(approver.id, approver.name)
                         .where(approver.id.in_(list(wanted))).dicts())
        for r in page:
            yield Entry(id=r["id"], at=local_time(r["at"]) if isinstance(r["at"], _dt.datetime) else r["at"],
                        register=r["register"], user=names.get(r["user"], "") if r["user"] else "",
                        approver=names.get(r["approved_by"], "") if r["approved_by"] else "",
                        action=r["action"], detail=_detail(r["detail"]), hash=r["hash"])
        if len(page) < (batch if left is None else min(batch, left)):
            return
        before = page[-1]["id"]
        if left is not None:
            left -= len(page)


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"text": text}          # written by hand: shown as it is
    return value if isinstance(value, dict) else {"value": value}


def entries(limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, for support and tests."""
    rows = AuditLog.select().order_by(AuditLog.id.desc()).limit(limit)
    return [{"at": r.at, "action": r.action, "user_id": r.user_id, "approved_by": r.approved_by_id,
             "register": r.register, "detail": json.loads(r.detail or "{}")} for r in rows]


__all__ = ["ChainHead", "ChainStatus", "Entry", "broken_text", "chain_head", "chain_rows", "entries", "head_hash",
           "listing",
           "local_day_bounds", "record", "verify_chain", "when"]
