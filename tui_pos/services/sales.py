"""Ringing up a note: lines, discounts, parking, payment, completion, receipts.

Every method is one transaction and returns plain data; a change is on disk
before the method returns, so the screen never shows what is not saved.

The register's hot statements are compiled once (models.prepared) and run
with new arguments; on PostgreSQL psycopg keeps them prepared on the server.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from peewee import SQL, Select, fn

from tui_pos.domain import pricing
from tui_pos.domain.codes import MAX_QTY, bad_check_digit, check_qty, parse_entry, parse_weighed
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.loyalty import Block as LoyaltyBlock
from tui_pos.domain.receipt import Receipt, ReceiptLine
from tui_pos.domain import customer as customer_rules
from tui_pos.models import (Customer, CustomerGroup, CustomerGroupMember, LoyaltyMovement, Note, NoteLine, Payment,
                            PointOfSale, PriceRate, PriceRateLine, Register, SpecificPrice, User, db, local_time,
                            utcnow)
from tui_pos.models.db import SQLITE_RETURNING, is_sqlite, update_returning
from tui_pos.models.prepared import Prepared, Ready, fetch_one, fetch_rows, fetch_scalar, inserted_id, prepared
from tui_pos.services import audit, catalog, customers, loyalty, prices, printing, users
from tui_pos.services.customers import CustomerView


class UnknownCode(InputError):
    """No product has the code scanned (it may still be a loyalty card)."""


@dataclass(frozen=True)
class LineView:
    """A note line as shown on the sale screen."""

    id: int
    sku: str
    name: str
    qty: int
    unit_price_cents: int
    list_price_cents: int
    discount_percent_bp: int
    discount_cents: int      # the discount actually applied to the line
    total_cents: int
    price_source: str = "retail"   # retail | rate | specific | manual | weighed: which price won
    discount_source: str = ""      # "" | manual | group
    offered_qty: int = 0           # units given for points

    @property
    def overridden(self) -> bool:
        return self.price_source == "manual"


@dataclass(frozen=True)
class Summary:
    """A note's totals against what has been paid."""

    note_id: int
    totals: pricing.Totals
    paid_cents: int

    @property
    def due_cents(self) -> int:
        return self.totals.total_cents - self.paid_cents


@dataclass(frozen=True)
class NoteView:
    """A whole note."""

    id: int
    status: str
    kind: str
    sales_mode: str
    label: str
    lines: tuple[LineView, ...]
    summary: Summary
    payments: tuple[tuple[str, int], ...]
    customer: "CustomerView | None" = None


@dataclass(frozen=True)
class ScanResult:
    """What a scan did: a line added or changed, or a customer attached by card."""

    line: LineView | None
    summary: Summary
    customer: "CustomerView | None" = None


@dataclass(frozen=True)
class ParkedNote:
    id: int
    label: str
    opened_at: object
    line_count: int
    total_cents: int


@dataclass(frozen=True)
class LastSale:
    receipt_no: str
    total_cents: int
    tenders: str
    cashier: str
    kind: str


@dataclass(frozen=True)
class PayResult:
    """After a payment: whether the sale completed, the change, the receipt."""

    summary: Summary
    completed: bool
    change_cents: int = 0
    receipt_no: str = ""
    cash_taken: bool = False
    next_note_id: int | None = None   # completing a sale opens the register's next note in its transaction


_LINE_FIELDS = (NoteLine.id, NoteLine.sku, NoteLine.name, NoteLine.qty, NoteLine.unit_price_cents,
                NoteLine.list_price_cents, NoteLine.tax_rate_bp, NoteLine.tax_included,
                NoteLine.discount_percent_bp, NoteLine.discount_cents, NoteLine.price_source,
                NoteLine.discount_source, NoteLine.offered_qty, NoteLine.reward_qty)


def _priced(row: tuple) -> pricing.PricedLine:
    return pricing.PricedLine(qty=row[3], unit_price_cents=row[4], tax_rate_bp=row[6],
                              tax_included=row[7], discount_percent_bp=row[8], discount_cents=row[9],
                              offered_qty=row[12] + row[13])


def _line_view(row: tuple) -> LineView:
    amounts = pricing.line_amounts(_priced(row))
    return LineView(id=row[0], sku=row[1], name=row[2], qty=row[3], unit_price_cents=row[4],
                    list_price_cents=row[5], discount_percent_bp=row[8],
                    discount_cents=amounts.discount_cents, total_cents=amounts.total_cents,
                    price_source=row[10], discount_source=row[11], offered_qty=row[12] + row[13])


# ---------------------------------------------------------------- hot statements (models/prepared.py)

_NOTE_COLUMNS = ("id", "register_id", "kind", "status", "sales_mode", "cashier_id", "label", "seq", "receipt_no",
                 "total_cents", "return_of_id", "customer_id", "tier_name", "tier_multiplier", "redeem_points",
                 "redeem_cents", "loyalty_before", "loyalty_used", "loyalty_earned", "loyalty_after")
_NOTE_FIELDS = [getattr(Note, name[:-3]) if name.endswith("_id") and name != "id" else getattr(Note, name)
                for name in _NOTE_COLUMNS]
_PLAIN = ((NoteLine.discount_percent_bp == 0) & (NoteLine.discount_cents == 0)
          & (NoteLine.tax_included == True) & (NoteLine.offered_qty == 0)  # noqa: E712
          & (NoteLine.reward_qty == 0))


def _note_query(a, *extra):
    paid = Payment.select(fn.COALESCE(fn.SUM(Payment.amount_cents), 0)).where(Payment.note == Note.id)
    count = Payment.select(fn.COUNT(Payment.id)).where(Payment.note == Note.id)
    offers = NoteLine.select(fn.COUNT(NoteLine.id)).where(
        NoteLine.note == Note.id, (NoteLine.offered_qty != 0) | (NoteLine.reward_qty != 0) | (NoteLine.reward_offer != ""))
    return Note.select(*_NOTE_FIELDS, paid, count, offers, *extra).where(Note.id == a)   # what the summary needs, at once


@prepared(1)
def _q_note(a):
    return _note_query(a)


@prepared(1)
def _q_note_and_balance(a):
    """The note, then its customer's points balance (NULL: no customer)."""
    return _note_query(a, Customer.select(Customer.points_balance).where(Customer.id == Note.customer))


@prepared(1)
def _q_note_and_program(a):
    """The note, then the loyalty program's version (id, updated_at; NULLs: no program): pay's first read,
    for the note the completion opens."""
    return _note_query(a, *loyalty.program_version_columns())


@prepared(2)
def _q_totals(a, b):
    """What a note's totals are made of, in one statement: its plain lines summed by tax rate, rows
    (0, count, -, -, qty, amount, -, tax rate, -...), and its other lines one by one, (1, *_LINE_FIELDS)."""
    null = SQL("NULL")
    groups = (NoteLine.select(SQL("0"), fn.COUNT(NoteLine.id), null, null, fn.SUM(NoteLine.qty),
                              fn.SUM(NoteLine.qty * NoteLine.unit_price_cents), null, NoteLine.tax_rate_bp,
                              null, null, null, null, null, null, null)
              .where(NoteLine.note == a, _PLAIN).group_by(NoteLine.tax_rate_bp))
    others = NoteLine.select(SQL("1"), *_LINE_FIELDS).where(NoteLine.note == b, ~_PLAIN)
    return groups + others   # UNION ALL


def _totals_parts(rows: list[tuple]) -> tuple[list, list]:
    """`_q_totals` rows as (priced other lines, summed plain groups)."""
    priced, groups = [], []
    for r in rows:
        if r[0] == 0:
            groups.append(pricing.PlainGroup(int(r[7]), int(r[1]), int(r[4]), int(r[5])))
        else:
            priced.append(_priced(r[1:]))
    return priced, groups


@prepared(1)
def _q_paid(a):
    return Payment.select(fn.COALESCE(fn.SUM(Payment.amount_cents), 0)).where(Payment.note == a)


@prepared(1)
def _q_line(a):
    return NoteLine.select(*_LINE_FIELDS).where(NoteLine.id == a)


@prepared(1)
def _q_lines(a):
    return NoteLine.select(*_LINE_FIELDS).where(NoteLine.note == a).order_by(NoteLine.id)


@prepared(2)
def _q_set_qty(line, qty):
    return NoteLine.update(qty=qty).where(NoteLine.id == line)


@prepared(2)
def _q_specific(product, today):
    return (SpecificPrice.select(fn.MIN(SpecificPrice.price_cents))
            .where(SpecificPrice.product == product,
                   (SpecificPrice.start_date.is_null()) | (SpecificPrice.start_date <= today),
                   (SpecificPrice.end_date.is_null()) | (SpecificPrice.end_date >= today)))


_NEW_LINE = ("note", "product", "sku", "name", "qty", "unit_price_cents", "price_source", "list_price_cents",
             "tax_rate_bp", "tax_included", "discount_percent_bp", "points_cost", "discount_source",
             "discount_cents", "offered_qty", "reward_qty", "reward_offer", "created_at")


@prepared(len(_NEW_LINE))
def _q_insert_line(*args):
    query = NoteLine.insert({getattr(NoteLine, name): arg for name, arg in zip(_NEW_LINE, args)})
    if SQLITE_RETURNING or not is_sqlite():
        query = query.returning(NoteLine.id)
    return query


@prepared(1)
def _q_payments(a):
    return Payment.select(Payment.tender, Payment.amount_cents).where(Payment.note == a).order_by(Payment.id)


@prepared(1)
def _q_current(register):
    return (Note.select(Note.id).where(Note.register == register, Note.status == "open", Note.kind == "sale")
            .order_by(Note.id.desc()).limit(1))


@prepared(1)
def _q_current_and_program(register):
    """The register's open note and the loyalty program's version, in one statement (a new note's)."""
    current = (Note.select(Note.id).where(Note.register == register, Note.status == "open", Note.kind == "sale")
               .order_by(Note.id.desc()).limit(1))
    return Select(columns=[current, *loyalty.program_version_columns()])


_NEW_NOTE = ("register", "kind", "status", "sales_mode", "cashier", "label", "opened_at", "total_cents",
             "tier_name", "tier_multiplier", "redeem_points", "redeem_cents")


@prepared(len(_NEW_NOTE))
def _q_insert_note(*args):
    query = Note.insert({getattr(Note, n): a for n, a in zip(_NEW_NOTE, args)})
    if SQLITE_RETURNING or not is_sqlite():
        query = query.returning(Note.id)
    return query


_CUSTOMER_PRICING = ("id", "code", "name", "status", "price_rate_id", "points_earned", "points_balance")


@prepared(1)
def _q_customer(a):
    return Customer.select(Customer.id, Customer.code, Customer.name, Customer.status, Customer.price_rate,
                           Customer.points_earned, Customer.points_balance).where(Customer.id == a)


@dataclass(frozen=True)
class PricingCustomer:
    """What pricing a note reads of its customer."""

    id: int
    code: str
    name: str
    status: str
    price_rate_id: int | None
    points_earned: int
    points_balance: int


def _customer(customer_id: int) -> PricingCustomer | None:
    row = _q_customer.one(customer_id)
    return PricingCustomer(**dict(zip(_CUSTOMER_PRICING, row))) if row is not None else None


@prepared(1)
def _q_group_discounts(customer):
    return (CustomerGroup.select(CustomerGroup.discount_bp).join(CustomerGroupMember)
            .where(CustomerGroupMember.customer == customer))


@prepared(5)
def _q_attach(note, customer, tier_name, tier_multiplier, zero):
    return Note.update(customer=customer, tier_name=tier_name, tier_multiplier=tier_multiplier,
                       redeem_points=zero, redeem_cents=zero).where(Note.id == note)


@prepared(1)
def _q_clear_offers(note):
    return NoteLine.update(offered_qty=0, reward_qty=0, reward_offer="").where(NoteLine.note == note)


@prepared(2)
def _q_reprice_lines(note, today):
    """Every line of the note as the screen shows it (`_LINE_FIELDS`), then its product and today's
    specific price: what repricing reads, and the note's lines afterwards without reading them again."""
    return (NoteLine.select(*_LINE_FIELDS, NoteLine.product, prices.specific_price_of(NoteLine.product, today))
            .where(NoteLine.note == note).order_by(NoteLine.id))


@prepared(6)
def _q_reprice(line, price, price_source, percent, cents, discount_source):
    return NoteLine.update(unit_price_cents=price, price_source=price_source, discount_percent_bp=percent,
                           discount_cents=cents, discount_source=discount_source).where(NoteLine.id == line)


_DISCOUNT_PART = 512   # lines per UPDATE: 515 bound values, within any SQLite's limit (999)
_q_discounts: dict[int, Prepared] = {}


def _q_discount_lines(size: int) -> Prepared:
    """UPDATE of the automatic discount of `size` lines (percent, cents, source, then the line ids).

    Built once per size, and F2 uses only powers of two (padding with the last id), so at most ten
    statements: building an UPDATE with peewee each time cost about 0.4 ms, a sixth of a sale's CPU."""
    q = _q_discounts.get(size)
    if q is None:
        q = _q_discounts[size] = Prepared(
            lambda percent, cents, source, *ids: NoteLine.update(
                discount_percent_bp=percent, discount_cents=cents, discount_source=source).where(
                NoteLine.id.in_(list(ids))), 3 + size)
    return q


@prepared(3)
def _q_redeem(note, points, cents):
    return Note.update(redeem_points=points, redeem_cents=cents).where(Note.id == note)


_NEW_PAYMENT = ("note", "tender", "amount_cents", "created_at", "request_id")


@prepared(len(_NEW_PAYMENT))
def _q_insert_payment(*args):
    return Payment.insert({getattr(Payment, n): a for n, a in zip(_NEW_PAYMENT, args)}).as_rowcount()


@prepared(1)
def _q_by_request(request_id):
    return Payment.select(Payment.id).where(Payment.request_id == request_id)


@prepared(1)
def _q_next_seq(register):
    return (Register.update(next_seq=Register.next_seq + 1).where(Register.id == register)
            .returning(Register.next_seq))


@prepared(7)
def _q_close(note, status, seq, receipt_no, closed_at, total, cashier):
    return Note.update(status=status, seq=seq, receipt_no=receipt_no, closed_at=closed_at,
                       total_cents=total, cashier=cashier).where(Note.id == note)


@prepared(11)
def _q_close_with_block(note, status, seq, receipt_no, closed_at, total, cashier, before, used, earned, after):
    return Note.update(status=status, seq=seq, receipt_no=receipt_no, closed_at=closed_at, total_cents=total,
                       cashier=cashier, loyalty_before=before, loyalty_used=used, loyalty_earned=earned,
                       loyalty_after=after).where(Note.id == note)


@prepared(2)
def _q_visit(customer, at):
    return (Customer.update(last_visit_at=at, visits=Customer.visits + 1).where(Customer.id == customer)
            .returning(Customer.visits))


_UNREAD = object()   # a specific price not looked up yet


class NoteRow:
    """A note as the hot path reads it (`_q_note`): its columns, as on Note, and what was counted with it.

    A plain object: making a peewee Model costs more than the statement that reads it (its
    fields' defaults and descriptors), and a note is read at every step of a sale.
    """

    __slots__ = _NOTE_COLUMNS + ("paid_now", "payments_now", "offer_lines_now", "balance", "program_version")

    def __init__(self, row: tuple, *, extra: str = "") -> None:
        """`extra`: what the statement read after the counts: "balance" (`_q_note_and_balance`),
        "program" (`_q_note_and_program`), or nothing."""
        for name, value in zip(_NOTE_COLUMNS, row):
            setattr(self, name, value)
        n = len(_NOTE_COLUMNS)
        paid, payments, offers, *rest = row[n:]
        self.paid_now = int(paid or 0)   # payments when read (this transaction adds none before use)
        self.payments_now = int(payments or 0)
        self.offer_lines_now = int(offers or 0)   # lines with units offered or rewarded
        self.balance: int | None = rest[0] if extra == "balance" else None   # the customer's points
        self.program_version: tuple | None = tuple(rest) if extra == "program" else None   # (id, updated_at)


def _note_from_row(row: tuple) -> NoteRow:
    return NoteRow(row)


class SaleService:
    """The register's note workflow, bound to one register."""

    def __init__(self, register_code: str, *, point_of_sale: str = "main", store_name: str = "",
                 default_mode: str = "counter", sales_modes: list[str] | None = None,
                 max_discount_bp: int = 1000, tenders: list[str] | None = None,
                 header: list[str] | None = None, footer: list[str] | None = None,
                 stack_discounts: bool = False, block_defaulters: bool = False,
                 loyalty_block: str = "used", weighed_prefixes: list[str] | None = None,
                 weighed_layout: str = "PPIIIIIVVVVVC", weighed_value: str = "price",
                 print_queue: bool = False, messaging=None, rate_and_special: str = "best") -> None:
        self.register_code = register_code
        self.rate_and_special = rate_and_special
        self.point_of_sale = point_of_sale
        self.store_name = store_name or point_of_sale
        self.default_mode = default_mode
        self.sales_modes = sales_modes or [default_mode]
        self.max_discount_bp = max_discount_bp
        self.tenders = tenders or ["cash", "card"]
        self.header = tuple(header or ())
        self.footer = tuple(footer or ())
        self.stack_discounts = stack_discounts
        self.block_defaulters = block_defaulters
        self.loyalty_block = loyalty_block
        self.weighed_prefixes = list(weighed_prefixes or [])
        self.weighed_layout = weighed_layout
        self.weighed_value = weighed_value
        self.print_queue = print_queue   # completing a note queues its receipt in the same transaction
        self.messaging = messaging       # services.messaging.Settings: triggers write outbox rows in the sale
        self._register_id: int | None = None

    # ----------------------------------------------------------- plumbing

    @property
    def register_id(self) -> int:
        """This register's row, created with its point of sale on first use."""
        if self._register_id is None:
            # registers starting together on a new store: the first insert wins, the others find its row
            # (no failed INSERT, so no error in the server's log and no savepoint to roll back)
            with db.atomic():
                pos = PointOfSale.get_or_none(PointOfSale.code == self.point_of_sale)
                if pos is None:
                    PointOfSale.insert(code=self.point_of_sale, name=self.store_name).on_conflict_ignore().execute()
                    pos = PointOfSale.get(PointOfSale.code == self.point_of_sale)
                reg = Register.get_or_none(Register.code == self.register_code)
                if reg is None:
                    Register.insert(code=self.register_code, point_of_sale=pos.id).on_conflict_ignore().execute()
                    reg = Register.get(Register.code == self.register_code)
                self._register_id = reg.id
        return self._register_id

    def _note(self, note_id: int, *, editable: bool = True) -> NoteRow:
        return self._checked(fetch_one(_q_note.send(note_id)), editable=editable)

    def _checked(self, row: tuple | None, *, editable: bool = True, extra: str = "") -> NoteRow:
        """The note read by `_q_note` (or one of its variants: `extra`), if it is this register's (and open,
        when `editable`)."""
        note = NoteRow(row, extra=extra) if row else None
        if note is None or note.register_id != self.register_id:
            raise PosError("That note is not on this register.")
        if editable and note.status != "open":
            raise PosError(f"This note is {note.status}; open a new one to go on selling.")
        return note

    def _line(self, note_id: int, line_id: int) -> NoteLine:
        line = NoteLine.get_or_none(NoteLine.id == line_id, NoteLine.note == note_id)
        if line is None:
            raise InputError("Pick a line first (Up/Down).")
        return line

    def _paid(self, note_id: int) -> int:
        return int(_q_paid.scalar(note_id) or 0)

    def _approver(self, approver_id: int | None, action: str, message: str | None = None, *,
                  user_id: int | None = None) -> int | None:
        """Who approves `action` (the `[permissions]` table); NeedsManager when somebody must."""
        return users.approve(action, approver_id, message, user_id=user_id)

    def _summary_parts(self, note_id: int, note: Note | None = None) -> tuple[list, list, int, int]:
        """What a note's totals are made of: priced lines, summed plain groups, money off with points, paid.

        `note`: the note as the caller read it in this transaction (its money off and payments).
        """
        priced, groups = _totals_parts(_q_totals.rows(note_id, note_id))
        if note is None:
            note = _note_from_row(_q_note.one(note_id))
        return priced, groups, note.redeem_cents or 0, note.paid_now

    def summary(self, note_id: int, note: Note | None = None) -> Summary:
        """Totals of a note: plain lines summed by the database, the rest priced here."""
        priced, groups, redeemed, paid = self._summary_parts(note_id, note)
        return Summary(note_id, pricing.note_totals(priced, groups, redeemed), paid)

    @staticmethod
    def _send_summary(note_id: int) -> tuple:
        """`summary` sent (in a batch, after the writes it must see); `_read_summary` reads it."""
        return note_id, _q_totals.send(note_id, note_id)

    @staticmethod
    def _read_summary(sent: tuple, note: Note) -> Summary:
        """`note`: the note as read in the same transaction (its money off and payments)."""
        note_id, totals_cursor = sent
        priced, groups = _totals_parts(fetch_rows(totals_cursor))
        return Summary(note_id, pricing.note_totals(priced, groups, note.redeem_cents or 0), note.paid_now)

    def view(self, note_id: int, *, note: Note | None = None) -> NoteView:
        """The note as the screen shows it (`note`: the row already read and updated in this transaction)."""
        if note is None:
            note = self._note(note_id, editable=False)
        return self._read_view(self._send_view(note))

    @staticmethod
    def _send_view(note: Note) -> tuple:
        """`view` sent (in a batch, after the writes it must see); `_read_view` reads it."""
        return (note, _q_lines.send(note.id), _q_payments.send(note.id) if note.payments_now else None,
                customers.send_view(note.customer_id) if note.customer_id else None)

    @staticmethod
    def _read_view(sent: tuple) -> NoteView:
        note, sent_lines, sent_payments, sent_customer = sent
        rows = fetch_rows(sent_lines)
        totals = pricing.note_totals([_priced(r) for r in rows], (), note.redeem_cents)
        payments = tuple(fetch_rows(sent_payments)) if sent_payments is not None else ()
        return NoteView(note.id, note.status, note.kind, note.sales_mode, note.label,
                        tuple(_line_view(r) for r in rows),
                        Summary(note.id, totals, sum(p[1] for p in payments)), payments,
                        customers.read_view(sent_customer) if sent_customer is not None else None)

    def line_view(self, line_id: int) -> LineView:
        return _line_view(_q_line.one(line_id))

    # ----------------------------------------------------------- notes

    def current_note(self) -> int | None:
        """The open note of this register (after a crash: the one being rung up)."""
        return _q_current.scalar(self.register_id)

    def open_note(self, cashier_id: int | None = None) -> int:
        """The open note, or a new one. A new note reads the loyalty program's version afresh,
        so a change made on any register takes effect on the next note here.

        An open note with no line yet becomes `cashier_id`'s (the one signed in now); one with lines keeps
        who rang it up until it is paid, when it becomes the paying cashier's."""
        register_id = self.register_id
        with db.atomic():
            row = fetch_one(_q_current_and_program.send(register_id))
            existing = row[0]
            if existing is None:
                new = _q_insert_note.send(register_id, "sale", "open", self.default_mode, cashier_id, "",
                                          utcnow(), 0, "", "1", 0, 0)
        loyalty.take_program_row(row[1:])
        if existing is not None and cashier_id is not None:
            with db.atomic():
                if not NoteLine.select().where(NoteLine.note == existing).exists():
                    Note.update(cashier=cashier_id).where(Note.id == existing, Note.status == "open").execute()
        return existing if existing is not None else inserted_id(new)

    def set_sales_mode(self, note_id: int, mode: str) -> None:
        if mode not in self.sales_modes:
            raise InputError(f"Unknown sales mode {mode!r}: use one of {', '.join(self.sales_modes)}.")
        with db.atomic():
            note = self._note(note_id)
            Note.update(sales_mode=mode).where(Note.id == note.id).execute()

    # ----------------------------------------------------------- lines

    def add_item(self, note_id: int, text: str) -> tuple[LineView, Summary]:
        """Add what was typed or scanned (`CODE` or `N*CODE`).

        Scanning a product already on the note (at a price and discount the
        cashier has not changed) raises that line's quantity instead of adding
        a new line. A new line is priced for the note's customer (seed 003).
        """
        entry = parse_entry(text)
        with db.atomic():
            sent_note = _q_note.send(note_id)
            found = catalog.send_find(entry.code, note_id)
            note = self._checked(fetch_one(sent_note))
            product = catalog.read_find(found)
            weighed = None
            if product is None:
                weighed = parse_weighed(entry.code, self.weighed_prefixes, self.weighed_layout, self.weighed_value)
                if weighed is not None:
                    if bad_check_digit(entry.code):
                        raise InputError(f"{entry.code} was misread (wrong check digit): scan it again.")
                    product = catalog.find_by_code(weighed.plu) or catalog.find_by_code(weighed.plu.lstrip("0"))
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
            if weighed is not None:
                # its own line: each label has its own price or weight, and no rate replaces it
                price = weighed.price_cents(product.price_cents)
                context = self._customer_pricing(note)
                line_id = NoteLine.create(
                    note=note_id, product=product.id, sku=product.sku, name=weighed.label(product.name),
                    qty=entry.qty, unit_price_cents=price, price_source="weighed", list_price_cents=price,
                    tax_rate_bp=product.tax_rate_bp, tax_included=product.tax_included,
                    discount_percent_bp=context[1], points_cost=None,
                    discount_source="group" if context[1] else "").id
                return self.line_view(line_id), self.summary(note_id)
            same = product.same_line
            if same is not None:
                qty = same[1] + entry.qty
                if qty > MAX_QTY:
                    raise InputError(f"{product.name} would reach {qty}; a line holds at most {MAX_QTY}.")
                _q_set_qty.send(same[0], qty)
                sent_line = _q_line.send(same[0])
                sent_summary = self._send_summary(note_id)
                new_line = None
            else:
                context = self._customer_pricing(note)
                choice = self._price(product.id, product.price_cents, context,
                                     product.specific_cents)
                source = "group" if context[1] else ""
                sent_line = _q_insert_line.send(
                    note_id, product.id, product.sku, product.name, entry.qty, choice.price_cents, choice.source,
                    product.price_cents, product.tax_rate_bp, bool(product.tax_included), context[1],
                    product.points_cost, source, 0, 0, 0, "", utcnow())
                sent_summary = self._send_summary(note_id)
                new_line = (product.sku, product.name, entry.qty, choice.price_cents, product.price_cents,
                            product.tax_rate_bp, bool(product.tax_included), context[1], 0, choice.source, source,
                            0, 0)
        if new_line is None:
            line = _line_view(fetch_one(sent_line))
        else:
            line = _line_view((inserted_id(sent_line), *new_line))
        return line, self._read_summary(sent_summary, note)

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

    # ----------------------------------------------------------- customers and prices

    def _customer_pricing(self, note: Note, customer: PricingCustomer | None = None,
                          group_discounts: list[int] | None = None) -> tuple[int | None, int]:
        """(the customer's valid rate id or None, the automatic group discount in bp).

        `group_discounts`: the customer's groups' discounts when the caller read them."""
        if not note.customer_id:
            return None, 0
        if customer is None or customer.id != note.customer_id:
            customer = _customer(note.customer_id)
        rate_id = None
        if customer.price_rate_id:
            today = _dt.date.today()
            rate = PriceRate.get_by_id(customer.price_rate_id)
            if rate.active and (rate.start_date is None or rate.start_date <= today) and (
                    rate.end_date is None or today <= rate.end_date):
                rate_id = rate.id
        discounts = list(group_discounts) if group_discounts is not None else [
            d for (d,) in _q_group_discounts.rows(customer.id)]
        discounts.append(loyalty.tier_of(customer.points_earned).discount_bp)
        return rate_id, customer_rules.group_discount_bp([d for d in discounts if d], self.stack_discounts)

    def _price(self, product_id: int, retail_cents: int, context: tuple[int | None, int],
               specific: object = _UNREAD) -> customer_rules.PriceChoice:
        """The line's price: `specific` is today's specific price when the caller read it already
        (None: there is none), else `_UNREAD`."""
        rate_id = context[0]
        rate_cents = None
        if rate_id is not None:
            line = PriceRateLine.get_or_none(PriceRateLine.rate == rate_id, PriceRateLine.product == product_id)
            if line is not None:
                rate_cents = customer_rules.rate_price(retail_cents, line.price_cents, line.discount_bp)
        if specific is _UNREAD and (rate_cents is None or self.rate_and_special == "best"):
            specific = _q_specific.scalar(product_id, _dt.date.today())
        return customer_rules.best_price(retail_cents, rate_cents=rate_cents,
                                         specific_cents=None if specific is _UNREAD else specific,
                                         rate_and_special=self.rate_and_special)

    def _reprice(self, note: Note, customer: PricingCustomer | None = None, *, group_discounts: list[int] | None = None,
                 lines: list[tuple] | None = None, offers_cleared: bool = False) -> list[tuple]:
        """Prices and automatic discounts of every line again (a customer came or went).

        `group_discounts`, `lines`: what `_q_group_discounts` and `_q_reprice_lines` read, when the caller
        sent them already (a batch). Returns the lines as they are now (`_LINE_FIELDS` rows; with
        `offers_cleared`, no unit offered or rewarded)."""
        context = self._customer_pricing(note, customer, group_discounts)
        if lines is None:
            lines = _q_reprice_lines.rows(note.id, _dt.date.today())
        out = []
        discounted: dict[tuple, list[int]] = {}   # (percent, cents, source) -> lines whose price stays
        for row in lines:
            (lid, sku, name, qty, price, list_price, tax_rate, tax_included, percent, cents, price_source,
             discount_source, offered, reward, product_id, specific) = row
            if offers_cleared:
                offered = reward = 0
            if product_id is None:   # not a catalogue product: nothing to reprice
                out.append((lid, sku, name, qty, price, list_price, tax_rate, tax_included, percent, cents,
                            price_source, discount_source, offered, reward))
                continue
            now = (price, price_source, percent, cents, discount_source)
            new_price, new_source = price, price_source
            if price_source not in ("manual", "weighed"):
                choice = self._price(product_id, list_price, context, specific)
                new_price, new_source = choice.price_cents, choice.source
            new_percent, new_cents, new_dsource = percent, cents, discount_source
            if discount_source != "manual":
                new_percent, new_cents, new_dsource = context[1], 0, "group" if context[1] else ""
            wanted = (new_price, new_source, new_percent, new_cents, new_dsource)
            if wanted[:2] != now[:2]:
                _q_reprice.send(lid, *wanted)
            elif wanted != now:   # the automatic discount alone: one UPDATE for all such lines, below
                discounted.setdefault(wanted[2:], []).append(lid)
            out.append((lid, sku, name, qty, new_price, list_price, tax_rate, tax_included, new_percent, new_cents,
                        new_source, new_dsource, offered, reward))
        for (percent, cents, source), ids in discounted.items():
            for i in range(0, len(ids), _DISCOUNT_PART):
                part = ids[i:i + _DISCOUNT_PART]
                size = 1 << (len(part) - 1).bit_length()
                # sent, not counted: a row count would wait for the server in the middle of the batch
                _q_discount_lines(size).send(percent, cents, source, *part, *[part[-1]] * (size - len(part)))
        return out

    def attach_customer(self, note_id: int, customer_id: int) -> NoteView:
        """Attach a customer and reprice the note by their rate and groups."""
        with db.atomic():
            # what is read depends only on the arguments: sent at once, the customer as the panel shows them
            sent_note = _q_note.send(note_id)
            sent_customer = customers.send_view(customer_id)
            sent_lines = _q_reprice_lines.send(note_id, _dt.date.today())
            note = self._checked(fetch_one(sent_note))
            shown, rate_id, group_discounts = customers.read_view_for_pricing(sent_customer)
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
            _q_attach.send(note_id, customer_id, tier.name, str(tier.multiplier), 0)
            if note.offer_lines_now:
                _q_clear_offers.send(note_id)
            note.customer_id = customer_id
            rows = self._reprice(note, customer, group_discounts=group_discounts, lines=fetch_rows(sent_lines),
                                 offers_cleared=bool(note.offer_lines_now))
            note.redeem_points = note.redeem_cents = 0
            sent_again = customers.send_view(customer_id) if expired else None
            sent_payments = _q_payments.send(note_id) if note.payments_now else None
        if sent_again is not None:
            shown = customers.read_view(sent_again)
        payments = tuple(fetch_rows(sent_payments)) if sent_payments is not None else ()
        totals = pricing.note_totals([_priced(r) for r in rows], (), 0)
        return NoteView(note.id, note.status, note.kind, note.sales_mode, note.label,
                        tuple(_line_view(r) for r in rows),
                        Summary(note.id, totals, sum(p[1] for p in payments)), payments, shown)

    def detach_customer(self, note_id: int) -> NoteView:
        with db.atomic():
            note = self._note(note_id)
            if self._paid(note_id):
                raise InputError("Payment has started on this note: the customer cannot change now.")
            Note.update(customer=None, tier_name="", tier_multiplier="1", redeem_points=0, redeem_cents=0).where(
                Note.id == note_id).execute()
            NoteLine.update(offered_qty=0, reward_qty=0, reward_offer="").where(NoteLine.note == note_id).execute()
            note.customer_id = None
            self._reprice(note)
            return self.view(note_id)

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

    # ----------------------------------------------------------- loyalty at the register

    def loyalty(self, note_id: int) -> "loyalty.NoteLoyalty | None":
        """Balance, tier and what the note will earn (None without customer or program)."""
        return loyalty.note_loyalty(self._note(note_id, editable=False), self.point_of_sale)

    def loyalty_required(self, note_id: int) -> "loyalty.NoteLoyalty":
        """The note's loyalty state, or InputError saying what is missing (no customer, no program)."""
        return self._loyalty_state(self._note(note_id))

    def _loyalty_state(self, note: Note, earn: tuple | None = None, balance: int | None = None) -> "loyalty.NoteLoyalty":
        if not note.customer_id:
            raise InputError("Attach a customer first (F2): points belong to a customer.")
        state = loyalty.note_loyalty(note, self.point_of_sale, earn=earn, balance=balance)
        if state is None:
            raise InputError("No loyalty program yet: import one with `tui-pos import loyalty FILE.toml`.")
        return state

    def redeem(self, note_id: int, points: int | None = None, *, preset: int | None = None) -> Summary:
        """F4: money off with points. None redeems the most allowed; `preset` is 1-9; 0 points removes it.

        Checked against the balance now; debited when the sale completes (in its transaction).
        """
        with db.atomic():
            sent_note = _q_note_and_balance.send(note_id)
            sent_earn = loyalty.send_earn_lines(note_id)
            note = self._checked(fetch_one(sent_note), extra="balance")
            earn = loyalty.read_earn_lines(sent_earn)
            balance = note.balance
            state = self._loyalty_state(note, earn if note.customer_id else None, balance)
            prog = state.program
            priced, groups, paid = [loyalty.priced(r) for r in earn[1]], [], note.paid_now   # the same rows
            if paid:
                raise InputError("Payment has started on this note: points can no longer be redeemed.")
            total = pricing.note_totals(priced, groups, 0).total_cents  # without any redemption
            balance = state.balance - state.offered_points
            if points == 0:
                _q_redeem.send(note_id, 0, 0)
                return Summary(note_id, pricing.note_totals(priced, groups, 0), paid)
            if preset is not None:
                if not 1 <= preset <= len(prog.presets):
                    raise InputError(f"There is no preset {preset}: the program has {len(prog.presets)}.")
                chosen = prog.presets[preset - 1]
                points, value = chosen.points, chosen.value_cents
                problem = prog.check_redemption(points, value, balance, total)
                if problem and not problem.startswith("Points are redeemed in steps"):
                    raise InputError(problem)
            else:
                if points is None:
                    points = prog.most_redeemable(balance, total)
                    if not points:
                        raise InputError(f"Nothing to redeem: {balance} points available, at least {prog.minimum} "
                                         "needed, within the note's total.")
                value = prog.value_of(points)
                problem = prog.check_redemption(points, value, balance, total)
                if problem:
                    raise InputError(problem)
            _q_redeem.send(note_id, points, value)
            return Summary(note_id, pricing.note_totals(priced, groups, value), paid)

    def offer_lines(self, note_id: int) -> list["loyalty.OfferLine"]:
        return loyalty.offer_lines(note_id)

    def can_offer(self, note_id: int) -> bool:
        """The Offer tab opens on F10: a line the customer can afford, and no payment taken yet (once
        payment has started, `set_offers` refuses, so the tab would only be in the way)."""
        if self._paid(note_id):
            return False
        return loyalty.can_offer(self._note(note_id, editable=False), self.point_of_sale)

    def reward_lines(self, note_id: int) -> list:
        """Lines that can be given as stamp-offer rewards the customer holds."""
        note = self._note(note_id, editable=False)
        if not note.customer_id:
            return []
        from tui_pos.services import stamps
        return stamps.reward_lines(note_id, note.customer_id, loyalty.program())

    def set_offers(self, note_id: int, offered: dict[int, int], rewards: dict[int, int] | None = None) -> Summary:
        """The Offer tab's Enter: units of each line given for points, and as stamp rewards."""
        with db.atomic():
            note = self._note(note_id)
            state = self._loyalty_state(note)
            if self._paid(note_id):
                raise InputError("Payment has started on this note: nothing more can be offered.")
            if rewards:
                from tui_pos.services import stamps
                NoteLine.update(reward_qty=0, reward_offer="").where(NoteLine.note == note_id).execute()
                stamps.set_rewards(note_id, note.customer_id, state.program, rewards)
            for line_id, qty in offered.items():
                free = NoteLine.select(NoteLine.qty - NoteLine.reward_qty).where(NoteLine.id == line_id).scalar()
                if free is not None and qty > free:
                    raise InputError("A unit cannot be both offered for points and given as a reward.")
            lines = {ln.line_id: ln for ln in loyalty.offer_lines(note_id)}
            for line_id, qty in offered.items():
                line = lines.get(line_id)
                if line is None:
                    raise InputError("That line cannot be offered (its product has no points cost).")
                if not 0 <= qty <= line.qty:
                    raise InputError(f"{line.name}: offer from 0 to {line.qty} units.")
            # every offered unit of the note counts, not only the lines being changed
            cost = sum(offered.get(ln.line_id, ln.offered_qty) * ln.points_cost for ln in lines.values())
            if cost + state.redeem_points > state.balance:
                raise InputError(f"That costs {cost} points; the customer has {state.balance - state.redeem_points} "
                                 "available.")
            for line_id, qty in offered.items():
                NoteLine.update(offered_qty=qty).where(NoteLine.id == line_id).execute()
            if state.redeem_points:
                # the note got cheaper: keep the redemption within it
                total = pricing.note_totals([_priced(r) for r in NoteLine.select(*_LINE_FIELDS).where(
                    NoteLine.note == note_id).tuples()]).total_cents
                if state.redeem_cents > total:
                    Note.update(redeem_points=0, redeem_cents=0).where(Note.id == note_id).execute()
            return self.summary(note_id)

    # ----------------------------------------------------------- park / resume / cancel

    def park_refusal(self, note_id: int) -> str | None:
        """Why this note cannot be parked, or None: F11 asks before it asks for a name."""
        if not NoteLine.select().where(NoteLine.note == note_id).exists():
            return "This note is empty: there is nothing to park."
        if self._paid(note_id):
            return "Payment has started on this note: finish it or cancel the payment first."
        return None

    def park(self, note_id: int, label: str = "") -> None:
        with db.atomic():
            note = self._note(note_id)
            refusal = self.park_refusal(note_id)
            if refusal:
                raise InputError(refusal)
            Note.update(status="parked", label=label.strip() or f"Note {note.id}").where(
                Note.id == note_id).execute()

    def parked(self) -> list[ParkedNote]:
        notes = list(Note.select().where(Note.register == self.register_id, Note.status == "parked")
                     .order_by(Note.id))
        return [ParkedNote(n.id, n.label, n.opened_at, s.totals.line_count,
                           s.totals.total_cents)
                for n in notes for s in [self.summary(n.id)]]

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
                        self.park(current.id, current.label)
                    else:
                        current.delete_instance()
            Note.update(status="open").where(Note.id == note_id).execute()
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

    # ----------------------------------------------------------- payment

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
            sent_taken = _q_by_request.send(request_id) if request_id is not None else None
            # the program's version comes with the note: the next note, opened below, sees it afresh
            sent_note = _q_note_and_program.send(note_id)
            sent_earn = loyalty.send_earn_lines(note_id)   # every line: the totals, and what loyalty reads
            if sent_taken is not None:
                taken = fetch_one(sent_taken)
                if taken is not None:
                    return self._taken(Payment.get_by_id(taken[0]))
            note = self._checked(fetch_one(sent_note), extra="program")
            if user_id is not None:
                note.cashier_id = user_id    # the sale is the one's who is signed in when it is paid
            earn = loyalty.read_earn_lines(sent_earn)
            loyalty.take_program_row(note.program_version)
            s = Summary(note_id, pricing.note_totals([loyalty.priced(r) for r in earn[1]], (), note.redeem_cents),
                        note.paid_now)
            if not (note.customer_id and note.kind == "sale"):
                earn = None
            if s.totals.line_count == 0:
                raise InputError("The note is empty: scan something first.")
            if note.customer_id and not s.paid_cents:
                customer = Customer.get_by_id(note.customer_id)
                if customer.status == "closed":
                    # closed (or forgotten) while on this note: never sell on to them silently
                    who = customer.name or customer.code
                    if not users.users_exist():
                        raise InputError(f"{who} was closed while on this note: remove them (F2, Ctrl+R) "
                                         "before paying.")
                    approved = self._approver(approver_id, "closed_customer",
                                              f"{who} was closed while on this note: "
                                              f"{users.pin_words('closed_customer')} keeps them on this sale; "
                                              "or Escape, then F2 and Ctrl+R to remove them.", user_id=user_id)
                    audit.record("sale.closed_customer_kept", approved_by=approved, register=self.register_code,
                                 note=note_id, customer=customer.code)
            if self.block_defaulters and note.customer_id and not s.paid_cents:
                customer = Customer.get_by_id(note.customer_id)
                if customer.payment_status == 2:
                    approved = self._approver(approver_id, "defaulter",
                                              f"{customer.name or customer.code} is a defaulter: "
                                              f"taking their payment needs {users.pin_words('defaulter')}.",
                                              user_id=user_id)
                    if approved is not None:
                        audit.record("sale.defaulter_approved", approved_by=approved, register=self.register_code,
                                     note=note_id, customer=customer.code)
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
                _q_insert_payment.send(note_id, tender, amount_cents, utcnow(), request_id)
            settlement = pricing.Settlement(s.totals.total_cents, s.paid_cents + amount_cents)
            summary = Summary(note_id, s.totals, settlement.paid_cents)
            if not settlement.complete:
                return PayResult(summary, completed=False, cash_taken=tender == "cash")
            # the drawer opens when cash was taken: this payment, or an earlier one of the note
            cash = tender == "cash" and bool(amount_cents or request_id) or bool(s.paid_cents) and Payment.select().where(
                Payment.note == note_id, Payment.tender == "cash").exists()
            receipt_no = self._close(note, s.totals.total_cents, cash=cash, earn=earn)
            # the register's next note, in the same transaction: the screen goes on with it (the sale
            # screen would open one now anyway), and a crash after the commit finds it open
            sent_next = _q_insert_note.send(self.register_id, "sale", "open", self.default_mode, note.cashier_id,
                                            "", utcnow(), 0, "", "1", 0, 0) if note.kind == "sale" else None
        return PayResult(summary, completed=True, change_cents=settlement.change_cents, receipt_no=receipt_no,
                         cash_taken=cash, next_note_id=inserted_id(sent_next) if sent_next is not None else None)

    def _taken(self, payment: Payment) -> PayResult:
        """The outcome of a payment already taken (a retry of the same request)."""
        note = Note.get_by_id(payment.note_id)
        summary = self.summary(note.id)
        if note.status != "paid":
            return PayResult(summary, completed=False, cash_taken=payment.tender == "cash")
        cash = Payment.select().where(Payment.note == note.id, Payment.tender == "cash").exists()
        change = pricing.Settlement(summary.totals.total_cents, summary.paid_cents).change_cents
        # the note the completion opened (the register's open one: the cashier could not go on without it)
        next_note = self.current_note() if note.kind == "sale" else None
        return PayResult(summary, completed=True, change_cents=change, receipt_no=note.receipt_no, cash_taken=cash,
                         next_note_id=next_note)

    def _close(self, note: Note, total_cents: int, *, cash: bool | None = None, earn=None) -> str:
        """Give the note the register's next receipt number and close it (in a transaction).

        A sale's loyalty movements are written first (they carry the receipt
        number), then one UPDATE closes the note with its loyalty block.
        `earn`: the note's lines as loyalty reads them, when the caller has them.
        """
        # sent first, read together: the receipt number, the visit, and every balance UPDATE of the sale
        returning = SQLITE_RETURNING or not is_sqlite()
        if returning:
            sent_seq = _q_next_seq.send(self.register_id)
        else:
            sent_seq = Ready(update_returning(Register, {Register.next_seq: Register.next_seq + 1},
                                              Register.id == self.register_id, Register.next_seq))
        now = utcnow()
        block = None
        sent_settle = sent_visits = None
        if note.customer_id and note.kind == "sale":
            # `note` was read in this transaction; nothing settle reads has changed since. With a
            # program, one UPDATE of the customer counts the visit and moves the points
            sent_settle = loyalty.send_settle(note, point_of_sale=self.point_of_sale, earn=earn, visit_at=now)
            if sent_settle is None:
                if returning:
                    sent_visits = _q_visit.send(note.customer_id, now)
                else:
                    sent_visits = Ready(update_returning(
                        Customer, {Customer.last_visit_at: now, Customer.visits: Customer.visits + 1},
                        Customer.id == note.customer_id, Customer.visits))
        seq = fetch_scalar(sent_seq) - 1
        receipt_no = f"{self.register_code}-{seq:06d}"
        if note.customer_id:
            if note.kind == "sale":
                if sent_settle is not None:
                    block, visits = loyalty.write_settle(sent_settle, receipt_no, register=self.register_code,
                                                         user_id=note.cashier_id)
                else:
                    visits = fetch_scalar(sent_visits)
                if self.messaging is not None:   # outbox rows only: nothing is sent from a sale
                    from tui_pos.services import messaging
                    messaging.after_sale(self.messaging, note.customer_id, visits=visits,
                                         tier_before=note.tier_name, earned=block.earned if block else 0)
            else:
                Customer.update(last_visit_at=now).where(Customer.id == note.customer_id).execute()
        if block is None:
            _q_close.send(note.id, "paid", seq, receipt_no, now, total_cents, note.cashier_id)
        else:
            _q_close_with_block.send(note.id, "paid", seq, receipt_no, now, total_cents, note.cashier_id,
                                     block.previous, block.used, block.earned, block.new)
        if self.print_queue:
            if cash is None:
                cash = Payment.select().where(Payment.note == note.id, Payment.tender == "cash").exists()
            printing.enqueue(self.register_code, receipt_no, kick_drawer=cash)
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

    # ----------------------------------------------------------- receipts

    def last_sale(self) -> "LastSale | None":
        """The register's last completed note (sale or refund), for the screen at start."""
        note = (Note.select(Note.id, Note.receipt_no, Note.total_cents, Note.kind, Note.cashier)
                .where(Note.register == self.register_id, Note.status == "paid").order_by(Note.seq.desc()).first())
        if note is None:
            return None
        tenders = [t for (t,) in Payment.select(Payment.tender).where(Payment.note == note.id).order_by(Payment.id)
                   .tuples()]
        who = User.get_or_none(User.id == note.cashier_id) if note.cashier_id else None
        return LastSale(note.receipt_no, note.total_cents, " + ".join(dict.fromkeys(tenders)) or "no payment",
                        who.name if who else "", note.kind)

    def last_receipt_no(self) -> str | None:
        note = (Note.select(Note.receipt_no).where(Note.register == self.register_id, Note.status == "paid")
                .order_by(Note.seq.desc()).first())
        return note.receipt_no if note else None

    def _refund_block(self, refund: Note, value_mode: bool) -> LoyaltyBlock | None:
        """A refund slip's loyalty block, from the ledger movements it made: the same rule as the receipt
        (when points spent come back, or `loyalty_block = "always"` for a customer's refund)."""
        moves = list(LoyaltyMovement.select(LoyaltyMovement.points, LoyaltyMovement.balance_before,
                                            LoyaltyMovement.balance_after)
                     .where(LoyaltyMovement.receipt_no == refund.receipt_no).order_by(LoyaltyMovement.id))
        given = sum(m.points for m in moves if m.points > 0)
        taken = -sum(m.points for m in moves if m.points < 0)
        if not moves or not (given or self.loyalty_block == "always"):
            return None
        return LoyaltyBlock(moves[0].balance_before, taken, given, moves[-1].balance_after, "", value_mode=value_mode)

    def receipt(self, receipt_no: str, *, reprint: bool = False) -> Receipt:
        """The receipt of a paid note, from the database."""
        note = Note.get_or_none(Note.receipt_no == receipt_no.strip().upper())
        if note is None:
            raise InputError(f"No receipt {receipt_no.strip()!r}: check the number (like R1-000042).")
        rows = list(NoteLine.select(*_LINE_FIELDS).where(NoteLine.note == note.id)
                    .order_by(NoteLine.id).tuples())
        priced = [_priced(r) for r in rows]
        totals = pricing.note_totals(priced, (), note.redeem_cents)
        lines = []
        for r, p in zip(rows, priced):
            a = pricing.line_amounts(p)
            lines.append(ReceiptLine(name=r[2], qty=r[3] - r[12] - r[13], unit_price_cents=r[4],
                                     gross_cents=a.gross_cents, discount_cents=a.discount_cents,
                                     total_cents=a.total_cents, discount_percent_bp=r[8], offered_qty=r[12] + r[13]))
        block = None
        value_mode = (loyalty.program() or loyalty.rules.Program()).mode == "value"
        if note.kind == "return":
            block = self._refund_block(note, value_mode)
        elif note.customer_id and note.loyalty_before is not None and (
                note.loyalty_used or self.loyalty_block == "always"):
            block = LoyaltyBlock(note.loyalty_before, note.loyalty_used, note.loyalty_earned, note.loyalty_after,
                                 note.tier_name, value_mode=value_mode)
        payments = tuple(Payment.select(Payment.tender, Payment.amount_cents)
                         .where(Payment.note == note.id).order_by(Payment.id).tuples())
        paid = sum(p[1] for p in payments)
        change = pricing.Settlement(totals.total_cents, paid).change_cents
        cashier = note.cashier.name if note.cashier_id else ""
        when = local_time(note.closed_at or note.opened_at)
        return Receipt(store_name=self.store_name, receipt_no=note.receipt_no, when=when,
                       cashier=cashier, sales_mode=note.sales_mode, lines=tuple(lines), totals=totals,
                       payments=payments, change_cents=change, kind=note.kind,
                       return_of=note.return_of.receipt_no if note.return_of_id else "",
                       header=self.header, footer=self.footer, reprint=reprint, loyalty=block,
                       redeemed_points=note.redeem_points)
