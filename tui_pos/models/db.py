"""The one database binding: a DatabaseProxy initialised at start from a URL."""

from __future__ import annotations

import contextlib
import sqlite3

import peewee
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as url_connect
from playhouse.db_url import register_database

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",   # a sale is on disk the moment the cashier sees it
    "foreign_keys": 1,
    "busy_timeout": 5000,    # ms: another register or `tui-pos backup` holds the lock
}


class PostgresDatabase(PostgresqlDatabase):
    """PostgreSQL where a transaction's BEGIN travels with its first statement.

    peewee sends BEGIN as a statement of its own: one more network round trip
    (and two more context switches on a busy register) per transaction. Here
    `begin()` only notes it; the first statement then goes with it in one
    psycopg pipeline, and a transaction that ran nothing sends neither BEGIN
    nor COMMIT. Isolation levels other than the default, and drivers without
    pipelines, keep peewee's way.
    """

    def begin(self, isolation_level=None):
        self._state.wrote = False
        self._state.schema_kept = True
        if isolation_level or self._isolation_level or not self._pipelines():
            return super().begin(isolation_level)
        # connect now, as peewee's BEGIN would: connecting resets the transaction stack, which must
        # happen before this transaction is pushed on it
        self.connection()
        mode = getattr(self._state, "batch", False)
        if mode == "implicit":
            return                   # the pipeline's own transaction: it ends at the Sync
        if mode:
            return super().begin()   # in a batch's pipeline: queued, nothing waits for it
        self._state.pending_begin = True

    def _execute_cursor(self, sql, params, **cursor_options):
        if not getattr(self._state, "wrote", True) and not _reads_only(sql):
            self._state.wrote = True
        if getattr(self._state, "schema_kept", False) and not _keeps_schema(sql):
            self._state.schema_kept = False
        if sql.startswith("ROLLBACK TO SAVEPOINT") and getattr(self._state, "schema_kept", False):
            with self._keeping_prepared():   # a savepoint's rows undone: the statements still stand
                return super()._execute_cursor(sql, params, **cursor_options)
        if not getattr(self._state, "pending_begin", False):
            return super()._execute_cursor(sql, params, **cursor_options)
        self._state.pending_begin = False
        self._log_query(sql, params)
        conn = self.connection()
        with peewee.__exception_wrapper__:
            cursor = self.cursor(**cursor_options)
            with conn.pipeline() as pipeline:
                send_together(pipeline)
                conn.execute("BEGIN")
                cursor.execute(sql, params or ())
        return cursor

    def commit(self):
        if getattr(self._state, "batch", False) == "implicit":
            return   # the Sync that ends the batch commits
        if getattr(self._state, "pending_begin", False):
            self._state.pending_begin = False   # nothing ran: nothing to commit
            return
        return super().commit()

    def rollback(self):
        """Undo the transaction; one that only read ends with COMMIT (or, in an implicit batch, its Sync).

        psycopg forgets every prepared statement when it sees a ROLLBACK (in
        case the transaction had created what they refer to), so after one
        the register's next five runs of each of its ~30 hot statements are
        parsed and planned afresh. A cashier's mistake (an unknown code, more
        points than the balance) is refused after the reads and before any
        write: ending such a transaction with COMMIT undoes nothing that a
        ROLLBACK would, and keeps the statements prepared. A transaction that
        changed rows (a redemption refused because another register spent
        the points first) rolls back, past psycopg's cache when it touched
        no schema (`_keeping_prepared`).
        """
        wrote = getattr(self._state, "wrote", True)
        if getattr(self._state, "batch", False) == "implicit":
            if not wrote:
                return   # the Sync ends a transaction that only read
            # an explicit ROLLBACK ends the pipeline's implicit transaction (the protocol's
            # "Pipelining" section): what was sent before it is undone, the Sync commits nothing
            with self._keeping_prepared(), peewee.__exception_wrapper__:
                self.cursor().execute("ROLLBACK")
            return
        if getattr(self._state, "pending_begin", False):
            self._state.pending_begin = False
            return
        if not wrote:
            return super().commit()
        with self._keeping_prepared():
            return super().rollback()

    @contextlib.contextmanager
    def _keeping_prepared(self):
        """Run a ROLLBACK without psycopg forgetting its prepared statements, when the transaction only
        read and changed rows (no CREATE, ALTER, DROP, SET...): what they refer to is all still there.

        psycopg drops them on a ROLLBACK it sees go by; it does not look at a statement while
        `prepare_threshold` is None (the connection's documented switch), so the ROLLBACK is sent that way.
        """
        conn = self._state.conn
        if conn is None or not getattr(self._state, "schema_kept", False) \
                or not hasattr(conn, "prepare_threshold"):   # psycopg 3 only
            yield
            return
        threshold = conn.prepare_threshold
        conn.prepare_threshold = None
        try:
            yield
        finally:
            conn.prepare_threshold = threshold

    def close(self):
        self._state.pending_begin = False
        self._state.wrote = True
        self._state.schema_kept = False
        self._state.batch = False
        return super().close()

    def rows_affected(self, cursor):
        mode = getattr(self._state, "batch", False)
        if mode == "implicit":
            # a Sync here would commit half the batch
            raise RuntimeError("a row count was asked for in an implicit batch; use batch() for this step")
        if mode:
            # in a batch's pipeline the count is known once the server has answered: wait for it
            with peewee.__exception_wrapper__:
                self._state.batch_pipe.sync()
        return super().rows_affected(cursor)

    def _pipelines(self) -> bool:
        """psycopg 3 with a libpq that pipelines (14 and later); psycopg2 has none."""
        if not isinstance(self._adapter, peewee.Psycopg3Adapter):
            return False
        import psycopg
        return bool(psycopg.Pipeline.is_supported())



def _reads_only(sql: str) -> bool:
    """A statement that changes nothing a ROLLBACK would undo: peewee's SELECTs (and their UNIONs)."""
    return sql.lstrip("( ").startswith("SELECT")


_ROWS_ONLY = ("SELECT", "INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE", "ROLLBACK TO SAVEPOINT")


def _keeps_schema(sql: str) -> bool:
    """A statement that reads or changes rows only (no table, index or setting made or changed)."""
    return sql.lstrip("( ").startswith(_ROWS_ONLY)


register_database(PostgresDatabase, "postgres", "postgresql")


class batch:
    """One transaction whose statements are sent without waiting for each other's results.

    On PostgreSQL the transaction runs in a psycopg pipeline: BEGIN, each
    statement and COMMIT go to the server as they are made, and the register
    waits only where the code reads a result (the first read waits for every
    statement sent before it) and once at the end for the COMMIT. A sale step
    that sends its reads together, then its writes and the reads that follow
    them, costs two round trips instead of one per statement.

    Code inside reads results where it always did; what changes is when an
    error is raised: a statement that fails raises at the next read or at the
    end of the block (never later than the COMMIT it would have stopped), the
    statements after it are not run, and the transaction is rolled back. So
    code that must catch a statement's error right where it runs does not
    belong in a batch. Nested in another transaction, on SQLite, or with a
    driver without pipelines, a batch is `db.atomic()`.

    `implicit=True` leaves BEGIN and COMMIT out: the statements between a
    pipeline's start and its Sync are one transaction of their own (the
    PostgreSQL protocol's "Pipelining" section: committed at the Sync, rolled
    back if one fails), and an exception in the block sends ROLLBACK before
    the Sync. Two statements fewer for the server to parse and the register to
    send, for the steps that run the most. Such a batch cannot hold a
    savepoint (a nested `db.atomic()`) or ask for a row count.
    """

    def __init__(self, *, implicit: bool = False) -> None:
        self.implicit = implicit

    def __enter__(self) -> "batch":
        database = self.database = db.obj
        self.pipe = None
        self.piped = False
        if isinstance(database, PostgresDatabase) and not database.in_transaction() and database._pipelines():
            conn = database.connection()
            with peewee.__exception_wrapper__:
                self.pipe = conn.pipeline()
                database._state.batch_pipe = pipeline = self.pipe.__enter__()   # the psycopg Pipeline
            send_together(pipeline)
            self.piped = True
            database._state.batch = "implicit" if self.implicit else "explicit"
        self.txn = database.atomic()
        try:
            self.txn.__enter__()
        except BaseException as exc:
            self._end(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.txn.__exit__(exc_type, exc, tb)   # queues COMMIT (or ROLLBACK) in the pipeline
        except BaseException as failed:
            self._end(type(failed), failed, failed.__traceback__)
            raise
        self._end(exc_type, exc, tb)
        if self.piped and exc is not None and type(exc).__module__.startswith("psycopg"):
            # a statement's error, met where peewee read a result (its execute_sql wraps only the
            # send): raised as peewee's, as it would have been outside a batch
            with peewee.__exception_wrapper__:
                raise exc

    def _end(self, exc_type, exc, tb) -> None:
        """Sync the pipeline: wait for the COMMIT and raise the first statement error (as peewee's)."""
        if self.pipe is None:
            return
        database, pipe, self.pipe = self.database, self.pipe, None
        database._state.batch = False
        database._state.batch_pipe = None
        conn = database._state.conn
        try:
            with peewee.__exception_wrapper__:
                pipe.__exit__(exc_type, exc, tb)
        finally:
            # a statement failed: the server skipped the rest, COMMIT included, and holds the
            # transaction open in error until it is rolled back
            if conn is not None and not conn.closed and conn.info.transaction_status != _IDLE():
                with peewee.__exception_wrapper__:
                    conn.execute("ROLLBACK")


def send_together(pipeline) -> None:
    """Make a psycopg pipeline send its statements to the server together, when a result is read.

    psycopg writes each statement of a pipeline to the socket as it is
    executed (one poll and one sendto each), so the server's backend wakes
    for every statement, and on a busy register the register is preempted
    by it each time: measured with eight registers on two cores, 27
    involuntary context switches of the register and 38 wakeups of its
    backend a sale. Held here, the statements wait in libpq's output buffer
    (libpq itself flushes a pipeline only past 64 kB) and go in one write
    when the code reads a result or the pipeline ends (psycopg's flush
    request, or its Sync): a round trip costs one write and one wakeup.

    Reads and errors are where they were: every read (and the end of the
    pipeline) flushes what was held before waiting, and a statement's error
    is raised at the read or the end, as the server reports it there in
    either case. This reaches into psycopg's pipeline (its command queue and
    generators, the same in 3.2 and 3.3, which pyproject.toml admits); a
    psycopg without them keeps its own way.
    """
    if not all(hasattr(pipeline, name) for name in
               ("command_queue", "pgconn", "_communicate_gen", "_exit_gen", "_enqueue_sync", "_fetch_gen")):
        return
    import types

    from psycopg import generators

    pgconn = pipeline.pgconn
    sync = pgconn.pipeline_sync

    def hand_over(self) -> bool:
        """Give the queued commands to libpq without flushing; True if one was a Sync."""
        synced = False
        commands = self.command_queue
        while commands:
            command = commands.popleft()
            command()
            synced = synced or command == sync
        return synced

    def communicate(self):
        # psycopg's own runs after each execute: it flushes and reads what has arrived
        if hand_over(self):
            yield from generators.send(pgconn)   # a Sync (psycopg's sync(), a commit): its results are read next

    def exit_(self):
        # psycopg's queues the Sync, runs it (libpq flushes a Sync at once), then sends a flush
        # request and reads: two writes. After a Sync the server flushes anyway, so here one
        try:
            self._enqueue_sync()
            hand_over(self)
            yield from generators.send(pgconn)
        finally:
            yield from self._fetch_gen(flush=False)

    pipeline._communicate_gen = types.MethodType(communicate, pipeline)
    pipeline._exit_gen = types.MethodType(exit_, pipeline)


def _IDLE():  # noqa: N802 - a constant, looked up when psycopg is there
    from psycopg.pq import TransactionStatus
    return TransactionStatus.IDLE


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


def update_returning(query, field):
    """Run an UPDATE of at most one row and return `field` of it after the update (None: no row matched).

    One statement where the database has RETURNING; else the UPDATE and a
    SELECT of the same row in the caller's transaction.
    """
    if SQLITE_RETURNING or not is_sqlite():
        row = query.returning(field).tuples().execute()
        for (value,) in row:
            return value
        return None
    if query.execute() != 1:
        return None
    model = query.model
    return model.select(field).where(query._where).scalar()


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
    if isinstance(exc, ValueError) or "could not be cast" in low or "invalid dsn" in low or "invalid connection option" in low:
        return (f"[database] url = {where!r} does not parse ({text}); expected sqlite:///PATH "
                "or postgresql://user@host:5432/dbname")
    if "does not exist" in low and "database" in low:
        return f"{where}: the database does not exist; create it (createdb), then run `tui-pos init`"
    if "password authentication failed" in low or "no pg_hba.conf entry" in low or "role" in low and "does not exist" in low:
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
