"""A note carried between the server and the register's replica (issue 24, docs/offline.md).

When the server goes away mid-note, the register goes on with the note on its replica: a new note with the
lines as the cashier last saw them (their prices, discounts and price source kept) and the customer. When the
server is back, the note not yet paid goes back the same way. Points set on the note (money off, offered
units) stay behind: they are checked again where the note now is (F4, F10).
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_pos.models import Customer, Note, Product, db, utcnow
from tui_pos.services import audit, loyalty
from tui_pos.services.sale.base import SaleBase
from tui_pos.services.sale.views import LineView
from tui_pos.services.store import notes


@dataclass(frozen=True)
class Carried:
    note_id: int
    lines: int
    dropped: tuple[str, ...]          # SKUs of lines whose product is not here (left off)
    customer_dropped: bool = False    # the customer is not here


class Carrying(SaleBase):
    """Opening a note here with the lines of a note the cashier was ringing up elsewhere."""

    def carry(self, lines: list[LineView], customer_id: int | None, *, cashier_id: int | None,
              carried_from: int | None = None, cancel_note: int | None = None,
              payments: tuple[tuple[str, int], ...] = ()) -> Carried:
        """A new open note with `lines`, the customer and the `payments` already taken on it (tender, cents:
        money in the drawer or on a card is not asked twice); `carried_from`: the server's note it goes on from
        (the sync cancels that one, or reports it paid twice); `cancel_note`: a note of this database left
        behind when it went offline, cancelled here now if it is still open and unpaid."""
        now = utcnow()
        dropped: list[str] = []
        with db.atomic():
            if cancel_note is not None:
                left = notes.note(cancel_note)
                # its part payments, if any, went with it (`payments`): they count on the note that goes on
                if left is not None and left.register_id == self.register_id and left.status == "open":
                    Note.update(status="cancelled", closed_at=now, label="went on offline").where(
                        Note.id == cancel_note).execute()
                    audit.record("note.went_offline", register=self.register_code, note=cancel_note,
                                 payments_carried=bool(left.paid_now))
            note_id = notes.open_sale(self.register_id, self.default_mode, cashier_id, now)
            if carried_from is not None:
                Note.update(carried_from=carried_from).where(Note.id == note_id).execute()
            products = {p.sku: p for p in Product.select().where(Product.sku.in_([ln.sku for ln in lines]))}
            for ln in lines:
                product = products.get(ln.sku)
                if product is None:
                    dropped.append(ln.sku)
                    continue
                fixed = ln.discount_cents if not ln.discount_percent_bp else 0
                added = notes.add_line(
                    note_id=note_id, product_id=product.id, sku=ln.sku, name=ln.name, qty=ln.qty,
                    unit_price_cents=ln.unit_price_cents, price_source=ln.price_source,
                    list_price_cents=ln.list_price_cents, tax_rate_bp=product.tax_rate_bp,
                    tax_included=product.tax_included, discount_percent_bp=ln.discount_percent_bp,
                    points_cost=product.points_cost, discount_source=ln.discount_source, created_at=now)
                if fixed:
                    notes.reprice(added.id, ln.unit_price_cents, ln.price_source, 0, fixed, ln.discount_source)
            for tender, cents in payments:
                if cents:
                    notes.add_payment(note_id, tender, cents, now, None)
            customer_gone = False
            if customer_id is not None:
                earned = Customer.select(Customer.points_earned).where(
                    (Customer.id == customer_id) & (Customer.status == "open")).scalar()
                if earned is None:
                    customer_gone = True
                else:
                    tier = loyalty.tier_of(int(earned))
                    notes.attach(note_id, customer_id, tier.name, str(tier.multiplier))
        return Carried(note_id, len(lines) - len(dropped), tuple(dropped), customer_gone)
