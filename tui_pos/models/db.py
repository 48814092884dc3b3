"""The one database binding: a DatabaseProxy initialised at start from a URL."""

from __future__ import annotations

from pathlib import Path

from peewee import Database, DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect as url_connect

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",   # a sale is on disk the moment the cashier sees it
    "foreign_keys": 1,
    "busy_timeout": 5000,    # ms: another register or `tui-pos backup` holds the lock
}


def open_database(url: str) -> Database:
    """Make a peewee Database for `url` (sqlite:///PATH or postgresql://...)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
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


class worker_connection:
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
