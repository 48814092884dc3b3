"""Payment and close: take tenders, complete the sale with its receipt number, queue the receipt."""

from __future__ import annotations

from typing import Any

from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError
from tui_pos.domain.loyalty import Block
from tui_pos.models import Customer, Note, Payment, db, utcnow
from tui_pos.services import audit, loyalty, printing, users
from tui_pos.services.sale.base import SaleBase
from tui_pos.services.sale.views import PayResult, Summary
from tui_pos.services.store import notes
from tui_pos.services.store.notes import NoteRecord


class Payments(SaleBase):
    """Paying a note and closing it."""

    def pay(self, note_id: int, tender: str = "cash", amount_cents: int | None = None, *,
            approver_id: int | None = None, request_id: str | None = None,
            user_id: int | None = None) -> PayResult:
        """Take a payment; `None` pays the rest in cash. Completes the sale when covered.

        Completion is one transaction: payment, receipt number, note closed.
        Pressing the key twice cannot pay twice: a closed note refuses payment.
        `request_id` names this payment: retried with the same id (the
        connection dropped and the register could not know whether it was
        committed), it is taken once and the first outcome is returned.
        """
        if tender not in self.tenders:
            raise InputError(f"Unknown tender {tender!r}: use one of {', '.join(self.tenders)}.")
        with db.atomic():
            taken = notes.payment_by_request(request_id) if request_id is not None else None
            if taken is not None:
                result = self._taken(Payment.get_by_id(taken))
                if result.completed and self.offline is not None and not self.offline.active:
                    self.offline.seen_receipt(result.receipt_no)
                return result
            # the program's version comes with the note: the next note, opened below, sees it afresh
            note = self._checked(notes.note_and_program(note_id))
            earn: tuple[Any, Any] | None = loyalty.earn_lines(note_id)   # the totals, and what loyalty reads
            assert earn is not None
            if user_id is not None:
                note.cashier_id = user_id    # the sale is the one's who is signed in when it is paid
            loyalty.take_program_row(note.program_version)
            s = Summary(note_id, pricing.note_totals([loyalty.priced(r) for r in earn[1]], (), note.redeem_cents),
                        note.paid_now)
            if not (note.customer_id and note.kind == "sale"):
                earn = None
            if s.totals.line_count == 0:
                raise InputError("The note is empty: scan something first.")
            if note.customer_id and not s.paid_cents:
                self._check_customer(note, approver_id=approver_id, user_id=user_id)
            if note.redeem_cents and s.totals.redeemed_cents < note.redeem_cents:
                raise InputError("The points redeemed are worth more than the note now: change them with F4.")
            if amount_cents is None:
                tender, amount_cents = "cash", max(s.due_cents, 0)
            settlement = pricing.Settlement(s.totals.total_cents, s.paid_cents)
            problem = pricing.check_tender(settlement, amount_cents, gives_change=(tender == "cash"))
            # nothing due (or overpaid: a line deleted after a card payment): Enter completes, the
            # difference goes back as change
            if problem and not (amount_cents == 0 and s.due_cents <= 0):
                raise InputError(problem)
            if amount_cents or request_id:
                notes.add_payment(note_id, tender, amount_cents, utcnow(), request_id)
            settlement = pricing.Settlement(s.totals.total_cents, s.paid_cents + amount_cents)
            summary = Summary(note_id, s.totals, settlement.paid_cents)
            if not settlement.complete:
                return PayResult(summary, completed=False, cash_taken=tender == "cash")
            # the drawer opens when cash was taken: this payment, or an earlier one of the note
            cash = tender == "cash" and bool(amount_cents or request_id) or bool(s.paid_cents) and self._cash_taken(
                note_id)
            receipt_no = self._close(note, s.totals.total_cents, cash=cash, earn=earn)
            # the register's next note, in the same transaction: the screen goes on with it (the sale
            # screen would open one now anyway), and a crash after the commit finds it open
            next_note = notes.open_sale(self.register_id, self.default_mode, note.cashier_id, utcnow()) \
                if note.kind == "sale" else None
        if self.offline is not None and not self.offline.active:
            self.offline.seen_receipt(receipt_no)    # the replica's counter past it, for a sale made offline
        return PayResult(summary, completed=True, change_cents=settlement.change_cents, receipt_no=receipt_no,
                         cash_taken=cash, next_note_id=next_note)

    def _check_customer(self, note: NoteRecord, *, approver_id: int | None, user_id: int | None) -> None:
        """Before the first payment: a customer closed while on the note, or a defaulter, needs approval."""
        customer = Customer.get_by_id(note.customer_id)
        if customer.status == "closed":
            # closed (or forgotten) while on this note: never sell on to them silently
            who = customer.name or customer.code
            if not users.users_exist():
                raise InputError(f"{who} was closed while on this note: remove them (F2, Ctrl+R) before paying.")
            approved = self._approver(approver_id, "closed_customer",
                                      f"{who} was closed while on this note: "
                                      f"{users.pin_words('closed_customer')} keeps them on this sale; "
                                      "or Escape, then F2 and Ctrl+R to remove them.", user_id=user_id)
            audit.record("sale.closed_customer_kept", approved_by=approved, register=self.register_code,
                         note=note.id, customer=customer.code)
        if self.block_defaulters and customer.payment_status == 2:
            approved = self._approver(approver_id, "defaulter",
                                      f"{customer.name or customer.code} is a defaulter: "
                                      f"taking their payment needs {users.pin_words('defaulter')}.",
                                      user_id=user_id)
            if approved is not None:
                audit.record("sale.defaulter_approved", approved_by=approved, register=self.register_code,
                             note=note.id, customer=customer.code)

    @staticmethod
    def _cash_taken(note_id: int) -> bool:
        return bool(Payment.select().where(Payment.note == note_id, Payment.tender == "cash").exists())

    def _taken(self, payment: Any) -> PayResult:
        """The outcome of a payment already taken (a retry of the same request)."""
        note = Note.get_by_id(payment.note_id)
        summary = self.summary(note.id)
        if note.status != "paid":
            return PayResult(summary, completed=False, cash_taken=payment.tender == "cash")
        change = pricing.Settlement(summary.totals.total_cents, summary.paid_cents).change_cents
        # the note the completion opened (the register's open one: the cashier could not go on without it)
        next_note = notes.current_note(self.register_id) if note.kind == "sale" else None
        return PayResult(summary, completed=True, change_cents=change, receipt_no=note.receipt_no,
                         cash_taken=self._cash_taken(note.id), next_note_id=next_note)

    def _close(self, note: Any, total_cents: int, *, cash: bool | None = None,
               earn: tuple[Any, Any] | None = None) -> str:
        """Give the note the register's next receipt number and close it (in a transaction).

        A sale's loyalty movements are written first (they carry the receipt
        number), then one UPDATE closes the note with its loyalty block.
        `earn`: the note's lines as loyalty reads them, when the caller has them.
        """
        seq = notes.take_seq(self.register_id)
        receipt_no = f"{self.register_code}-{seq:06d}"
        now = utcnow()
        block: Block | None = None
        if note.customer_id and note.kind == "sale":
            # `note` was read in this transaction; nothing settle reads has changed since. With a
            # program, one UPDATE of the customer counts the visit and moves the points
            settle = loyalty.send_settle(note, point_of_sale=self.point_of_sale, earn=earn, visit_at=now)
            if settle is not None:
                block, visits = loyalty.write_settle(settle, receipt_no, register=self.register_code,
                                                     user_id=note.cashier_id)
            else:
                visits = notes.count_visit(note.customer_id, now)
            if self.messaging is not None:   # outbox rows only: nothing is sent from a sale
                from tui_pos.services import messaging
                messaging.after_sale(self.messaging, note.customer_id, visits=visits,
                                     tier_before=note.tier_name, earned=block.earned if block else 0)
        elif note.customer_id:
            Customer.update(last_visit_at=now).where(Customer.id == note.customer_id).execute()
        notes.close(note.id, seq, receipt_no, now, total_cents, note.cashier_id, block)
        # the DGI document's row, with the sale: sent by a worker, never here (offline: made by the sync)
        if self.fiscal is not None and not self.selling_offline:
            from tui_pos.services import fiscal
            fiscal.enqueue(note.id, self.fiscal, now, kind=note.kind)
        if self.print_queue:
            printing.enqueue(self.register_code, receipt_no,
                             kick_drawer=self._cash_taken(note.id) if cash is None else cash)
        return receipt_no

    def reprint(self, receipt_no: str) -> str:
        """Queue a copy of any receipt by number (marked COPY); returns the number."""
        number = receipt_no.strip().upper()
        if not Note.select().where(Note.receipt_no == number).exists():
            raise InputError(f"No receipt {receipt_no.strip()!r}: check the number (like R1-000042).")
        if not self.print_queue:
            raise InputError("No printer is configured ([printer] kind = \"none\"): nothing to reprint on.")
        printing.enqueue(self.register_code, number, reprint=True)
        return number
