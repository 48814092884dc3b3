"""A chain of stores on one database (issue 24, docs/offline.md): what each store sold, and the chain's total.

Customers and their points are the chain's (earned in one store, spent in another); the catalog is shared,
with per-store prices (services/prices.py `set_store_price`); each register belongs to one store
(`[store] point_of_sale`).
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import Case, fn

from tui_pos.domain.customer import parse_date
from tui_pos.models import Note, PointOfSale, Register
from tui_pos.services import audit


@dataclass(frozen=True)
class StoreSales:
    """One store's (or the chain's) completed sales and returns over a period."""

    store: str
    name: str
    registers: int
    sales: int
    returns: int
    net_cents: int            # sales less returns
    customers: int            # distinct customers who bought
    points_earned: int
    points_used: int


def store_sales(date_from: str | None = None, date_to: str | None = None) -> list[StoreSales]:
    """Each store's figures, then the chain's ("*"), for closings between the two dates (local days, inclusive)."""
    query = (Note.select(PointOfSale.code, PointOfSale.name, fn.COUNT(Register.id.distinct()),
                         fn.SUM(Case(None, [(Note.kind == "sale", 1)], 0)),
                         fn.SUM(Case(None, [(Note.kind == "return", 1)], 0)),
                         fn.COALESCE(fn.SUM(Note.total_cents), 0), fn.COUNT(Note.customer.distinct()),
                         fn.COALESCE(fn.SUM(Note.loyalty_earned), 0), fn.COALESCE(fn.SUM(Note.loyalty_used), 0))
             .join(Register).join(PointOfSale)
             .where(Note.status == "paid")
             .group_by(PointOfSale.code, PointOfSale.name).order_by(PointOfSale.code))
    start = audit.local_day_bounds(parse_date(date_from))[0] if date_from else None
    end = audit.local_day_bounds(parse_date(date_to))[1] if date_to else None
    if start is not None:
        query = query.where(Note.closed_at >= start)
    if end is not None:
        query = query.where(Note.closed_at < end)
    rows = [StoreSales(code, name, int(regs), int(sales or 0), int(rets or 0), int(net), int(custs), int(earned),
                       int(used))
            for code, name, regs, sales, rets, net, custs, earned, used in query.tuples()]
    chain = Note.select(fn.COUNT(Note.customer.distinct())).where(Note.status == "paid")
    if start is not None:
        chain = chain.where(Note.closed_at >= start)
    if end is not None:
        chain = chain.where(Note.closed_at < end)
    rows.append(StoreSales("*", "the chain", sum(r.registers for r in rows), sum(r.sales for r in rows),
                           sum(r.returns for r in rows), sum(r.net_cents for r in rows), int(chain.scalar() or 0),
                           sum(r.points_earned for r in rows), sum(r.points_used for r in rows)))
    return rows
