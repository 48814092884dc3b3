"""The one database binding: a DatabaseProxy initialised at start from a URL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from peewee import Database, DatabaseProxy, Field, Model, SqliteDatabase
from playhouse.db_url import connect as url_connect


class RoutedProxy(DatabaseProxy):
    """peewee's DatabaseProxy, whose database a thread may route elsewhere for a while (`routed`).

    The register sells on one database at a time: the server, or its local replica while the server is
    away (docs/offline.md). The threads that talk to the server while the register sells on the replica
    (the probe, the sync, the replica's refresh) route themselves to it; every other thread follows
    `initialize`.
    """

    __slots__ = ("default", "local")

    def __init__(self) -> None:
        object.__setattr__(self, "local", threading.local())
        object.__setattr__(self, "default", None)
        super().__init__()

    @property  # type: ignore[override]
    def obj(self) -> Any:
        return getattr(self.local, "database", None) or self.default

    def __setattr__(self, attr: str, value: Any) -> None:
        # peewee's Proxy checks the name against the class's own __slots__, which here are ours
        object.__setattr__(self, "default" if attr == "obj" else attr, value)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """This thread keeps the database it has now until the block ends, whatever `initialize` does
        meanwhile: a call in flight when the register switches between the server and its replica ends on
        the database it began on (never half on each). Nested blocks keep the outer one's."""
        if getattr(self.local, "database", None) is not None:
            yield
            return
        self.local.database = self.default
        try:
            yield
        finally:
            self.local.database = None

    @contextmanager
    def routed(self, database: Database, *, fresh: bool = False) -> Iterator[Database]:
        """This thread uses `database` until the block ends (its own connection, closed at the end).
        `fresh`: a connection this thread already had to it may have died with the server: a new one."""
        before = getattr(self.local, "database", None)
        self.local.database = database
        if fresh and not database.is_closed():
            try:
                database.close()
            except Exception:  # noqa: BLE001 - a dead connection: forget it
                pass
        opened = database.is_closed()
        try:
            yield database
        finally:
            if opened and not database.is_closed():
                try:
                    database.close()
                except Exception:  # noqa: BLE001 - a connection that broke: forget it
                    pass
            self.local.database = before


db = RoutedProxy()

# A register must notice a server gone within a second (issue 24): a cut network answers nothing, so
# libpq is told to give up on a connect after 2 s and on data the server has not acknowledged after
# 1.5 s (tcp_user_timeout), and to probe an idle connection. The URL's own values win.
PG_TIMEOUTS = {"connect_timeout": 2, "tcp_user_timeout": 1500, "keepalives": 1, "keepalives_idle": 5,
               "keepalives_interval": 1, "keepalives_count": 3}

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
    from urllib.parse import parse_qs, urlsplit
    given = parse_qs(urlsplit(url).query)
    return url_connect(url, **{k: v for k, v in PG_TIMEOUTS.items() if k not in given})


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
        self.pin = db.pinned()      # the database this call began on, to its end (docs/offline.md)
        self.pin.__enter__()
        try:
            self.opened = db.is_closed()
            if self.opened:
                db.connect()
        except BaseException:
            # no __exit__ follows a failed __enter__: the thread must not stay on this database (a pool
            # thread kept pinned to a server that went away would never reach the replica)
            self.pin.__exit__(None, None, None)
            raise

    def __exit__(self, *exc) -> None:
        try:
            if self.opened and not db.is_closed():
                db.close()
        finally:
            self.pin.__exit__(None, None, None)


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
    # a driver's own error is the server's whatever this thread sells on now (the replica, offline: issue 24)
    return (driver or not isinstance(db.obj, SqliteDatabase)) and any(w in text for w in (
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
