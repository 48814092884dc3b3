"""Note editing: open a note, scan and change lines, park, resume and cancel."""

from __future__ import annotations

from tui_pos.domain import pricing
from tui_pos.domain.codes import MAX_QTY, bad_check_digit, check_qty, parse_entry, parse_weighed
from tui_pos.domain.errors import InputError, PosError
from tui_pos.models import Note, NoteLine, db, utcnow
from tui_pos.services import audit, catalog, customers, loyalty, users
from tui_pos.services.sale.customer import CustomerPricing
from tui_pos.services.sale.views import LineView, ParkedNote, ScanResult, Summary, UnknownCode, line_view
from tui_pos.services.store import notes

# a note parked on the replica would stay there: parking waits for the server (docs/offline.md)
OFFLINE_PARK = "The register is offline: notes are parked when the server is back. Pay this one, or go on with it."

class NoteEditing(CustomerPricing):
    """The note being rung up: its lines, and parking it."""

    def current_note(self) -> int | None:
        """The open note of this register (after a crash: the one being rung up)."""
        return notes.current_note(self.register_id)

    def open_note(self, cashier_id: int | None = None) -> int:
        """The open note, or a new one. A new note reads the loyalty program's version afresh,
        so a change made on any register takes effect on the next note here.

        An open note with no line yet becomes `cashier_id`'s (the one signed in now); one with lines keeps
        who rang it up until it is paid, when it becomes the paying cashier's."""
        register_id = self.register_id
        with db.atomic():
            existing, program_version = notes.current_note_and_program(register_id)
            if existing is None:
                new = notes.open_sale(register_id, self.default_mode, cashier_id, utcnow())
        loyalty.take_program_row(program_version)
        if existing is None:
            return new
        if cashier_id is not None:
            with db.atomic():
                if not NoteLine.select().where(NoteLine.note == existing).exists():
                    Note.update(cashier=cashier_id).where(Note.id == existing, Note.status == "open").execute()
        return existing

    def set_sales_mode(self, note_id: int, mode: str) -> None:
        if mode not in self.sales_modes:
            raise InputError(f"Unknown sales mode {mode!r}: use one of {', '.join(self.sales_modes)}.")
        with db.atomic():
            note = self._note(note_id)
            Note.update(sales_mode=mode).where(Note.id == note.id).execute()

    def add_item(self, note_id: int, text: str) -> tuple[LineView, Summary]:
        """Add what was typed or scanned (`CODE` or `N*CODE`).

        Scanning a product already on the note (at a price and discount the
        cashier has not changed) raises that line's quantity instead of adding
        a new line. A new line is priced for the note's customer (seed 003).
        """
        entry = parse_entry(text)
        with db.atomic():
            note = self._note(note_id)
            product = catalog.find_by_code(entry.code, note_id, self.store_id)
            weighed = None
            if product is None:
                weighed = parse_weighed(entry.code, self.weighed_prefixes, self.weighed_layout, self.weighed_value)
                if weighed is not None:
                    if bad_check_digit(entry.code):
                        raise InputError(f"{entry.code} was misread (wrong check digit): scan it again.")
                    product = (catalog.find_by_code(weighed.plu, store_id=self.store_id)
                               or catalog.find_by_code(weighed.plu.lstrip("0"), store_id=self.store_id))
                    if product is None:
                        raise InputError(f"Unknown weighed item {weighed.plu} in {entry.code}: no product has "
                                         "this PLU as a barcode or SKU. Check the scale's labels.")
            if product is None:
                if bad_check_digit(entry.code):
                    raise InputError(f"{entry.code} was misread (wrong check digit): scan it again or type it.")
                raise UnknownCode(f"Unknown code {entry.code}: no product has this barcode or SKU. "
                                  "Check it, or search with F3.")
            if product.price_cents < 0:
                raise InputError(f"{product.name} has a negative price; ask a manager to fix the product.")
            if weighed is None and product.same_line is not None:
                same_id, same_qty = product.same_line
                qty = same_qty + entry.qty
                if qty > MAX_QTY:
                    raise InputError(f"{product.name} would reach {qty}; a line holds at most {MAX_QTY}.")
                notes.set_qty(same_id, qty)
                line = notes.line(same_id)
                assert line is not None
                return line_view(line), self.summary(note_id, note)
            context = self._customer_pricing(note)
            if weighed is not None:
                # its own line: each label has its own price or weight, and no rate replaces it
                price = list_price = weighed.price_cents(product.price_cents)
                name, source, points_cost = weighed.label(product.name), "weighed", None
            else:
                choice = self._price(product.id, product.price_cents, context, product.specific_cents)
                price, source, list_price = choice.price_cents, choice.source, product.price_cents
                name, points_cost = product.name, product.points_cost
            line = notes.add_line(
                note_id=note_id, product_id=product.id, sku=product.sku, name=name, qty=entry.qty,
                unit_price_cents=price, price_source=source, list_price_cents=list_price,
                tax_rate_bp=product.tax_rate_bp, tax_included=bool(product.tax_included),
                discount_percent_bp=context[1], points_cost=points_cost,
                discount_source="group" if context[1] else "", created_at=utcnow())
            return line_view(line), self.summary(note_id, note)

    def scan(self, note_id: int, text: str) -> ScanResult:
        """What the code field does: a product (barcode or SKU), else a customer's loyalty card."""
        try:
            line, summary = self.add_item(note_id, text)
            return ScanResult(line, summary)
        except UnknownCode:
            card = customers.by_card(parse_entry(text).code)
            if card is None:
                raise
            self.attach_customer(note_id, card.id)
            return ScanResult(None, self.summary(note_id), customers.view(card.id))

    def set_qty(self, note_id: int, line_id: int, qty: int) -> tuple[LineView, Summary]:
        check_qty(qty)
        with db.atomic():
            self._note(note_id)
            self._line(note_id, line_id)
            NoteLine.update(qty=qty).where(NoteLine.id == line_id).execute()
            return self.line_view(line_id), self.summary(note_id)

    def delete_line(self, note_id: int, line_id: int, *, user_id: int | None = None,
                    approver_id: int | None = None) -> Summary:
        with db.atomic():
            self._note(note_id)
            line = self._line(note_id, line_id)
            paid = self._paid(note_id)
            approved = self._approver(approver_id, "void_line", user_id=user_id) if paid else None
            # every removed line is written down, before payment too: voids are where till theft hides
            audit.record("line.void" if paid else "line.delete", user_id=user_id, approved_by=approved,
                         register=self.register_code, note=note_id, sku=line.sku, qty=line.qty,
                         unit_price_cents=line.unit_price_cents)
            NoteLine.delete().where(NoteLine.id == line_id).execute()
            return self.summary(note_id)

    def set_discount(self, note_id: int, line_id: int, *, percent_bp: int = 0, cents: int = 0,
                     user_id: int | None = None, approver_id: int | None = None) -> tuple[LineView, Summary]:
        """A percentage or an amount off one line; above the cashier's limit a manager approves."""
        if percent_bp < 0 or cents < 0:
            raise InputError("A discount cannot be negative.")
        if percent_bp > pricing.BP:
            raise InputError("A discount cannot be more than 100 %.")
        with db.atomic():
            self._note(note_id)
            line = self._line(note_id, line_id)
            gross = pricing.line_amounts(pricing.PricedLine(
                line.qty, line.unit_price_cents, line.tax_rate_bp, line.tax_included)).gross_cents
            if cents > gross:
                raise InputError("The discount is more than the line is worth.")
            effective_bp = percent_bp or (cents * pricing.BP // gross if gross else 0)
            approved = None
            if effective_bp > self.max_discount_bp:
                approved = self._approver(
                    approver_id, "discount",
                    f"A discount above {self.max_discount_bp / 100:g} % needs {users.pin_words('discount')}.",
                    user_id=user_id)
            automatic = line.discount_percent_bp if line.discount_source == "group" else 0
            if automatic and pricing.discount_off(gross, percent_bp, cents) < pricing.discount_off(gross, automatic, 0):
                # the customer's own discount (group or tier) is better: a cashier's smaller one would raise
                # the price they already had; it stays unless a manager says otherwise
                if not users.users_exist():
                    raise InputError(f"The customer's {automatic / 100:g} % is better than that: it stays.")
                approved = self._approver(
                    approver_id, "discount_lower",
                    f"The customer's {automatic / 100:g} % is better than that: it stays. "
                    f"Replacing it needs {users.pin_words('discount_lower')}.", user_id=user_id) or approved
            NoteLine.update(discount_percent_bp=percent_bp, discount_cents=0 if percent_bp else cents,
                            discount_source="manual" if (percent_bp or cents) else "").where(
                NoteLine.id == line_id).execute()
            if percent_bp or cents or line.discount_percent_bp or line.discount_cents:   # each one, even small
                audit.record("line.discount", user_id=user_id, approved_by=approved,
                             register=self.register_code, note=note_id, sku=line.sku,
                             percent_bp=percent_bp, cents=cents)
            return self.line_view(line_id), self.summary(note_id)

    def override_price(self, note_id: int, line_id: int, price_cents: int, *, user_id: int | None = None,
                       approver_id: int | None = None) -> tuple[LineView, Summary]:
        if price_cents < 0:
            raise InputError("A price cannot be negative.")
        with db.atomic():
            self._note(note_id)
            line = self._line(note_id, line_id)
            approved = self._approver(approver_id, "price_override", user_id=user_id)
            NoteLine.update(unit_price_cents=price_cents, price_source="manual").where(NoteLine.id == line_id).execute()
            audit.record("line.price_override", user_id=user_id, approved_by=approved,
                         register=self.register_code, note=note_id, sku=line.sku,
                         from_cents=line.unit_price_cents, to_cents=price_cents)
            return self.line_view(line_id), self.summary(note_id)

    # ----------------------------------------------------------- park / resume / cancel

    def park_refusal(self, note_id: int) -> str | None:
        """Why this note cannot be parked, or None: F11 asks before it asks for a name."""
        if self.selling_offline:
            return OFFLINE_PARK
        if not NoteLine.select().where(NoteLine.note == note_id).exists():
            return "This note is empty: there is nothing to park."
        if self._paid(note_id):
            return "Payment has started on this note: finish it or cancel the payment first."
        return None

    def park(self, note_id: int, label: str = "", *, ready: bool = True) -> str:
        """Park the note under `label` (empty: the name it had, else "Note N").

        A web order parked by the cashier (F11) after they took it in hand is ready for pick-up: marked once
        (`ready_at`, the state the customer's account shows) and the customer is told once, when there is a
        way to reach them. One parked only because another note was resumed (`ready=False`) is not.
        Returns "" for a plain park, "ready" when the order became ready, "ready-told" when a message went."""
        if self.selling_offline:
            raise InputError(OFFLINE_PARK)
        with db.atomic():
            note = self._note(note_id)
            refusal = self.park_refusal(note_id)
            if refusal:
                raise InputError(refusal)
            Note.update(status="parked", label=label.strip() or note.label or f"Note {note.id}").where(
                Note.id == note_id).execute()
            if not (ready and note.sales_mode == "web" and note.customer_id):
                return ""
            if not Note.update(ready_at=utcnow()).where(Note.id == note_id, Note.ready_at.is_null()).execute():
                return ""
            audit.record("order.web_ready", register=self.register_code, note=note_id)
            if self.messaging is not None:
                from tui_pos.services import messaging
                if messaging.order_ready(note.customer_id, note_id):
                    return "ready-told"
            return "ready"

    def parked(self) -> list[ParkedNote]:
        parked = list(Note.select().where(Note.register == self.register_id, Note.status == "parked")
                      .order_by(Note.id))
        return [ParkedNote(n.id, n.label, n.opened_at, s.totals.line_count, s.totals.total_cents)
                for n in parked for s in [self.summary(n.id)]]

    def resume(self, note_id: int, current_note_id: int | None = None) -> int:
        """Bring a parked note back; the current one is parked (or dropped if empty)."""
        with db.atomic():
            note = Note.get_or_none(Note.id == note_id, Note.register == self.register_id)
            if note is None or note.status != "parked":
                raise InputError("That note is no longer parked.")
            if current_note_id is not None and current_note_id != note_id:
                current = Note.get_or_none(Note.id == current_note_id)
                if current is not None and current.status == "open":
                    if NoteLine.select().where(NoteLine.note == current.id).exists():
                        self.park(current.id, current.label, ready=False)
                    else:
                        current.delete_instance()
            Note.update(status="open").where(Note.id == note_id).execute()
            if note.sales_mode == "web":    # a web order (services/orders.py): the day's prices at the counter
                # and taken in hand: the customer sees "preparing" and can no longer cancel it from their account
                Note.update(taken_at=utcnow()).where(Note.id == note_id, Note.taken_at.is_null()).execute()
                record = notes.note(note_id)
                if record is not None:
                    notes.take_list_prices(note_id)
                    self._reprice(record)
            return note_id

    def cancel(self, note_id: int, *, user_id: int | None = None, approver_id: int | None = None) -> None:
        with db.atomic():
            note = self._note(note_id)
            s = self.summary(note_id)
            approved = self._approver(approver_id, "cancel_note", user_id=user_id)
            if s.paid_cents:
                raise PosError("Payment has started on this note; refund the payment before cancelling.")
            Note.update(status="cancelled", closed_at=utcnow(), total_cents=s.totals.total_cents).where(
                Note.id == note.id).execute()
            audit.record("note.cancel", user_id=user_id, approved_by=approved, register=self.register_code,
                         note=note_id, lines=s.totals.line_count, total_cents=s.totals.total_cents)
