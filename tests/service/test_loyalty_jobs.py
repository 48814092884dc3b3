"""Loyalty's jobs over every customer (issue 23 item 4): "the expiring-points and birthday triggers walk
customers with one set-based query, not one query per customer". The streamed pass must say exactly what the
per-customer rule says (domain.loyalty.open_lots through loyalty.expiring_soon / expire_points). Both
databases."""

from __future__ import annotations

import datetime as dt
import logging
import random

import pytest

from tests.service.test_loyalty import PROGRAM
from tui_pos.models import Customer, LoyaltyMovement
from tui_pos.services import customers, loyalty, loyalty_jobs

TODAY = dt.date(2026, 12, 7)


@pytest.fixture
def expiring_program(demo, tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(PROGRAM.replace("per_visit = 0", "per_visit = 0\nexpire_months = 6"))
    return loyalty.import_program(path)


def ledgers(n: int, seed: int = 7) -> list[int]:
    """n customers with random credits and spends over the last 14 months (dates set on the rows)."""
    rnd = random.Random(seed)
    ids = []
    for i in range(n):
        c = customers.create({"name": f"C{i}", "mobile": f"6{100000 + i:07d}"}, region="PA")
        ids.append(c.id)
        for _ in range(rnd.randint(0, 6)):
            balance = Customer.get_by_id(c.id).points_balance
            spend = rnd.random() < 0.3 and balance > 0
            points = -rnd.randint(1, balance) if spend else rnd.randint(1, 400)
            loyalty.move(c.id, points, "adjust", counts_as_earned=points > 0)
            last = LoyaltyMovement.select().order_by(LoyaltyMovement.id.desc()).first()
            day = TODAY - dt.timedelta(days=rnd.randint(0, 420))
            LoyaltyMovement.update(at=dt.datetime.combine(day, dt.time(12))).where(
                LoyaltyMovement.id == last.id).execute()
    return ids


def test_the_streamed_pass_finds_exactly_what_the_per_customer_rule_finds(expiring_program, caplog):
    ids = ledgers(40)
    everyone = Customer.select(Customer.id)
    for days in (7, 30, 90):
        expected = {}
        for cid in ids:
            points, first = loyalty.expiring_soon(cid, days, today=TODAY)
            if points > 0:
                expected[cid] = (points, first)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="peewee"):
            found = {cid: (points, first) for cid, points, first in loyalty_jobs.expiring(days, TODAY, everyone)}
        assert found == expected
        assert 1 <= len(caplog.records) <= 3     # the window's customers, then their ledgers: not 40 queries
    assert any(loyalty.expiring_soon(cid, 90, today=TODAY)[0] for cid in ids)   # the case is not empty


def test_expire_all_expires_what_each_ledger_says_once(expiring_program):
    ids = ledgers(30, seed=11)
    from tui_pos.domain import loyalty as rules
    due = {}
    for cid in ids:
        entries = [rules.LedgerEntry(at.date(), p) for at, p in LoyaltyMovement.select(
            LoyaltyMovement.at, LoyaltyMovement.points).where(LoyaltyMovement.customer == cid)
            .order_by(LoyaltyMovement.id).tuples()]
        n = rules.expired_points(rules.open_lots(entries, 6), TODAY)
        if n > 0:
            due[cid] = n
    assert due                                                   # some have points to expire
    assert loyalty_jobs.expire_all(TODAY) == (len(due), sum(due.values()))
    assert loyalty_jobs.expire_all(TODAY) == (0, 0)              # once only
    for cid in ids:
        assert Customer.get_by_id(cid).points_balance == sum(
            p for (p,) in LoyaltyMovement.select(LoyaltyMovement.points).where(LoyaltyMovement.customer == cid)
            .tuples())


def test_without_expiry_nothing_is_read(demo):
    assert list(loyalty_jobs.expiring(30, TODAY, Customer.select(Customer.id))) == []
    assert loyalty_jobs.expire_all(TODAY) == (0, 0)
