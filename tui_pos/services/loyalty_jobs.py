"""Loyalty's jobs over every customer (issue 23 item 4): points about to expire, points to expire.

Both used to ask the ledger once per customer with points (a million customers: a million queries, in every
register, every few minutes). Here one query streams the ledger of the customers who can be concerned,
ordered by customer, and the lots are computed as it passes (`domain.loyalty.open_lots`, the same rule the
customer panel uses): a customer's ledger is never read twice and never held beside another's.

Who can be concerned is decided in SQL first: a lot expires `expire_months` after its credit, so points
expiring in (today, today + days] were credited in (today - months, today + days - months]; customers with
no credit in that window have nothing expiring then, whatever their balance.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Iterator

from tui_pos.domain import loyalty as rules
from tui_pos.models import Customer, LoyaltyMovement, db
from tui_pos.services import loyalty


def _window_start(day: _dt.date, months: int) -> _dt.datetime:
    """The first moment whose credits expire after `day` (credits on `day - months` expire on `day`)."""
    return _dt.datetime.combine(rules.add_months(day, -months) + _dt.timedelta(days=1), _dt.time())


def _ledgers(customers: object, since: _dt.datetime | None, until: _dt.datetime | None,
             chunk: int = 2000) -> Iterator[tuple[int, list[rules.LedgerEntry]]]:
    """(customer id, their whole ledger in order) for the customers of `customers` (a query of ids) that have a
    credit in [since, until): one streamed query (ordered by customer, then movement) per `chunk` customers."""
    credited = LoyaltyMovement.select(LoyaltyMovement.customer).where(LoyaltyMovement.points > 0)
    if since is not None:
        credited = credited.where(LoyaltyMovement.at >= since)
    if until is not None:
        credited = credited.where(LoyaltyMovement.at < until)
    ids = sorted({cid for (cid,) in credited.where(LoyaltyMovement.customer.in_(customers)).tuples()})
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        rows = (LoyaltyMovement.select(LoyaltyMovement.customer, LoyaltyMovement.at, LoyaltyMovement.points)
                .where(LoyaltyMovement.customer.in_(part))
                .order_by(LoyaltyMovement.customer, LoyaltyMovement.id).tuples().iterator())
        for cid, moves in itertools.groupby(rows, key=lambda r: r[0]):
            yield cid, [rules.LedgerEntry(_day(at), points) for _, at, points in moves]


def _day(at: _dt.datetime | str) -> _dt.date:
    """A movement's day (SQLite may hand back text for a datetime read through `.tuples()`)."""
    return at.date() if isinstance(at, _dt.datetime) else _dt.datetime.fromisoformat(str(at)).date()


def expiring(days: int, today: _dt.date, customers: object) -> Iterator[tuple[int, int, _dt.date]]:
    """(customer id, points, first day) for each customer of `customers` (a query of ids) with points expiring
    after today and within `days`."""
    prog = loyalty.program()
    if prog is None or not prog.expire_months:
        return
    months = prog.expire_months
    slack = _dt.timedelta(days=3)    # month ends (Mar 31 - 1 month): open_lots decides exactly, this only narrows
    since = _window_start(today, months) - slack
    until = _window_start(today + _dt.timedelta(days=days), months) + slack
    for cid, entries in _ledgers(customers, since, until):
        points, first = rules.expiring_within(rules.open_lots(entries, months), today, days)
        if points > 0 and first is not None:
            yield cid, points, first


def expire_all(today: _dt.date | None = None) -> tuple[int, int]:
    """`tui-pos loyalty expire`: an `expire` movement for every customer whose points' time has come; returns
    (customers touched, points expired). One streamed read of the concerned ledgers; a write per customer
    who has points to expire (each through `loyalty.move`, the ledger's one door)."""
    prog = loyalty.program()
    if prog is None or not prog.expire_months:
        return 0, 0
    today = today or _dt.date.today()
    holders = Customer.select(Customer.id).where(Customer.points_balance > 0)
    due: list[tuple[int, int]] = []
    until = _window_start(today, prog.expire_months) + _dt.timedelta(days=3)   # open_lots decides exactly
    for cid, entries in _ledgers(holders, None, until):
        points = rules.expired_points(rules.open_lots(entries, prog.expire_months), today)
        if points > 0:
            due.append((cid, points))
    touched = total = 0
    for cid, _ in due:
        with db.atomic():       # read again under the write: the ledger may have moved since the scan
            n = loyalty.expire_points(cid, today)
        if n:
            touched += 1
            total += n
    return touched, total


__all__ = ["expire_all", "expiring"]
