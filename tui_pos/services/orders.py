"""Web orders from the customer's account (issue 21 item 4, seed 004's Webshop): "order again" a past receipt,
or a few products found by a search, sent for pick-up.

An order is a parked note in sales mode `web`, with the customer attached, on the register `[portal] register`
names (empty: the store's first register), so F12 there lists it, labelled with the customer's name and their
note (a pick-up time). It is written through the register's own SaleService in one transaction: the same
product lookup, customer pricing and quantity rules (`domain.codes.check_qty`). Prices are the day's at the
counter: resuming a `web` note reprices it, and the loyalty program's sales-mode rules apply when it is paid,
as for any note in that mode.

Its state, for the customer, is read from the note the register writes, and the moment the store first parked
it again (`taken_at` and `ready_at`, written by the register's resume and park: services/sale/editing.py):

    parked, never taken in hand  -> sent        (waiting at the store; the customer may still cancel it)
    taken in hand, not yet ready -> preparing   (a cashier resumed it with F12: `taken_at`; parked again only
                                                 because another note was resumed, it stays preparing)
    parked again by the cashier  -> ready       (F11 after preparing it: the customer is told once, by SMS or
    (and open again after that)                  email, when they gave either; it stays ready at the counter)
    paid                         -> collected
    cancelled                    -> cancelled
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from tui_pos.domain.codes import MAX_QTY, check_qty
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.money import MoneyFormat
from tui_pos.models import Customer, Note, NoteLine, Product, Register, db, local_time, utcnow
from tui_pos.services import audit, catalog
from tui_pos.services.portal import LinkError, Settings, day_text
from tui_pos.services.sales import SaleService
from tui_pos.services.store import notes

WEB = "web"
NOTE_CHARS = 60          # the customer's note (a pick-up time) kept in the parked note's label
LABEL_CHARS = 120
ORDERS_SHOWN = 10
SEP = " | "              # between the label's name and the customer's note
STATES = {"paid": "collected", "cancelled": "cancelled"}      # closed notes; open and parked: state()


def _n(text: str) -> str:
    """Marks a message id for `pybabel extract -k _n` (docs/portal.md): translated where it is shown."""
    return text


class OrderError(PosError):
    """The order cannot be sent as it is; `problems` names what to fix (shown on the order form).

    Each problem is a message id of the catalogs (tui_pos/locale) with its `%(name)s` values: the portal shows
    it in the customer's language; `errors` is the same in English (logs, tests, the register)."""

    def __init__(self, problems: list[tuple[str, dict[str, object]]]) -> None:
        self.problems = problems
        self.errors = [text % values for text, values in problems]
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Choice:
    """A product the customer may order, with the quantity the form starts at."""

    id: int
    name: str
    price: str
    qty: int = 0


@dataclass(frozen=True)
class OrderLine:
    name: str
    qty: int


@dataclass(frozen=True)
class WebOrder:
    id: int
    number: str                  # "W123": what the customer says at the counter
    date: str
    state: str                   # sent | preparing | ready | collected | cancelled
    lines: tuple[OrderLine, ...]
    note: str
    receipt_no: str              # once collected


def accepts_orders(settings: Settings) -> bool:
    """Orders need `web` among `[sale] sales_modes` (the mode the loyalty rules are written for)."""
    return WEB in settings.sales_modes


def register_code(settings: Settings) -> str:
    """The register web orders are parked on: `[portal] register`, else the store's first, else
    `[store] register` (a new store: the row is made on first use, as a register makes its own)."""
    if settings.register:
        return settings.register
    first = Register.select(Register.code).order_by(Register.id).first()
    return str(first.code) if first is not None else settings.store_register


def _sales(settings: Settings) -> SaleService:
    return SaleService(register_code(settings), point_of_sale=settings.point_of_sale, store_name=settings.store,
                       default_mode=WEB, sales_modes=list(settings.sales_modes))


def _money(settings: Settings) -> MoneyFormat:
    return MoneyFormat(settings.currency, settings.locale)


def _plain(text: str, limit: int) -> str:
    """One line of printable text: control and format characters (bidi overrides, zero-width) dropped."""
    kept = "".join(" " if ch in "\r\n\t" else ch for ch in text
                   if ch in "\r\n\t" or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())[:limit]


# ====================================================================== what the form offers

def _choices(products: Iterable[tuple[int, str, int]], settings: Settings,
             qty: dict[int, int] | None = None) -> list[Choice]:
    money = _money(settings)
    return [Choice(pid, name, money(price), (qty or {}).get(pid, 0)) for pid, name, price in products]


def search(text: str, settings: Settings, limit: int = 20) -> list[Choice]:
    """Products sold now (active, a price) whose name, SKU or barcode starts with what was typed."""
    text = _plain(text, 60)
    if len(text) < 2:
        return []
    found = [p for p in catalog.search(text, limit) if p.price_cents >= 0]
    return _choices(((p.id, p.name, p.price_cents) for p in found), settings)


def from_receipt(customer_id: int, receipt_no: str, settings: Settings) -> list[Choice]:
    """The products of this customer's receipt that are still sold, at the quantities bought then.
    Another customer's receipt (or none) gives nothing."""
    note = Note.get_or_none(Note.receipt_no == receipt_no[:40], Note.customer == customer_id,
                            Note.status == "paid", Note.kind == "sale")
    if note is None:
        return []
    qty: dict[int, int] = {}
    for ln in NoteLine.select(NoteLine.product, NoteLine.qty).where(NoteLine.note == note.id,
                                                                     NoteLine.product.is_null(False)):
        qty[ln.product_id] = min(qty.get(ln.product_id, 0) + max(ln.qty, 0), 9999)
    if not qty:
        return []
    rows = (Product.select(Product.id, Product.name, Product.price_cents)
            .where(Product.id.in_(list(qty)), Product.active == True, Product.price_cents >= 0)  # noqa: E712
            .order_by(Product.name).tuples())
    return _choices(rows, settings, qty)


def reorderable(customer_id: int, limit: int = 5, locale: str = "en_US") -> list[tuple[str, str]]:
    """(receipt number, date in the page's locale) of the customer's latest sales, for "Order again"."""
    rows = (Note.select(Note.receipt_no, Note.closed_at)
            .where(Note.customer == customer_id, Note.status == "paid", Note.kind == "sale",
                   Note.receipt_no.is_null(False))
            .order_by(Note.closed_at.desc(), Note.id.desc()).limit(limit))
    return [(str(n.receipt_no), day_text(local_time(n.closed_at).date(), locale) if n.closed_at else "")
            for n in rows]


# ====================================================================== sending it

def place(customer_id: int, quantities: dict[int, int], note: str, settings: Settings) -> int:
    """Send an order for pick-up: `quantities` maps product ids to how many (0: not ordered).

    Checked before anything is written (OrderError names each problem): at least one line, at most
    `settings.max_lines`, each quantity within the register's own limits, only products sold now. Then, in one
    transaction, a note in sales mode `web` on the web-order register: the customer attached (priced for them),
    the lines added as a scan adds them, parked with a label F12 shows (the customer's name and their note).
    Returns the note's id."""
    if not accepts_orders(settings):
        raise OrderError([(_n("This store takes no orders here."), {})])
    wanted = {pid: q for pid, q in quantities.items() if q}
    errors: list[tuple[str, dict[str, object]]] = []
    if not wanted:
        errors.append((_n("Choose at least one product (a quantity of 1 or more)."), {}))
    if len(wanted) > settings.max_lines:
        errors.append((_n("An order has at most %(n)s lines."), {"n": settings.max_lines}))
    for q in wanted.values():
        try:
            check_qty(q)
        except InputError:
            errors.append((_n("A quantity must be at least 1."), {}) if q < 1 else
                          (_n("A quantity cannot be more than %(n)s."), {"n": MAX_QTY}))
            break
    products = {p.id: p for p in Product.select(Product.id, Product.sku, Product.name, Product.active,
                                                Product.price_cents).where(Product.id.in_(list(wanted) or [0]))}
    if any(pid not in products or not products[pid].active or products[pid].price_cents < 0 for pid in wanted):
        errors.append((_n("A product of this order is no longer sold: check the list again."), {}))
    if errors:
        raise OrderError(errors)
    sales = _sales(settings)
    wish = _plain(note, NOTE_CHARS).replace(SEP, " ")
    with db.atomic():
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None or customer.status != "open":
            raise LinkError(410, "customer closed or forgotten")
        note_id = notes.open_sale(sales.register_id, WEB, None, utcnow())
        sales.attach_customer(note_id, customer_id)      # priced for them, as at the counter
        for pid, q in wanted.items():
            product = products[pid]
            if catalog.find_by_code(product.sku) is None:    # the SKU is how a scan finds it
                raise OrderError([(_n("%(product)s cannot be ordered here: ask at the counter."),
                                   {"product": product.name})])
            sales.add_item(note_id, f"{q}*{product.sku}")
        who = (_plain(customer.name or "", 40) or customer.code).replace(SEP, " ")
        label = _plain(f"Web W{note_id} {who}" + (f"{SEP}{wish}" if wish else ""), LABEL_CHARS)
        Note.update(status="parked", label=label).where(Note.id == note_id).execute()
        audit.record("order.web", customer=customer.code, register=sales.register_code, note=note_id,
                     lines=len(wanted))
    return note_id


def cancel(customer_id: int, note_id: int, settings: Settings) -> bool:
    """The customer cancels their own order while it is still sent (parked): the note becomes cancelled, as a
    cashier's cancel leaves it (closed_at, its total), audited `order.web_cancel`. False when it is not theirs,
    not a web order, or the store has taken it in hand (resumed or ready: ask at the counter). One UPDATE guarded by
    the status, so a cashier's F12 at the same moment gets "no longer parked" or the customer gets False."""
    with db.atomic():
        row = Note.get_or_none(Note.id == note_id, Note.customer == customer_id, Note.sales_mode == WEB,
                               Note.kind == "sale")
        if row is None or row.status != "parked" or row.taken_at is not None:
            return False
        total = _sales(settings).summary(note_id).totals.total_cents
        done = Note.update(status="cancelled", closed_at=utcnow(), total_cents=total).where(
            Note.id == note_id, Note.status == "parked", Note.taken_at.is_null()).execute()
        if done:
            audit.record("order.web_cancel", customer=Customer.get_by_id(customer_id).code,
                         register=row.register.code, note=note_id, total_cents=total)
    return bool(done)


# ====================================================================== what the customer sees

def _wish(label: str) -> str:
    return label.split(SEP, 1)[1] if SEP in label else ""


def orders(customer_id: int, limit: int = ORDERS_SHOWN) -> list[WebOrder]:
    """The customer's latest web orders and their state (from the note: see the module's table)."""
    rows = list(Note.select(Note.id, Note.status, Note.opened_at, Note.label, Note.receipt_no, Note.taken_at,
                            Note.ready_at)
                .where(Note.customer == customer_id, Note.sales_mode == WEB, Note.kind == "sale")
                .order_by(Note.id.desc()).limit(limit))
    lines: dict[int, list[OrderLine]] = {n.id: [] for n in rows}
    if rows:
        for ln in (NoteLine.select(NoteLine.note, NoteLine.name, NoteLine.qty)
                   .where(NoteLine.note.in_(list(lines))).order_by(NoteLine.id)):
            lines[ln.note_id].append(OrderLine(ln.name, ln.qty))
    return [WebOrder(n.id, f"W{n.id}", local_time(n.opened_at).strftime("%Y-%m-%d %H:%M") if n.opened_at else "",
                     state(n.status, n.taken_at is not None, n.ready_at is not None), tuple(lines[n.id]),
                     _wish(n.label or ""),
                     n.receipt_no or "")
            for n in rows]


def state(status: str, taken: bool, ready: bool) -> str:
    """The customer's word for a web order's note (the module's table)."""
    if status in ("parked", "open"):
        return "ready" if ready else "preparing" if taken else "sent"
    return STATES.get(status, status)


@dataclass(frozen=True)
class AccountOrders:
    """The account page's "Order for pick-up" block."""

    open: bool                                   # the store takes web orders
    orders: tuple[WebOrder, ...]
    receipts: tuple[tuple[str, str], ...]       # (number, date) to order again


def for_account(customer_id: int, settings: Settings) -> AccountOrders:
    return AccountOrders(accepts_orders(settings), tuple(orders(customer_id)),
                         tuple(reorderable(customer_id, locale=settings.locale)) if accepts_orders(settings) else ())


def chosen(quantities: dict[int, int], settings: Settings) -> list[Choice]:
    """The products a posted form named (sold now), with the quantities typed: the form shown again."""
    ids = list(quantities)[:200]
    if not ids:
        return []
    rows = (Product.select(Product.id, Product.name, Product.price_cents)
            .where(Product.id.in_(ids), Product.active == True, Product.price_cents >= 0)  # noqa: E712
            .order_by(Product.name).tuples())
    return _choices(rows, settings, quantities)


__all__ = ["AccountOrders", "Choice", "OrderError", "OrderLine", "STATES", "WEB", "WebOrder", "accepts_orders",
           "cancel", "chosen", "for_account", "from_receipt", "orders", "place", "register_code", "reorderable",
           "search", "state"]
