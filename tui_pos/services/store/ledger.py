"""The loyalty ledger store: a customer's balance moved in one conditional UPDATE, the movements appended,
the monthly totals kept, and the program's version."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from peewee import EXCLUDED

from tui_pos.models import Customer, LoyaltyMonth, LoyaltyMovement, LoyaltyProgram, utcnow
from tui_pos.models.db import SQLITE_RETURNING, is_sqlite
from tui_pos.models.prepared import Prepared, prepared

_BALANCE_UPDATES: dict[tuple[bool, bool], Prepared] = {}


def _balance_update(guarded: bool, visit: bool) -> Prepared:
    """UPDATE customer ... RETURNING points_balance, visits: the one statement that moves a balance.

    Arguments: (customer, delta, earned, redeemed, need, at): the balance moves by `delta`, the
    lifetime totals by `earned` and `redeemed`; `guarded`: only if the balance covers `need` first
    (so two registers cannot spend the same points); `visit`: the visit is counted at `at`.
    """
    key = (guarded, visit)
    if key not in _BALANCE_UPDATES:
        def build(customer: Any, delta: Any, earned: Any, redeemed: Any, need: Any, at: Any) -> Any:
            changes = {Customer.points_balance: Customer.points_balance + delta,
                       Customer.points_earned: Customer.points_earned + earned,
                       Customer.points_redeemed: Customer.points_redeemed + redeemed}
            if visit:
                changes.update({Customer.visits: Customer.visits + 1, Customer.last_visit_at: at})
            query = Customer.update(changes).where(Customer.id == customer)
            if guarded:
                query = query.where(Customer.points_balance - need >= 0)
            return query.returning(Customer.points_balance, Customer.visits)
        _BALANCE_UPDATES[key] = Prepared(build, 6)
    return _BALANCE_UPDATES[key]


@dataclass(frozen=True)
class BalanceAfter:
    """A customer's points balance and visits after their balance moved."""

    points: int
    visits: int | None


def update_balance(customer_id: int, delta: int, *, earned: int = 0, redeemed: int = 0, need: int = 0,
                    visit_at: _dt.datetime | None = None) -> BalanceAfter | None:
    """`_balance_update` run: the balance and visits after it, or None when the balance did not cover
    `need` (or the customer is gone). SQLite before 3.35 has no RETURNING: the UPDATE, then the row, in
    the caller's transaction."""
    if SQLITE_RETURNING or not is_sqlite():
        row = _balance_update(need > 0, visit_at is not None).one(customer_id, delta, earned, redeemed, need,
                                                                  visit_at or utcnow())
    else:
        changes = {Customer.points_balance: Customer.points_balance + delta,
                   Customer.points_earned: Customer.points_earned + earned,
                   Customer.points_redeemed: Customer.points_redeemed + redeemed}
        if visit_at is not None:
            changes.update({Customer.visits: Customer.visits + 1, Customer.last_visit_at: visit_at})
        query = Customer.update(changes).where(Customer.id == customer_id)
        if need > 0:
            query = query.where(Customer.points_balance - need >= 0)
        row = None
        if query.execute() == 1:
            row = Customer.select(Customer.points_balance, Customer.visits).where(
                Customer.id == customer_id).tuples().first()
    if row is None or row[0] is None:
        return None
    points, visits = row
    return BalanceAfter(int(points), visits)


_MOVEMENT_FIELDS = ("at", "customer", "kind", "points", "balance_before", "balance_after", "counts_as_earned",
                    "receipt_no", "product_sku", "register", "user", "reason", "key")


@prepared(len(_MOVEMENT_FIELDS))
def _q_insert_movement(*args: Any) -> Any:
    return LoyaltyMovement.insert({getattr(LoyaltyMovement, n): a
                                   for n, a in zip(_MOVEMENT_FIELDS, args)}).as_rowcount()


@prepared(4)
def _q_month(month: Any, kind: Any, points: Any, shard: Any) -> Any:
    return (LoyaltyMonth.insert(month=month, kind=kind, points=points, movements=1, shard=shard)
            .on_conflict(conflict_target=[LoyaltyMonth.month, LoyaltyMonth.kind, LoyaltyMonth.shard],
                         update={LoyaltyMonth.points: LoyaltyMonth.points + points,
                                 LoyaltyMonth.movements: LoyaltyMonth.movements + 1}))


_MOVEMENT_ROWS: dict[int, Prepared] = {}
_MONTH_ROWS: dict[int, Prepared] = {}


def _movement_rows(n: int) -> Prepared:
    """INSERT of n ledger rows in one statement (prepared once per n)."""
    if n not in _MOVEMENT_ROWS:
        width = len(_MOVEMENT_FIELDS)

        def build(*args: Any) -> Any:
            fields = [getattr(LoyaltyMovement, name) for name in _MOVEMENT_FIELDS]
            return LoyaltyMovement.insert_many([args[i * width:(i + 1) * width] for i in range(n)],
                                               fields=fields).as_rowcount()
        _MOVEMENT_ROWS[n] = Prepared(build, n * width)
    return _MOVEMENT_ROWS[n]


def _month_rows(n: int) -> Prepared:
    """The monthly totals of n kinds in one upsert (each kind once: a row cannot be updated twice)."""
    if n not in _MONTH_ROWS:
        def build(*args: Any) -> Any:
            rows = [args[i * 5:(i + 1) * 5] for i in range(n)]
            fields = [LoyaltyMonth.month, LoyaltyMonth.kind, LoyaltyMonth.points, LoyaltyMonth.movements,
                      LoyaltyMonth.shard]
            return (LoyaltyMonth.insert_many(rows, fields=fields)
                    .on_conflict(conflict_target=[LoyaltyMonth.month, LoyaltyMonth.kind, LoyaltyMonth.shard],
                                 update={LoyaltyMonth.points: LoyaltyMonth.points + EXCLUDED.points,
                                         LoyaltyMonth.movements: LoyaltyMonth.movements + EXCLUDED.movements}))
        _MONTH_ROWS[n] = Prepared(build, n * 5)
    return _MONTH_ROWS[n]


@prepared(0)
def _q_program_version() -> Any:
    return LoyaltyProgram.select(LoyaltyProgram.id, LoyaltyProgram.updated_at).order_by(
        LoyaltyProgram.id.desc()).limit(1)


def program_version_columns() -> list[Any]:
    """The program's version as two columns for another statement's SELECT (NULLs: no program);
    its row goes to `take_program_row`. A new note reads it with its own first statement."""
    newest = LoyaltyProgram.select(LoyaltyProgram.id).order_by(LoyaltyProgram.id.desc()).limit(1)
    return [newest, LoyaltyProgram.select(LoyaltyProgram.updated_at).where(LoyaltyProgram.id == newest)]


def append_movement(*values: Any) -> None:
    """One ledger row (`_MOVEMENT_FIELDS`, in order)."""
    _q_insert_movement.execute(*values)


def add_to_month(month: str, kind: str, points: int, shard: str) -> None:
    """One movement into its month's total."""
    _q_month.execute(month, kind, points, shard)


def append_movements(n: int, values: list[Any]) -> None:
    """n ledger rows in one INSERT (`_MOVEMENT_FIELDS` of each, one after the other)."""
    _movement_rows(n).execute(*values)


def add_to_months(n: int, values: list[Any]) -> None:
    """The totals of n kinds of one month: (month, kind, points, movements, shard) each, in one upsert."""
    _month_rows(n).execute(*values)


def program_version() -> tuple[Any, ...] | None:
    """The newest program's (id, updated_at), None when there is none."""
    return _q_program_version.one()
