"""The loyalty ledger: every movement appended, the balance kept equal to its sum."""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from tui_pos.domain.errors import PosError
from tui_pos.models import Customer, LoyaltyMovement, db


class BalanceChanged(PosError):
    """The balance is not what the movement needs (another register spent it first)."""


@dataclass(frozen=True)
class Movement:
    kind: str
    points: int
    balance_before: int
    balance_after: int


def move(customer_id: int, points: int, kind: str, *, counts_as_earned: bool = False, receipt_no: str | None = None,
         product_sku: str | None = None, register: str = "", user_id: int | None = None, reason: str = "",
         allow_negative: bool = False) -> Movement:
    """Append one movement and update the balance in the caller's transaction.

    The balance is changed with a conditional UPDATE, so two registers spending
    the same points cannot both succeed: the second finds no row to update.
    """
    with db.atomic():
        query = Customer.update(points_balance=Customer.points_balance + points,
                                points_earned=Customer.points_earned + (points if counts_as_earned else 0)
                                ).where(Customer.id == customer_id)
        if not allow_negative and points < 0:
            query = query.where(Customer.points_balance + points >= 0)
        if query.execute() != 1:
            raise BalanceChanged("The customer's balance changed or is too low for this; check it and try again.")
        after = Customer.select(Customer.points_balance).where(Customer.id == customer_id).scalar()
        LoyaltyMovement.create(customer=customer_id, kind=kind, points=points, balance_before=after - points,
                               balance_after=after, counts_as_earned=counts_as_earned, receipt_no=receipt_no,
                               product_sku=product_sku, register=register, user=user_id, reason=reason)
        return Movement(kind, points, after - points, after)


def opening_balance(customer_id: int, points: int, *, user_id: int | None = None) -> Movement:
    """An imported balance: an adjustment that also counts as earned, so tiers carry over."""
    return move(customer_id, points, "adjust", counts_as_earned=points > 0, user_id=user_id,
                reason="opening balance (import)", allow_negative=True)


def ledger_mismatches() -> list[tuple[str, int, int]]:
    """Customers whose balance is not the sum of their ledger: (code, balance, ledger sum)."""
    sums = (LoyaltyMovement.select(LoyaltyMovement.customer, fn.SUM(LoyaltyMovement.points).alias("total"))
            .group_by(LoyaltyMovement.customer))
    totals = {row.customer_id: row.total for row in sums}
    out = []
    for c in Customer.select(Customer.id, Customer.code, Customer.points_balance):
        total = int(totals.get(c.id) or 0)
        if total != c.points_balance:
            out.append((c.code, c.points_balance, total))
    return out
