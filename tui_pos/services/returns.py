"""Returns: find a receipt, pick lines and quantities, refund with a tender.

Never more than was sold, across any number of returns: each return line
points at the line it returns, and the refund of the last unit of a line is
whatever of that line's amount has not been refunded yet, so rounding can
never give back more than was paid.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import IntegrityError, fn

from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError
from tui_pos.domain.money import round_half_up
from tui_pos.models import Note, NoteLine, Payment, db
from tui_pos.services import audit, loyalty, users
from tui_pos.services.sales import SaleService


@dataclass(frozen=True)
class ReturnableLine:
    """A sold line and how much of it can still come back."""

    line_id: int
    sku: str
    name: str
    sold_qty: int
    returned_qty: int
    total_cents: int        # what was paid for the whole line
    refunded_cents: int     # already given back for it

    @property
    def returnable_qty(self) -> int:
        return self.sold_qty - self.returned_qty

    def refund_for(self, qty: int) -> int:
        """What `qty` more units give back (the last unit takes what is left)."""
        if qty == self.returnable_qty:
            return self.total_cents - self.refunded_cents
        return round_half_up(self.total_cents * qty, self.sold_qty)


@dataclass(frozen=True)
class ReturnableReceipt:
    receipt_no: str
    note_id: int
    lines: tuple[ReturnableLine, ...]


def find(receipt_no: str) -> ReturnableReceipt:
    """A paid sale by receipt number (typed, or scanned from the receipt barcode)."""
    number = receipt_no.strip().upper()
    if not number:
        raise InputError("Type or scan the receipt number (like R1-000042).")
    note = Note.get_or_none(Note.receipt_no == number)
    if note is None:
        raise InputError(f"No receipt {number}: check the number printed under the barcode.")
    if note.kind != "sale":
        raise InputError(f"{number} is itself a refund; scan the original sale's receipt.")
    lines = []
    sold = list(NoteLine.select().where(NoteLine.note == note.id).order_by(NoteLine.id))
    line_totals = [pricing.line_amounts(pricing.PricedLine(
        ln.qty, ln.unit_price_cents, ln.tax_rate_bp, ln.tax_included, ln.discount_percent_bp, ln.discount_cents,
        ln.offered_qty + ln.reward_qty)).total_cents for ln in sold]
    # money off paid with points was not paid in money: it comes back as points, not cash
    points_share = pricing.spread(note.redeem_cents, line_totals)
    for line, line_total, share in zip(sold, line_totals, points_share):
        back = (NoteLine.select(NoteLine.qty, NoteLine.unit_price_cents, NoteLine.tax_rate_bp,
                                NoteLine.tax_included, NoteLine.discount_percent_bp, NoteLine.discount_cents)
                .join(Note).where(NoteLine.return_of_line == line.id, Note.status == "paid").tuples())
        returned_qty = refunded = 0
        for r in back:
            returned_qty += -r[0]
            refunded += -pricing.line_amounts(pricing.PricedLine(*r)).total_cents
        lines.append(ReturnableLine(line.id, line.sku, line.name, line.qty, returned_qty,
                                    line_total - share, refunded))
    return ReturnableReceipt(number, note.id, tuple(lines))


def refund_of_request(request_id: str) -> str | None:
    """The receipt number of the refund made under `request_id`, if one was."""
    row = (Note.select(Note.receipt_no).join(Payment, on=(Payment.note == Note.id))
           .where(Payment.request_id == request_id, Note.kind == "return", Note.status == "paid").tuples().first())
    return row[0] if row else None


def refund(sales: SaleService, receipt_no: str, picks: dict[int, int], tender: str = "cash", *,
           user_id: int | None = None, approver_id: int | None = None, request_id: str | None = None) -> str:
    """Refund `picks` ({line id: qty}) of a receipt; returns the refund's receipt number.

    `request_id` names this refund: the screen makes one per attempt and keeps it while the outcome is
    unknown (the connection dropped before the answer came). A refund already made under it is returned
    as it was (its receipt number) and nothing is written again; the id is held unique by the database
    (`payment.request_id`), so two tries racing each other refund once.
    """
    number = _refund_once(sales, receipt_no, picks, tender, user_id=user_id, approver_id=approver_id,
                          request_id=request_id)
    if sales.offline is not None and not sales.offline.active:
        sales.offline.seen_receipt(number)     # the replica's counter past it (issue 24)
    return number


def _refund_once(sales: SaleService, receipt_no: str, picks: dict[int, int], tender: str, *,
                 user_id: int | None, approver_id: int | None, request_id: str | None) -> str:
    if request_id is None:
        return _refund(sales, receipt_no, picks, tender, user_id=user_id, approver_id=approver_id)
    earlier = refund_of_request(request_id)
    if earlier is not None:
        return earlier
    try:
        with db.atomic():
            number = _refund(sales, receipt_no, picks, tender, user_id=user_id, approver_id=approver_id)
            Payment.update(request_id=request_id).where(
                Payment.note.in_(Note.select(Note.id).where(Note.receipt_no == number))).execute()
        return number
    except IntegrityError:
        earlier = refund_of_request(request_id)   # the other try committed first: its refund stands
        if earlier is None:
            raise
        return earlier


def _refund(sales: SaleService, receipt_no: str, picks: dict[int, int], tender: str = "cash", *,
           user_id: int | None = None, approver_id: int | None = None) -> str:
    """Refund `picks` ({line id: qty}) of a receipt; returns the refund's receipt number.

    One transaction: the return note, its lines, the negative payment and the
    receipt number, after checking again that nothing is returned twice.
    """
    if tender not in sales.tenders:
        raise InputError(f"Unknown tender {tender!r}: use one of {', '.join(sales.tenders)}.")
    picks = {lid: q for lid, q in picks.items() if q}
    if not picks:
        raise InputError("Pick at least one line to return (Space on a line).")
    with db.atomic():
        # a refund is money out of the drawer: `refund` in [permissions] (a manager's by default)
        approved = users.approve("refund", approver_id, user_id=user_id)
        original = find(receipt_no)
        by_id = {line.line_id: line for line in original.lines}
        sold = Note.get_by_id(original.note_id)
        note = Note.create(register=sales.register_id, kind="return", status="open", sales_mode=sold.sales_mode,
                           cashier=user_id, return_of=original.note_id, customer=sold.customer_id)
        total = 0
        for line_id, qty in picks.items():
            line = by_id.get(line_id)
            if line is None:
                raise InputError("That line is not on this receipt.")
            if qty < 0 or qty > line.returnable_qty:
                raise InputError(f"{line.name}: {line.returnable_qty} of {line.sold_qty} can still be "
                                 f"returned, not {qty}.")
            src = NoteLine.get_by_id(line_id)
            amount = line.refund_for(qty)
            gross = pricing.line_amounts(pricing.PricedLine(
                -qty, src.unit_price_cents, src.tax_rate_bp, src.tax_included)).gross_cents
            NoteLine.create(note=note.id, product=src.product_id, sku=src.sku, name=src.name, qty=-qty,
                            unit_price_cents=src.unit_price_cents, list_price_cents=src.list_price_cents,
                            tax_rate_bp=src.tax_rate_bp, tax_included=src.tax_included,
                            discount_percent_bp=0, discount_cents=abs(gross) - amount,
                            price_source=src.price_source, discount_source="manual", return_of_line=src.id)
            total -= amount
        Payment.create(note=note.id, tender=tender, amount_cents=total)
        number = sales._close(note, total)
        returned = {ln.line_id: ln.returned_qty + picks.get(ln.line_id, 0) for ln in original.lines}
        loyalty.reverse(sold, number, returned, point_of_sale=sales.point_of_sale, register=sales.register_code,
                        user_id=user_id)
        prog = loyalty.program()
        if prog is not None and prog.offers and sold.customer_id:
            from tui_pos.services import stamps
            stamps.reverse(list(NoteLine.select().where(NoteLine.note == sold.id)), picks, sold.customer_id, prog,
                           number, sale_receipt_no=sold.receipt_no)
        audit.record("note.refund", user_id=user_id, approved_by=approved, register=sales.register_code,
                     receipt=number,
                     original=original.receipt_no, total_cents=total)
    return number


def refunded_total(note_id: int) -> int:
    """Money given back so far against a sale (a positive number)."""
    return -(Payment.select(fn.COALESCE(fn.SUM(Payment.amount_cents), 0)).join(Note)
             .where(Note.return_of == note_id, Note.status == "paid").scalar())


__all__ = ["find", "refund", "refunded_total", "ReturnableLine", "ReturnableReceipt"]
