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
on SQLite and PostgreSQL alike, inside the caller's transaction. Each runs
when called and its rows are read at once, so an error is raised where the
statement runs. On PostgreSQL psycopg prepares a statement on the
server after its fifth run (`prepare_threshold`, its public switch).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from peewee import SQL

from tui_pos.models.db import SQLITE_RETURNING, db, is_sqlite

_MARK = re.compile(r"__ARG(\d+)__")


def Arg(i: int) -> SQL:  # noqa: N802 - reads as a value in a query
    """The i-th argument of a prepared statement, where a value goes in a peewee query."""
    return SQL(f"__ARG{i}__")


class Prepared:
    """One statement: `build(*Args)` returns a peewee query; `rows`, `one`, `scalar`, `execute` run it."""

    def __init__(self, build: Callable[..., Any], nargs: int) -> None:
        self.build = build
        self.nargs = nargs
        self._compiled: tuple[object, str, list[tuple[bool, Any]]] | None = None
        self._lock = threading.Lock()

    def _compile(self) -> tuple[object, str, list[tuple[bool, Any]]]:
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
            out: list[str] = []
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

    def cursor(self, *values: Any) -> Any:
        """Run the statement now (in the caller's transaction); the driver's cursor."""
        _, sql, order = self._compile()
        return db.obj.execute_sql(sql, [values[v] if is_arg else v for is_arg, v in order])

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        return list(self.cursor(*values).fetchall())

    def one(self, *values: Any) -> tuple[Any, ...] | None:
        return fetch_one(self.cursor(*values))

    def scalar(self, *values: Any) -> Any:
        row = self.one(*values)
        return row[0] if row else None

    def execute(self, *values: Any) -> int:
        """An UPDATE, DELETE or plain INSERT: the rows it changed."""
        return int(db.obj.rows_affected(self.cursor(*values)))

    def insert(self, *values: Any) -> int:
        """An INSERT built with `.returning(Model.id)` where the database has RETURNING: the new id."""
        cursor = self.cursor(*values)
        if is_sqlite() and not SQLITE_RETURNING:
            return int(cursor.lastrowid)
        row = cursor.fetchone()
        assert row is not None
        return int(row[0])


def fetch_one(cursor: Any) -> tuple[Any, ...] | None:
    """The first row of a cursor, the rest read too (SQLite steps a cursor as it is read: nothing is left
    pending on the connection)."""
    rows = cursor.fetchall() if cursor.description else []
    return tuple(rows[0]) if rows else None


def prepared(nargs: int) -> Callable[[Callable[..., Any]], Prepared]:
    """Decorator: `@prepared(2)` over a function of two Args that returns a peewee query."""
    def wrap(build: Callable[..., Any]) -> Prepared:
        return Prepared(build, nargs)
    return wrap


__all__ = ["Arg", "Prepared", "fetch_one", "prepared"]
