"""The one database binding: a DatabaseProxy initialised at start from a URL."""

from __future__ import annotations

import sqlite3
from typing import Any

from peewee import Database, DatabaseProxy, Field, Model, SqliteDatabase
from playhouse.db_url import connect as url_connect

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",   # a sale is on disk the moment the cashier sees it
    "foreign_keys": 1,
    "busy_timeout": 5000,    # ms: another register or `tui-pos backup` holds the lock
}


def sqlite_path(url: str) -> str | None:
    """The file a sqlite:///PATH URL names (None for any other database)."""
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else None


def where(url: str) -> str:
    """The database as a person names it in a message: the SQLite file's path, else the URL, password masked."""
    return sqlite_path(url) or safe_url(url)


def open_database(url: str) -> Database:
    """Make a peewee Database for `url` (sqlite:///PATH or postgresql://...).

    Connecting creates a SQLite file that is not there (tests, `tui-pos init`); the commands look first
    (bootstrap.open_database), so only `tui-pos init` makes one."""
    path = sqlite_path(url)
    if path is not None:
        # Transactions begin IMMEDIATE: a writer takes the lock first and waits
        # (busy timeout) for another register, instead of failing with
        # SQLITE_BUSY_SNAPSHOT when it reads and then writes. Connections are
        # per thread in peewee, so check_same_thread is off.
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=5, lock_type="IMMEDIATE",
                              check_same_thread=False)
    return url_connect(url)


def bind(url: str) -> Database:
    """Bind the proxy to the database at `url` and return it."""
    database = open_database(url)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


# UPDATE ... RETURNING: PostgreSQL, and SQLite from 3.35 (Debian 11 still ships 3.34)
SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)


def update_returning(model: type[Model], values: dict[Any, Any], where: Any, field: Field) -> Any:
    """UPDATE the one row of `model` matching `where` with `values`; `field` of it after the update
    (None: no row matched).

    One statement where the database has RETURNING; else the UPDATE and a
    SELECT of the same row in the caller's transaction.
    """
    query = model.update(values).where(where)
    if SQLITE_RETURNING or not is_sqlite():
        for (value,) in query.returning(field).tuples().execute():
            return value
        return None
    if query.execute() != 1:
        return None
    return model.select(field).where(where).scalar()


class worker_connection:  # noqa: N801 - used as a function is, `with worker_connection():`
    """For code run in a worker thread: connect if this thread has no connection, close only what it opened.

    peewee keeps one connection per thread; `connection_context()` would also
    close a connection the calling thread already had (the UI thread's, in tests).
    """

    def __enter__(self) -> None:
        self.opened = db.is_closed()
        if self.opened:
            db.connect()

    def __exit__(self, *exc) -> None:
        if self.opened and not db.is_closed():
            db.close()


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return url


def is_connection_error(exc: BaseException) -> bool:
    """A lost or refused database connection (as opposed to a bug or a constraint).

    The exception or one it was raised from: a connection killed in the middle of a batch (a psycopg
    pipeline) surfaces as "cannot exit pipeline mode while busy", raised while handling the server's
    "terminating connection"; the connection is unusable either way.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _lost_connection(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _lost_connection(exc: BaseException) -> bool:
    from peewee import InterfaceError, OperationalError
    if isinstance(exc, InterfaceError):
        return True
    driver = type(exc).__module__.startswith("psycopg") and type(exc).__name__ in (
        "OperationalError", "AdminShutdown", "CrashShutdown", "CannotConnectNow")
    if not isinstance(exc, OperationalError) and not driver:
        return False
    text = str(exc).lower()
    return not isinstance(db.obj, SqliteDatabase) and any(w in text for w in (
        "connection", "server closed", "terminating", "could not receive", "could not send", "eof detected",
        "consuming input failed", "the connection is lost", "no connection", "timeout", "ssl",
        "pipeline mode while busy"))


def explain(exc: BaseException, url: str) -> str:
    """One line for a database that cannot be opened: what is wrong and what to do."""
    where = safe_url(url)
    text = " ".join(str(exc).split())  # drivers write several lines
    low = text.lower()
    if (isinstance(exc, ValueError) or "could not be cast" in low or "invalid dsn" in low
            or "invalid connection option" in low):
        return (f"[database] url = {where!r} does not parse ({text}); expected sqlite:///PATH "
                "or postgresql://user@host:5432/dbname")
    if "does not exist" in low and "database" in low:
        return f"{where}: the database does not exist; create it (createdb), then run `tui-pos init`"
    if ("password authentication failed" in low or "no pg_hba.conf entry" in low
            or "role" in low and "does not exist" in low):
        return f"{where}: the server refused the user or password ({text}); check [database] url"
    if "refused" in low or "could not connect" in low or "connection failed" in low or "timeout" in low \
            or "name or service not known" in low or "could not translate host name" in low:
        return (f"{where}: the database server cannot be reached ({text}); check that it runs and "
                "that [database] url names the right host and port")
    if "unable to open database file" in low:
        return f"{where}: cannot open the SQLite file (check the folder exists and is writable)"
    return f"{where}: {text}"


def reset_connection() -> None:
    """Drop this thread's connection after it broke; the next query opens a fresh one."""
    try:
        db.close()
    except Exception:  # noqa: BLE001 - closing a dead connection may fail: forget it instead
        db.obj.dispose() if db.obj is not None else None
