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

from peewee import SQL

from tui_pos.models.db import db

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
        _, sql, order = self._compile()
        return db.obj.execute_sql(sql, [values[v] if is_arg else v for is_arg, v in order])

    def rows(self, *values) -> list[tuple]:
        return self.cursor(*values).fetchall()

    def one(self, *values) -> tuple | None:
        return self.cursor(*values).fetchone()

    def scalar(self, *values):
        row = self.cursor(*values).fetchone()
        return row[0] if row else None

    def execute(self, *values) -> int:
        """An UPDATE or DELETE: the rows it changed."""
        return db.obj.rows_affected(self.cursor(*values))

    def insert(self, *values) -> int:
        """An INSERT built with `.returning(Model.id)` where the database has RETURNING: the new id."""
        cursor = self.cursor(*values)
        if cursor.description:
            return cursor.fetchone()[0]
        return cursor.lastrowid


def prepared(nargs: int) -> Callable[[Callable[..., Any]], Prepared]:
    """Decorator: `@prepared(2)` over a function of two Args that returns a peewee query."""
    def wrap(build: Callable[..., Any]) -> Prepared:
        return Prepared(build, nargs)
    return wrap


__all__ = ["Arg", "Prepared", "prepared"]
