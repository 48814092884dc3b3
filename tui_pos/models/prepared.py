"""Hot queries built once by peewee, then run as plain SQL with new arguments.

Building SQL is most of peewee's cost: `Note.get_or_none(Note.id == n)` takes
~280 µs of CPU, of which ~160 µs is building the statement and ~100 µs making
the model; the same SELECT compiled once and run through the driver takes
~20 µs. A register ringing a sale runs dozens of the same few statements, so
the hot ones are written here as peewee queries whose arguments are markers
(`Arg`), compiled once per database into SQL with the driver's placeholders,
and run with `execute_sql`. Results are plain tuples, as the driver returns
them (SQLite gives booleans as 0/1 and times as text: the hot queries select
neither where it matters).

The SQL is still peewee's (same quoting, same dialect), so these queries run
on SQLite and PostgreSQL alike, inside the caller's transaction.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

import peewee
from peewee import SQL

from tui_pos.models.db import SQLITE_RETURNING, db, is_sqlite

_MARK = re.compile(r"__ARG(\d+)__")


def Arg(i: int) -> SQL:  # noqa: N802 - reads as a value in a query
    """The i-th argument of a prepared statement, where a value goes in a peewee query."""
    return SQL(f"__ARG{i}__")


class Prepared:
    """One statement: `build(*Args)` returns a peewee query; `run(*values)` executes it."""

    def __init__(self, build: Callable[..., Any], nargs: int) -> None:
        self.build = build
        self.nargs = nargs
        self._compiled: tuple[object, str, list] | None = None
        self._lock = threading.Lock()

    def _compile(self):
        database = db.obj
        compiled = self._compiled
        if compiled is not None and compiled[0] is database:
            return compiled
        with self._lock:
            query = self.build(*[Arg(i) for i in range(self.nargs)])
            sql, params = database.get_sql_context().sql(query).query()
            param = database.param
            # walk the placeholders in order: peewee's own (constants) and our markers (arguments)
            order: list[tuple[bool, Any]] = []
            consts = iter(params)
            out = []
            pos = 0
            pattern = re.compile(r"__ARG(\d+)__|" + re.escape(param))
            for m in pattern.finditer(sql):
                out.append(sql[pos:m.start()])
                out.append(param)
                if m.group(1) is not None:
                    order.append((True, int(m.group(1))))
                else:
                    order.append((False, next(consts)))
                pos = m.end()
            out.append(sql[pos:])
            compiled = (database, "".join(out), order)
            self._compiled = compiled
            return compiled

    def cursor(self, *values):
        """Run the statement; in a batch (models.db.batch) it is only sent: read it with `fetch_*`."""
        _, sql, order = self._compile()
        return db.obj.execute_sql(sql, [values[v] if is_arg else v for is_arg, v in order])

    def send(self, *values):
        """Send the statement to be read later, after statements sent since (or after the batch).

        On PostgreSQL in a batch the result is on its way; elsewhere the
        statement has run, and its rows are taken now so that later writes on
        the same connection cannot change what a late read sees (SQLite steps
        a cursor as it is read).
        """
        cursor = self.cursor(*values)
        return cursor if not is_sqlite() else _Taken(cursor)

    def rows(self, *values) -> list[tuple]:
        return fetch_rows(self.cursor(*values))

    def one(self, *values) -> tuple | None:
        return fetch_one(self.cursor(*values))

    def scalar(self, *values):
        return fetch_scalar(self.cursor(*values))

    def execute(self, *values) -> int:
        """An UPDATE or DELETE: the rows it changed (in a batch this waits for the server; an implicit
        batch refuses it: use `send` there)."""
        return db.obj.rows_affected(self.cursor(*values))

    def insert(self, *values) -> int:
        """An INSERT built with `.returning(Model.id)` where the database has RETURNING: the new id."""
        return inserted_id(self.cursor(*values))


class _Taken:
    """A SQLite cursor's outcome, taken at once (what `send` returns there)."""

    __slots__ = ("rows", "lastrowid", "rowcount", "description")

    def __init__(self, cursor) -> None:
        self.description = cursor.description
        self.rows = cursor.fetchall() if cursor.description else []
        self.lastrowid = cursor.lastrowid
        self.rowcount = cursor.rowcount

    def fetchall(self) -> list[tuple]:
        rows, self.rows = self.rows, []
        return rows

    def fetchone(self) -> tuple | None:
        return self.rows.pop(0) if self.rows else None


class Ready:
    """A value already in hand, read like a sent statement's one-row result."""

    __slots__ = ("row",)

    def __init__(self, *row) -> None:
        self.row = row

    def fetchone(self) -> tuple:
        return self.row

    def fetchall(self) -> list[tuple]:
        return [self.row]


# Reading a sent statement's result. In a batch the driver's error surfaces here (the
# statement ran on the server meanwhile), so it is turned into peewee's, as execute_sql does.

def fetch_rows(cursor) -> list[tuple]:
    with peewee.__exception_wrapper__:
        return cursor.fetchall()


def fetch_one(cursor) -> tuple | None:
    with peewee.__exception_wrapper__:
        return cursor.fetchone()


def fetch_scalar(cursor):
    row = fetch_one(cursor)
    return row[0] if row else None


def inserted_id(cursor) -> int:
    """The id of a row inserted by a statement sent with `.returning(Model.id)` (lastrowid without RETURNING)."""
    if is_sqlite() and not SQLITE_RETURNING:
        return cursor.lastrowid
    return fetch_one(cursor)[0]   # (a batch's cursor has no description until it is read)


def prepared(nargs: int) -> Callable[[Callable[..., Any]], Prepared]:
    """Decorator: `@prepared(2)` over a function of two Args that returns a peewee query."""
    def wrap(build: Callable[..., Any]) -> Prepared:
        return Prepared(build, nargs)
    return wrap


__all__ = ["Arg", "Prepared", "Ready", "fetch_one", "fetch_rows", "fetch_scalar", "inserted_id", "prepared"]
