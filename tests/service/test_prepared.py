"""models.prepared: hot statements compiled once and run in the caller's transaction (db.atomic()).

What a sale's safety rests on: all of a step or none of it, an error raised
where its statement runs, and on PostgreSQL the statements kept prepared by
psycopg's own public switch (`prepare_threshold`).
"""

from __future__ import annotations

import peewee
import pytest

from tui_pos.models import Customer, db
from tui_pos.models.prepared import Prepared, prepared


@prepared(2)
def _q_set_points(customer: object, points: object) -> peewee.ModelUpdate:
    return Customer.update(points_balance=points).where(Customer.id == customer)


@prepared(1)
def _q_points(customer: object) -> peewee.ModelSelect:
    return Customer.select(Customer.points_balance).where(Customer.id == customer)


@pytest.fixture
def customer(database: peewee.Database) -> int:
    return int(Customer.create(code="C-1", name="Ana", points_balance=10).id)


def _points(cid: int) -> int:
    return int(Customer.get_by_id(cid).points_balance)


def test_a_step_commits_everything_and_reads_see_the_writes_before_them(customer: int) -> None:
    with db.atomic():
        before = _q_points.scalar(customer)
        assert _q_set_points.execute(customer, 25) == 1
        after = _q_points.scalar(customer)
    assert (before, after, _points(customer)) == (10, 25, 25)


def test_an_error_is_raised_where_its_statement_runs_and_the_step_is_undone(customer: int) -> None:
    reached = []
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            _q_set_points.execute(customer, 50)
            Customer.insert(code="C-1", name="same code").execute()   # unique code: raised right here
            reached.append(_q_points.scalar(customer))                  # never run
    assert reached == [] and _points(customer) == 10


def test_a_statement_is_compiled_once_per_database(customer: int) -> None:
    built: list[int] = []

    def build(a: object) -> peewee.ModelSelect:
        built.append(1)
        return Customer.select(Customer.name).where(Customer.id == a)

    q = Prepared(build, 1)
    assert [q.scalar(customer) for _ in range(3)] == ["Ana"] * 3
    assert len(built) == 1


@pytest.fixture
def pg_customer(pg_schema_url: str):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(pg_schema_url)
    migrate(database)
    yield Customer.create(code="C-1", name="Ana", points_balance=10).id
    database.close()


@pytest.mark.postgres
def test_psycopg_keeps_the_hot_statements_prepared_on_the_server(pg_customer: int) -> None:
    for points in range(6):                 # psycopg prepares a statement at its fifth run
        with db.atomic():
            _q_set_points.execute(pg_customer, points)
            _q_points.scalar(pg_customer)
    count = db.obj.execute_sql("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    assert count >= 2


def test_a_sqlite_register_rings_a_sale_without_psycopg(tmp_path: object) -> None:
    """psycopg is the `postgres` extra: with it unimportable a SQLite register opens, scans and pays."""
    import subprocess
    import sys
    code = f"""
import sys
sys.modules["psycopg"] = None
sys.modules["psycopg2"] = None
from tui_pos.models.db import bind
from tui_pos.models.migrations import migrate
from tui_pos.services.demo import seed_demo
from tui_pos.services.sales import SaleService
migrate(bind("sqlite:///{tmp_path}/r.db"))
seed_demo(with_loyalty=False)
sales = SaleService("R1")
note = sales.open_note()
sales.add_item(note, "LATT")
assert sales.pay(note).completed
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
