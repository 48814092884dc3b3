"""A note's customer and the prices they get: rate, specific prices, group and tier discounts."""

from __future__ import annotations

import dataclasses
import datetime as _dt

from tui_pos.domain import customer as customer_rules
from tui_pos.domain.errors import InputError
from tui_pos.models import PriceRate, PriceRateLine, db
from tui_pos.services import customers, loyalty
from tui_pos.services.sale.base import SaleBase
from tui_pos.services.sale.views import NoteView, note_view
from tui_pos.services.store import notes
from tui_pos.services.store.notes import LineRecord, NoteRecord, PricingCustomer, RepriceLine


class CustomerPricing(SaleBase):
    """Attach or remove a note's customer, and price lines for them."""

    def _customer_pricing(self, note: NoteRecord, customer: PricingCustomer | None = None,
                          group_discounts: list[int] | None = None) -> tuple[int | None, int]:
        """(the customer's valid rate id or None, the automatic group discount in bp).

        `group_discounts`: the customer's groups' discounts when the caller read them."""
        if not note.customer_id:
            return None, 0
        if customer is None or customer.id != note.customer_id:
            customer = notes.pricing_customer(note.customer_id)
            if customer is None:
                return None, 0
        rate_id = None
        if customer.price_rate_id:
            today = _dt.date.today()
            rate = PriceRate.get_by_id(customer.price_rate_id)
            if rate.active and (rate.start_date is None or rate.start_date <= today) and (
                    rate.end_date is None or today <= rate.end_date):
                rate_id = int(rate.id)
        discounts = list(group_discounts) if group_discounts is not None else notes.group_discounts(customer.id)
        discounts.append(loyalty.tier_of(customer.points_earned).discount_bp)
        return rate_id, customer_rules.group_discount_bp([d for d in discounts if d], self.stack_discounts)

    def _price(self, product_id: int, retail_cents: int, context: tuple[int | None, int],
               specific_cents: int | None) -> customer_rules.PriceChoice:
        """The line's price for the customer: retail, their rate's, or today's specific price (None: none)."""
        rate_id = context[0]
        rate_cents = None
        if rate_id is not None:
            line = PriceRateLine.get_or_none(PriceRateLine.rate == rate_id, PriceRateLine.product == product_id)
            if line is not None:
                rate_cents = customer_rules.rate_price(retail_cents, line.price_cents, line.discount_bp)
        return customer_rules.best_price(retail_cents, rate_cents=rate_cents, specific_cents=specific_cents,
                                         rate_and_special=self.rate_and_special)

    def _reprice(self, note: NoteRecord, customer: PricingCustomer | None = None, *,
                 group_discounts: list[int] | None = None, lines: list[RepriceLine] | None = None,
                 offers_cleared: bool = False) -> list[LineRecord]:
        """Prices and automatic discounts of every line again (a customer came or went).

        `group_discounts`, `lines`: what the store read, when the caller has it. Returns the lines as they
        are now (with `offers_cleared`, no unit offered or rewarded)."""
        context = self._customer_pricing(note, customer, group_discounts)
        if lines is None:
            lines = notes.reprice_lines(note.id, _dt.date.today())
        out = []
        discounted: dict[tuple[int, int, str], list[int]] = {}   # (percent, cents, source) -> lines whose price stays
        for read in lines:
            ln = dataclasses.replace(read.line, offered_qty=0, reward_qty=0) if offers_cleared else read.line
            if read.product_id is None:   # not a catalogue product: nothing to reprice
                out.append(ln)
                continue
            price, price_source = ln.unit_price_cents, ln.price_source
            if price_source not in ("manual", "weighed"):
                choice = self._price(read.product_id, ln.list_price_cents, context, read.specific_cents)
                price, price_source = choice.price_cents, choice.source
            percent, cents, discount_source = ln.discount_percent_bp, ln.discount_cents, ln.discount_source
            if discount_source != "manual":
                percent, cents, discount_source = context[1], 0, "group" if context[1] else ""
            if (price, price_source) != (ln.unit_price_cents, ln.price_source):
                notes.reprice(ln.id, price, price_source, percent, cents, discount_source)
            elif (percent, cents, discount_source) != (ln.discount_percent_bp, ln.discount_cents, ln.discount_source):
                discounted.setdefault((percent, cents, discount_source), []).append(ln.id)   # one UPDATE, below
            out.append(dataclasses.replace(ln, unit_price_cents=price, price_source=price_source,
                                           discount_percent_bp=percent, discount_cents=cents,
                                           discount_source=discount_source))
        for (percent, cents, source), ids in discounted.items():
            notes.set_discounts(ids, percent, cents, source)
        return out

    def attach_customer(self, note_id: int, customer_id: int) -> NoteView:
        """Attach a customer and reprice the note by their rate and groups."""
        with db.atomic():
            note = self._note(note_id)
            shown, rate_id, group_discounts = customers.view_for_pricing(customer_id)
            customer = PricingCustomer(id=shown.id, code=shown.code, name=shown.name, status=shown.status,
                                       price_rate_id=rate_id, points_earned=shown.points_earned,
                                       points_balance=shown.points_balance)
            if customer.status == "closed":
                raise InputError(f"{customer.name or customer.code} is closed and cannot be attached to a note.")
            if note.paid_now:
                raise InputError("Payment has started on this note: the customer cannot change now.")
            # points past their time go before the balance is shown
            expired = loyalty.expire_points(customer.id)
            tier = loyalty.tier_of(customer.points_earned)  # the tier held when the note was opened
            notes.attach(note_id, customer_id, tier.name, str(tier.multiplier))
            if note.offer_lines_now:
                notes.clear_offers(note_id)
            note.customer_id = customer_id
            lines = self._reprice(note, customer, group_discounts=group_discounts,
                                  offers_cleared=bool(note.offer_lines_now))
            note.redeem_points = note.redeem_cents = 0
            if expired:
                shown = customers.view(customer_id)
            payments = notes.payments(note_id) if note.payments_now else []
        return note_view(note, lines, payments, shown)

    def detach_customer(self, note_id: int) -> NoteView:
        with db.atomic():
            note = self._note(note_id)
            if self._paid(note_id):
                raise InputError("Payment has started on this note: the customer cannot change now.")
            notes.detach(note_id)
            note.customer_id = None
            self._reprice(note)
            return self.view(note_id)

