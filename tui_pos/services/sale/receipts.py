"""Receipts: a paid note's receipt from the database, and the register's last sale."""

from __future__ import annotations

from typing import Any

from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError
from tui_pos.domain.loyalty import Block
from tui_pos.domain.receipt import Receipt, ReceiptLine
from tui_pos.models import LoyaltyMovement, Note, User, local_time
from tui_pos.services import loyalty
from tui_pos.services.sale.base import SaleBase
from tui_pos.services.sale.views import LastSale
from tui_pos.services.store import notes


class Receipts(SaleBase):
    """What the register prints and shows of completed notes."""

    def last_sale(self) -> LastSale | None:
        """The register's last completed note (sale or refund), for the screen at start."""
        note = (Note.select(Note.id, Note.receipt_no, Note.total_cents, Note.kind, Note.cashier)
                .where(Note.register == self.register_id, Note.status == "paid").order_by(Note.seq.desc()).first())
        if note is None:
            return None
        tenders = [p.tender for p in notes.payments(note.id)]
        who = User.get_or_none(User.id == note.cashier_id) if note.cashier_id else None
        return LastSale(note.receipt_no, note.total_cents, " + ".join(dict.fromkeys(tenders)) or "no payment",
                        who.name if who else "", note.kind)

    def last_receipt_no(self) -> str | None:
        note = (Note.select(Note.receipt_no).where(Note.register == self.register_id, Note.status == "paid")
                .order_by(Note.seq.desc()).first())
        return note.receipt_no if note else None

    def _refund_block(self, refund: Any, value_mode: bool) -> Block | None:
        """A refund slip's loyalty block, from the ledger movements it made: the same rule as the receipt
        (when points spent come back, or `loyalty_block = "always"` for a customer's refund)."""
        moves = list(LoyaltyMovement.select(LoyaltyMovement.points, LoyaltyMovement.balance_before,
                                            LoyaltyMovement.balance_after)
                     .where(LoyaltyMovement.receipt_no == refund.receipt_no).order_by(LoyaltyMovement.id))
        given = sum(m.points for m in moves if m.points > 0)
        taken = -sum(m.points for m in moves if m.points < 0)
        if not moves or not (given or self.loyalty_block == "always"):
            return None
        return Block(moves[0].balance_before, taken, given, moves[-1].balance_after, "", value_mode=value_mode)

    def receipt(self, receipt_no: str, *, reprint: bool = False) -> Receipt:
        """The receipt of a paid note, from the database."""
        note = Note.get_or_none(Note.receipt_no == receipt_no.strip().upper())
        if note is None:
            raise InputError(f"No receipt {receipt_no.strip()!r}: check the number (like R1-000042).")
        lines = notes.lines(note.id)
        priced = [ln.priced() for ln in lines]
        totals = pricing.note_totals(priced, (), note.redeem_cents)
        printed = []
        for ln, p in zip(lines, priced):
            a = pricing.line_amounts(p)
            printed.append(ReceiptLine(name=ln.name, qty=ln.qty - ln.offered_qty - ln.reward_qty,
                                       unit_price_cents=ln.unit_price_cents, gross_cents=a.gross_cents,
                                       discount_cents=a.discount_cents, total_cents=a.total_cents,
                                       discount_percent_bp=ln.discount_percent_bp,
                                       offered_qty=ln.offered_qty + ln.reward_qty))
        block = None
        value_mode = (loyalty.program() or loyalty.rules.Program()).mode == "value"
        if note.kind == "return":
            block = self._refund_block(note, value_mode)
        elif note.customer_id and note.loyalty_before is not None and (
                note.loyalty_used or self.loyalty_block == "always"):
            block = Block(note.loyalty_before, note.loyalty_used, note.loyalty_earned, note.loyalty_after,
                          note.tier_name, value_mode=value_mode)
        payments = tuple((p.tender, p.amount_cents) for p in notes.payments(note.id))
        change = pricing.Settlement(totals.total_cents, sum(cents for _, cents in payments)).change_cents
        cashier = note.cashier.name if note.cashier_id else ""
        when = local_time(note.closed_at or note.opened_at)
        return Receipt(store_name=self.store_name, receipt_no=note.receipt_no, when=when,
                       cashier=cashier, sales_mode=note.sales_mode, lines=tuple(printed), totals=totals,
                       payments=payments, change_cents=change, kind=note.kind,
                       return_of=note.return_of.receipt_no if note.return_of_id else "",
                       header=self.header, footer=self.footer, reprint=reprint, loyalty=block,
                       redeemed_points=note.redeem_points)
