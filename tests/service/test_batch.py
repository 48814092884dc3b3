"""models.db.batch: one transaction sent as a pipeline (PostgreSQL), plain atomic() on SQLite.

The register's hot steps run in batches, so what a batch promises is what a
sale's safety rests on: all of it or none of it, errors raised (as peewee's)
before the block is left, reads seeing exactly what was sent before them.
"""

from __future__ import annotations

import peewee
import pytest

from tui_pos.models import Customer, db
from tui_pos.models.db import batch, is_sqlite
from tui_pos.models.prepared import fetch_one, fetch_scalar, prepared

MODES = [pytest.param(False, id="explicit"), pytest.param(True, id="implicit")]


@prepared(2)
def _q_set_points(customer, points):
    return Customer.update(points_balance=points).where(Customer.id == customer)


@prepared(1)
def _q_points(customer):
    return Customer.select(Customer.points_balance).where(Customer.id == customer)


@pytest.fixture
def customer(database):
    return Customer.create(code="C-1", name="Ana", points_balance=10).id


def _points(cid: int) -> int:
    return Customer.get_by_id(cid).points_balance


@pytest.mark.parametrize("implicit", MODES)
def test_a_batch_commits_everything_and_reads_see_what_was_sent_before_them(customer, implicit):
    with batch(implicit=implicit):
        before = _q_points.send(customer)
        _q_set_points.send(customer, 25)
        after = _q_points.send(customer)
        Customer.create(code="C-2", name="Luis")
    assert fetch_scalar(before) == 10     # read after the batch: what the statement saw when it ran
    assert fetch_scalar(after) == 25
    assert _points(customer) == 25 and Customer.select().count() == 2
    if not is_sqlite():
        assert db.obj.connection().info.transaction_status == 0   # idle: nothing left open


@pytest.mark.parametrize("implicit", MODES)
def test_an_exception_in_the_block_after_writes_undoes_them(customer, implicit):
    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        with batch(implicit=implicit):
            _q_set_points.send(customer, 99)
            Customer.create(code="C-2", name="Luis")
            assert fetch_scalar(_q_points.send(customer)) == 99   # a read in the middle waits, then goes on
            raise Refused()
    assert _points(customer) == 10 and Customer.select().count() == 1
    Customer.create(code="C-3", name="Rosa")           # the connection is usable at once
    assert Customer.select().count() == 2


@pytest.mark.parametrize("implicit", MODES)
def test_a_failing_statement_raises_peewees_error_and_nothing_is_kept(customer, implicit):
    with pytest.raises(peewee.IntegrityError):
        with batch(implicit=implicit):
            _q_set_points.send(customer, 50)
            Customer.insert(code="C-1", name="same code").execute()   # unique code: fails on the server
            _q_set_points.send(customer, 60)                          # skipped by the server
    assert _points(customer) == 10 and Customer.select().count() == 1
    assert Customer.create(code="C-2", name="Luis").id


def test_a_row_count_in_an_explicit_batch_is_the_real_one(customer):
    with batch():
        changed = Customer.update(points_balance=Customer.points_balance + 1).where(Customer.id == customer).execute()
        none = Customer.update(points_balance=0).where(Customer.id == -1).execute()
    assert (changed, none) == (1, 0)
    assert _points(customer) == 11


@pytest.mark.postgres
def test_an_implicit_batch_refuses_a_row_count_and_keeps_nothing(pg_schema_url):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    migrate(bind(pg_schema_url))
    cid = Customer.create(code="C-1", name="Ana", points_balance=10).id
    with pytest.raises(RuntimeError, match="row count"):
        with batch(implicit=True):
            _q_set_points.send(cid, 70)
            Customer.update(points_balance=80).where(Customer.id == cid).execute()
    assert _points(cid) == 10
    db.close()


def test_a_batch_inside_a_transaction_is_part_of_it(customer):
    with pytest.raises(ZeroDivisionError):
        with db.atomic():
            with batch():
                _q_set_points.send(customer, 40)
            assert fetch_one(_q_points.send(customer)) == (40,)
            1 / 0
    assert _points(customer) == 10


def _prepared_on_server() -> int:
    db.obj.execute_sql("SELECT 1")   # psycopg sends a pending DEALLOCATE after the next statement
    db.obj.execute_sql("SELECT 2")
    return db.obj.execute_sql("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]


@pytest.fixture
def pg_customer(pg_schema_url):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(pg_schema_url)
    migrate(database)
    yield Customer.create(code="C-1", name="Ana", points_balance=10).id
    database.close()


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["implicit", "explicit", "atomic"])
def test_a_refusal_keeps_the_prepared_statements(pg_customer, how):
    """psycopg drops every prepared statement (DEALLOCATE ALL) when it sees a ROLLBACK. A step refused
    after its reads and before any write ends with COMMIT instead (or the implicit batch's Sync), and one
    that changed rows rolls back past psycopg's cache, so a cashier's mistake or a redemption lost to
    another register does not make the register parse and plan its next ~150 statements afresh."""
    customer = pg_customer

    class Refused(Exception):
        pass

    def block():
        return db.atomic() if how == "atomic" else batch(implicit=how == "implicit")

    for points in range(6):                 # psycopg prepares a statement at its fifth run
        with block():
            _q_set_points.send(customer, points)
            fetch_scalar(_q_points.send(customer))
    prepared_before = _prepared_on_server()
    assert prepared_before >= 2
    with pytest.raises(Refused):
        with block():
            assert fetch_scalar(_q_points.send(customer)) == 5
            raise Refused()
    assert db.obj.connection().info.transaction_status == 0   # idle: the transaction ended
    assert _prepared_on_server() == prepared_before
    # after a write, a refusal still undoes it, and the statements stay prepared (rows changed, no schema)
    with pytest.raises(Refused):
        with block():
            _q_set_points.send(customer, 77)
            raise Refused()
    assert _points(customer) == 5
    assert _prepared_on_server() == prepared_before
    # a savepoint rolled back inside a transaction keeps them too
    with block() if how != "implicit" else db.atomic():
        with pytest.raises(Refused):
            with db.atomic():
                _q_set_points.send(customer, 78)
                raise Refused()
        _q_set_points.send(customer, 6)
    assert _points(customer) == 6
    assert _prepared_on_server() == prepared_before


@pytest.mark.postgres
def test_a_rolled_back_schema_change_still_makes_psycopg_forget_its_statements(pg_customer):
    """What a rolled-back CREATE made is gone: statements prepared on it must not be kept."""
    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        with db.atomic():
            db.obj.execute_sql("CREATE TABLE scratch (n INTEGER)")
            for n in range(6):
                db.obj.execute_sql("INSERT INTO scratch (n) VALUES (%s)", (n,))
            assert db.obj.execute_sql("SELECT count(*) FROM pg_prepared_statements "
                                      "WHERE statement LIKE 'INSERT INTO scratch%%'").fetchone()[0] == 1
            raise Refused()
    assert db.obj.execute_sql("SELECT count(*) FROM pg_prepared_statements "
                              "WHERE statement LIKE 'INSERT INTO scratch%%'").fetchone()[0] == 0
    db.obj.execute_sql("CREATE TABLE scratch (n INTEGER, m INTEGER)")   # made again: the statement works
    for n in range(6):
        db.obj.execute_sql("INSERT INTO scratch (n) VALUES (%s)", (n,))
    assert db.obj.execute_sql("SELECT count(*) FROM scratch").fetchone()[0] == 6


def _data_segments_sent(fd: int) -> int:
    """TCP data segments the socket `fd` has sent (Linux's tcp_info.tcpi_data_segs_out, at byte 156)."""
    import os
    import socket
    import struct
    sock = socket.socket(fileno=os.dup(fd))
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    finally:
        sock.close()
    return struct.unpack_from("I", info, 156)[0]


@pytest.mark.postgres
@pytest.mark.parametrize("implicit", MODES)
def test_a_batch_writes_to_the_server_once_per_read(pg_customer, implicit):
    """psycopg writes each statement of a pipeline on its own (and the server's backend wakes for each);
    a batch's statements wait until a result is read or the batch ends, and then go in one write.
    Counted in the TCP segments the register's socket sent: psycopg's own way sent 12-14 here."""
    conn = db.obj.connection()
    if conn.info.host.startswith("/"):
        pytest.skip("the test database is on a Unix socket: no TCP segments to count")
    _q_points.rows(pg_customer)   # prepared statements and the connection's setup out of the way
    before = _data_segments_sent(conn.pgconn.socket)
    with batch(implicit=implicit):
        sent = [_q_points.send(pg_customer) for _ in range(5)]
        _q_set_points.send(pg_customer, 7)
        assert fetch_scalar(sent[0]) == 10   # one write: (BEGIN,) six statements and a flush request
        after = _q_points.send(pg_customer)
        _q_set_points.send(pg_customer, 8)
    # the second: two statements, (COMMIT and) the Sync
    assert _data_segments_sent(conn.pgconn.socket) - before == 2
    assert [fetch_scalar(c) for c in sent[1:]] == [10, 10, 10, 10] and fetch_scalar(after) == 7
    assert _points(pg_customer) == 8
