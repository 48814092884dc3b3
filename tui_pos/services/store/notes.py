"""The notes-and-sales store: every statement a sale runs on notes, lines and payments, and what it returns.

The services speak to these functions and get dataclasses back; no row is
read by position outside this module. The hot statements are compiled once
(models.prepared) and run with new arguments in the caller's transaction.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from peewee import SQL, Select, fn

from tui_pos.domain import pricing
from tui_pos.domain.loyalty import Block
from tui_pos.models import Customer, CustomerGroup, CustomerGroupMember, Note, NoteLine, Payment, Product, Register
from tui_pos.models.db import SQLITE_RETURNING, is_sqlite, update_returning
from tui_pos.models.prepared import Prepared, prepared
from tui_pos.services import prices
from tui_pos.services.store import ledger

# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class LineRecord:
    """A note line as pricing and the screen read it."""

    id: int
    sku: str
    name: str
    qty: int
    unit_price_cents: int
    list_price_cents: int
    tax_rate_bp: int
    tax_included: bool
    discount_percent_bp: int
    discount_cents: int
    price_source: str
    discount_source: str
    offered_qty: int
    reward_qty: int

    def priced(self) -> pricing.PricedLine:
        return pricing.PricedLine(qty=self.qty, unit_price_cents=self.unit_price_cents,
                                  tax_rate_bp=self.tax_rate_bp, tax_included=bool(self.tax_included),
                                  discount_percent_bp=self.discount_percent_bp, discount_cents=self.discount_cents,
                                  offered_qty=self.offered_qty + self.reward_qty)


_LINE_FIELDS = (NoteLine.id, NoteLine.sku, NoteLine.name, NoteLine.qty, NoteLine.unit_price_cents,
                NoteLine.list_price_cents, NoteLine.tax_rate_bp, NoteLine.tax_included,
                NoteLine.discount_percent_bp, NoteLine.discount_cents, NoteLine.price_source,
                NoteLine.discount_source, NoteLine.offered_qty, NoteLine.reward_qty)


def _line(row: tuple[Any, ...]) -> LineRecord:
    return LineRecord(*row[:len(_LINE_FIELDS)])


@dataclass
class NoteRecord:
    """A note as the hot path reads it, and what was counted with it (the services change some fields as
    they go: the customer attached, the cashier who pays)."""

    id: int
    register_id: int
    kind: str
    status: str
    sales_mode: str
    cashier_id: int | None
    label: str
    seq: int | None
    receipt_no: str | None
    total_cents: int
    return_of_id: int | None
    customer_id: int | None
    tier_name: str
    tier_multiplier: str
    redeem_points: int
    redeem_cents: int
    loyalty_before: int | None
    loyalty_used: int | None
    loyalty_earned: int | None
    loyalty_after: int | None
    paid_now: int = 0          # payments when read (the transaction adds none before use)
    payments_now: int = 0
    offer_lines_now: int = 0   # lines with units offered or rewarded
    balance: int | None = None                  # the customer's points (`note_and_balance`)
    program_version: tuple[Any, ...] | None = None   # the loyalty program's (id, updated_at) (`note_and_program`)


_NOTE_COLUMNS = ("id", "register_id", "kind", "status", "sales_mode", "cashier_id", "label", "seq", "receipt_no",
                 "total_cents", "return_of_id", "customer_id", "tier_name", "tier_multiplier", "redeem_points",
                 "redeem_cents", "loyalty_before", "loyalty_used", "loyalty_earned", "loyalty_after")
_NOTE_FIELDS = [getattr(Note, name[:-3]) if name.endswith("_id") and name != "id" else getattr(Note, name)
                for name in _NOTE_COLUMNS]


def _note(row: tuple[Any, ...] | None, extra: str = "") -> NoteRecord | None:
    if row is None:
        return None
    n = len(_NOTE_COLUMNS)
    paid, payments, offers, *rest = row[n:]
    return NoteRecord(**dict(zip(_NOTE_COLUMNS, row)), paid_now=int(paid or 0), payments_now=int(payments or 0),
                      offer_lines_now=int(offers or 0), balance=rest[0] if extra == "balance" else None,
                      program_version=tuple(rest) if extra == "program" else None)


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


@dataclass(frozen=True)
class RepriceLine:
    """A line as repricing reads it: the line, its product and today's specific price (None: none)."""

    line: LineRecord
    product_id: int | None
    specific_cents: int | None


@dataclass(frozen=True)
class TenderPaid:
    tender: str
    amount_cents: int


# ---------------------------------------------------------------- notes

def _note_query(a: Any, *extra: Any) -> Select:
    paid = Payment.select(fn.COALESCE(fn.SUM(Payment.amount_cents), 0)).where(Payment.note == Note.id)
    count = Payment.select(fn.COUNT(Payment.id)).where(Payment.note == Note.id)
    offers = NoteLine.select(fn.COUNT(NoteLine.id)).where(
        NoteLine.note == Note.id,
        (NoteLine.offered_qty != 0) | (NoteLine.reward_qty != 0) | (NoteLine.reward_offer != ""))
    # what the summary needs, at once
    return Note.select(*_NOTE_FIELDS, paid, count, offers, *extra).where(Note.id == a)


_q_note = Prepared(_note_query, 1)
_q_note_and_balance = Prepared(
    lambda a: _note_query(a, Customer.select(Customer.points_balance).where(Customer.id == Note.customer)), 1)
_q_note_and_program = Prepared(lambda a: _note_query(a, *ledger.program_version_columns()), 1)


def note(note_id: int) -> NoteRecord | None:
    return _note(_q_note.one(note_id))


def note_and_balance(note_id: int) -> NoteRecord | None:
    """The note with its customer's points balance (None: no customer)."""
    return _note(_q_note_and_balance.one(note_id), "balance")


def note_and_program(note_id: int) -> NoteRecord | None:
    """The note with the loyalty program's version: pay's first read, for the note the completion opens."""
    return _note(_q_note_and_program.one(note_id), "program")


def _current_query(register: Any) -> Select:
    return (Note.select(Note.id).where(Note.register == register, Note.status == "open", Note.kind == "sale")
            .order_by(Note.id.desc()).limit(1))


_q_current = Prepared(_current_query, 1)
_q_current_and_program = Prepared(
    lambda register: Select(columns=[_current_query(register), *ledger.program_version_columns()]), 1)


def current_note(register_id: int) -> int | None:
    """The register's open sale note."""
    value = _q_current.scalar(register_id)
    return int(value) if value is not None else None


def current_note_and_program(register_id: int) -> tuple[int | None, tuple[Any, ...]]:
    """The register's open sale note and the loyalty program's version (id, updated_at), in one statement."""
    row = _q_current_and_program.one(register_id)
    assert row is not None
    current, *version = row
    return current, tuple(version)


_NEW_NOTE = ("register", "kind", "status", "sales_mode", "cashier", "label", "opened_at", "total_cents",
             "tier_name", "tier_multiplier", "redeem_points", "redeem_cents")


@prepared(len(_NEW_NOTE))
def _q_insert_note(*args: Any) -> Any:
    query = Note.insert({getattr(Note, n): a for n, a in zip(_NEW_NOTE, args)})
    if SQLITE_RETURNING or not is_sqlite():
        query = query.returning(Note.id)
    return query


def open_sale(register_id: int, sales_mode: str, cashier_id: int | None, opened_at: _dt.datetime) -> int:
    """A new open sale note; its id."""
    return _q_insert_note.insert(register_id, "sale", "open", sales_mode, cashier_id, "", opened_at, 0, "", "1", 0, 0)


_q_attach = Prepared(lambda note, customer, tier_name, tier_multiplier, zero: Note.update(
    customer=customer, tier_name=tier_name, tier_multiplier=tier_multiplier, redeem_points=zero,
    redeem_cents=zero).where(Note.id == note), 5)


def attach(note_id: int, customer_id: int, tier_name: str, tier_multiplier: str) -> None:
    """The customer on the note, at their tier, and no points redeemed."""
    _q_attach.execute(note_id, customer_id, tier_name, tier_multiplier, 0)


def detach(note_id: int) -> None:
    """No customer on the note: no tier, no points redeemed, nothing offered."""
    Note.update(customer=None, tier_name="", tier_multiplier="1", redeem_points=0, redeem_cents=0).where(
        Note.id == note_id).execute()
    clear_offers(note_id)


_q_redeem = Prepared(lambda note, points, cents: Note.update(redeem_points=points, redeem_cents=cents)
                     .where(Note.id == note), 3)


def set_redeemed(note_id: int, points: int, cents: int) -> None:
    _q_redeem.execute(note_id, points, cents)


_q_close = Prepared(lambda note, status, seq, receipt_no, closed_at, total, cashier: Note.update(
    status=status, seq=seq, receipt_no=receipt_no, closed_at=closed_at, total_cents=total, cashier=cashier)
    .where(Note.id == note), 7)
_q_close_with_block = Prepared(
    lambda note, status, seq, receipt_no, closed_at, total, cashier, before, used, earned, after: Note.update(
        status=status, seq=seq, receipt_no=receipt_no, closed_at=closed_at, total_cents=total, cashier=cashier,
        loyalty_before=before, loyalty_used=used, loyalty_earned=earned, loyalty_after=after)
    .where(Note.id == note), 11)


def close(note_id: int, seq: int, receipt_no: str, closed_at: _dt.datetime, total_cents: int,
          cashier_id: int | None, block: Block | None) -> None:
    """The note paid, with its receipt number and (a sale with points) its loyalty block."""
    if block is None:
        _q_close.execute(note_id, "paid", seq, receipt_no, closed_at, total_cents, cashier_id)
    else:
        _q_close_with_block.execute(note_id, "paid", seq, receipt_no, closed_at, total_cents, cashier_id,
                                    block.previous, block.used, block.earned, block.new)


_q_next_seq = Prepared(lambda register: Register.update(next_seq=Register.next_seq + 1)
                       .where(Register.id == register).returning(Register.next_seq), 1)


def take_seq(register_id: int) -> int:
    """The register's next receipt sequence number, taken."""
    if SQLITE_RETURNING or not is_sqlite():
        after = _q_next_seq.scalar(register_id)
    else:
        after = update_returning(Register, {Register.next_seq: Register.next_seq + 1},
                                 Register.id == register_id, Register.next_seq)
    return int(after) - 1


# ---------------------------------------------------------------- lines

_PLAIN = ((NoteLine.discount_percent_bp == 0) & (NoteLine.discount_cents == 0)
          & (NoteLine.tax_included == True) & (NoteLine.offered_qty == 0)  # noqa: E712
          & (NoteLine.reward_qty == 0))


@prepared(2)
def _q_totals(a: Any, b: Any) -> Any:
    """What a note's totals are made of, in one statement: its plain lines summed by tax rate, rows
    (0, count, -, -, qty, amount, -, tax rate, -...), and its other lines one by one, (1, *_LINE_FIELDS)."""
    null = SQL("NULL")
    groups = (NoteLine.select(SQL("0"), fn.COUNT(NoteLine.id), null, null, fn.SUM(NoteLine.qty),
                              fn.SUM(NoteLine.qty * NoteLine.unit_price_cents), null, NoteLine.tax_rate_bp,
                              null, null, null, null, null, null, null)
              .where(NoteLine.note == a, _PLAIN).group_by(NoteLine.tax_rate_bp))
    others = NoteLine.select(SQL("1"), *_LINE_FIELDS).where(NoteLine.note == b, ~_PLAIN)
    return groups + others   # UNION ALL


def totals_parts(note_id: int) -> tuple[list[pricing.PricedLine], list[pricing.PlainGroup]]:
    """A note's lines for its totals: the plain ones summed by the database per tax rate, the others priced."""
    priced, groups = [], []
    for row in _q_totals.rows(note_id, note_id):
        if row[0] == 0:
            _, count, _, _, qty, amount, _, rate, *_ = row
            groups.append(pricing.PlainGroup(int(rate), int(count), int(qty), int(amount)))
        else:
            priced.append(_line(row[1:]).priced())
    return priced, groups


_q_line = Prepared(lambda a: NoteLine.select(*_LINE_FIELDS).where(NoteLine.id == a), 1)
_q_lines = Prepared(lambda a: NoteLine.select(*_LINE_FIELDS).where(NoteLine.note == a).order_by(NoteLine.id), 1)


def line(line_id: int) -> LineRecord | None:
    row = _q_line.one(line_id)
    return _line(row) if row is not None else None


def lines(note_id: int) -> list[LineRecord]:
    return [_line(r) for r in _q_lines.rows(note_id)]


_q_set_qty = Prepared(lambda line, qty: NoteLine.update(qty=qty).where(NoteLine.id == line), 2)


def set_qty(line_id: int, qty: int) -> None:
    _q_set_qty.execute(line_id, qty)


_NEW_LINE = ("note", "product", "sku", "name", "qty", "unit_price_cents", "price_source", "list_price_cents",
             "tax_rate_bp", "tax_included", "discount_percent_bp", "points_cost", "discount_source",
             "discount_cents", "offered_qty", "reward_qty", "reward_offer", "created_at")


@prepared(len(_NEW_LINE))
def _q_insert_line(*args: Any) -> Any:
    query = NoteLine.insert({getattr(NoteLine, name): arg for name, arg in zip(_NEW_LINE, args)})
    if SQLITE_RETURNING or not is_sqlite():
        query = query.returning(NoteLine.id)
    return query


def add_line(*, note_id: int, product_id: int, sku: str, name: str, qty: int, unit_price_cents: int,
             price_source: str, list_price_cents: int, tax_rate_bp: int, tax_included: bool,
             discount_percent_bp: int, points_cost: int | None, discount_source: str,
             created_at: _dt.datetime) -> LineRecord:
    """A new line (nothing offered or rewarded yet); the line as stored."""
    line_id = _q_insert_line.insert(note_id, product_id, sku, name, qty, unit_price_cents, price_source,
                                    list_price_cents, tax_rate_bp, tax_included, discount_percent_bp, points_cost,
                                    discount_source, 0, 0, 0, "", created_at)
    return LineRecord(line_id, sku, name, qty, unit_price_cents, list_price_cents, tax_rate_bp, tax_included,
                      discount_percent_bp, 0, price_source, discount_source, 0, 0)


_q_clear_offers = Prepared(lambda note: NoteLine.update(offered_qty=0, reward_qty=0, reward_offer="")
                           .where(NoteLine.note == note), 1)


def clear_offers(note_id: int) -> None:
    """No unit of the note offered for points or given as a reward."""
    _q_clear_offers.execute(note_id)


_q_reprice_lines = Prepared(lambda note, today: NoteLine.select(
    *_LINE_FIELDS, NoteLine.product, prices.specific_price_of(NoteLine.product, today))
    .where(NoteLine.note == note).order_by(NoteLine.id), 2)


def reprice_lines(note_id: int, today: _dt.date) -> list[RepriceLine]:
    """Every line of the note, with its product and today's specific price: what repricing reads."""
    n = len(_LINE_FIELDS)
    return [RepriceLine(_line(r), r[n], r[n + 1]) for r in _q_reprice_lines.rows(note_id, today)]


_q_reprice = Prepared(lambda line, price, price_source, percent, cents, discount_source: NoteLine.update(
    unit_price_cents=price, price_source=price_source, discount_percent_bp=percent, discount_cents=cents,
    discount_source=discount_source).where(NoteLine.id == line), 6)


def take_list_prices(note_id: int) -> None:
    """The note's catalogue lines take their product's price now as their list price (a web order resumed at
    the counter: the day's prices); a manual or weighed price stays."""
    now = Product.select(Product.price_cents).where(Product.id == NoteLine.product)
    (NoteLine.update(list_price_cents=now)
     .where(NoteLine.note == note_id, NoteLine.product.is_null(False),
            NoteLine.price_source.not_in(["manual", "weighed"])).execute())


def reprice(line_id: int, price_cents: int, price_source: str, percent_bp: int, cents: int,
            discount_source: str) -> None:
    _q_reprice.execute(line_id, price_cents, price_source, percent_bp, cents, discount_source)


_DISCOUNT_PART = 512   # lines per UPDATE: 515 bound values, within any SQLite's limit (999)
_q_discounts: dict[int, Prepared] = {}


def _q_discount_lines(size: int) -> Prepared:
    """UPDATE of the automatic discount of `size` lines (percent, cents, source, then the line ids).

    Built once per size, and only powers of two are used (padding with the last id), so at most ten
    statements: building an UPDATE with peewee each time cost about 0.4 ms, a sixth of a sale's CPU."""
    q = _q_discounts.get(size)
    if q is None:
        q = _q_discounts[size] = Prepared(
            lambda percent, cents, source, *ids: NoteLine.update(
                discount_percent_bp=percent, discount_cents=cents, discount_source=source).where(
                NoteLine.id.in_(list(ids))), 3 + size)
    return q


def set_discounts(line_ids: list[int], percent_bp: int, cents: int, source: str) -> None:
    """The same automatic discount on many lines, in as few UPDATEs as the database takes."""
    for i in range(0, len(line_ids), _DISCOUNT_PART):
        part = line_ids[i:i + _DISCOUNT_PART]
        size = 1 << (len(part) - 1).bit_length()
        _q_discount_lines(size).execute(percent_bp, cents, source, *part, *[part[-1]] * (size - len(part)))


# ---------------------------------------------------------------- payments

_q_paid = Prepared(lambda a: Payment.select(fn.COALESCE(fn.SUM(Payment.amount_cents), 0))
                   .where(Payment.note == a), 1)
_q_payments = Prepared(lambda a: Payment.select(Payment.tender, Payment.amount_cents).where(Payment.note == a)
                       .order_by(Payment.id), 1)


def paid(note_id: int) -> int:
    return int(_q_paid.scalar(note_id) or 0)


def payments(note_id: int) -> list[TenderPaid]:
    return [TenderPaid(tender, int(cents)) for tender, cents in _q_payments.rows(note_id)]


_NEW_PAYMENT = ("note", "tender", "amount_cents", "created_at", "request_id")
_q_insert_payment = Prepared(lambda *args: Payment.insert(
    {getattr(Payment, n): a for n, a in zip(_NEW_PAYMENT, args)}).as_rowcount(), len(_NEW_PAYMENT))


def add_payment(note_id: int, tender: str, amount_cents: int, at: _dt.datetime, request_id: str | None) -> None:
    _q_insert_payment.execute(note_id, tender, amount_cents, at, request_id)


_q_by_request = Prepared(lambda request_id: Payment.select(Payment.id).where(Payment.request_id == request_id), 1)


def payment_by_request(request_id: str) -> int | None:
    """The payment taken under `request_id`, if any."""
    value = _q_by_request.scalar(request_id)
    return int(value) if value is not None else None


# ---------------------------------------------------------------- the note's customer

_CUSTOMER_PRICING = ("id", "code", "name", "status", "price_rate_id", "points_earned", "points_balance")
_q_customer = Prepared(lambda a: Customer.select(
    Customer.id, Customer.code, Customer.name, Customer.status, Customer.price_rate, Customer.points_earned,
    Customer.points_balance).where(Customer.id == a), 1)


def pricing_customer(customer_id: int) -> PricingCustomer | None:
    row = _q_customer.one(customer_id)
    return PricingCustomer(**dict(zip(_CUSTOMER_PRICING, row))) if row is not None else None


_q_group_discounts = Prepared(lambda customer: CustomerGroup.select(CustomerGroup.discount_bp)
                              .join(CustomerGroupMember).where(CustomerGroupMember.customer == customer), 1)


def group_discounts(customer_id: int) -> list[int]:
    """The discounts of the customer's groups, in basis points."""
    return [int(d) for (d,) in _q_group_discounts.rows(customer_id)]


_q_visit = Prepared(lambda customer, at: Customer.update(last_visit_at=at, visits=Customer.visits + 1)
                    .where(Customer.id == customer).returning(Customer.visits), 2)


def count_visit(customer_id: int, at: _dt.datetime) -> int | None:
    """One more visit of the customer; their visits now."""
    if SQLITE_RETURNING or not is_sqlite():
        value = _q_visit.scalar(customer_id, at)
    else:
        value = update_returning(Customer, {Customer.last_visit_at: at, Customer.visits: Customer.visits + 1},
                                 Customer.id == customer_id, Customer.visits)
    return int(value) if value is not None else None
