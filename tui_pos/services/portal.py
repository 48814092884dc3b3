"""The customer's own account (issue 21): what the portal shows and the one change it makes.

Every function here takes the customer's id that `open_link` returned for a valid token, and reads
or writes that customer only: there is no query in this module that is not bound to that id (or to
their receipts). The web layer (`tui_pos.portal`) holds no rule; it calls these.

The customer editing their own record is not staff: `customers.update` gates a change of a field
that already holds a value behind `[permissions] customer_edit` (a manager's PIN at the counter), which
is right for a cashier and wrong for the person the record is about. `portal_update` is that path:
the same `customers.clean` rules (email syntax, a birthday in the past), only the fields the form has,
consent recorded with where = portal, audited as `customer.portal` with the fields' names only.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui_pos.domain import customer as customer_rules
from tui_pos.domain import messages as message_rules
from tui_pos.domain import portal as link_rules
from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.money import MoneyFormat
from tui_pos.models import Customer, Note, NoteLine, Product, db, local_time
from tui_pos.services import audit, customers, loyalty, messaging, stamps

FORM_FIELDS = ("name", "email", "birthday", "sms_consent", "email_consent")
RECEIPTS_SHOWN = 20           # a page of purchases (older ones: ?purchases=2, ...)
PURCHASE_PAGES = 500


class LinkError(PosError):
    """The link opens nothing: 404 (not ours: forged, another secret, no such customer) or 410 (expired, or
    the customer was forgotten or closed). The message is for the log, never shown with personal data."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    secret: str = ""
    link_days: int = 30
    region: str = "PA"
    currency: str = "USD"
    locale: str = "en_US"
    store: str = "Demo Store"
    public_url: str = ""
    # web orders (services/orders.py): parked on `register` ("": the store's first register, else
    # `store_register`), at most `max_lines` lines; refused unless "web" is one of the sales modes
    register: str = ""
    store_register: str = "R1"
    point_of_sale: str = "main"
    max_lines: int = 20
    sales_modes: tuple[str, ...] = ("counter", "takeaway", "delivery", "web")

    @classmethod
    def from_config(cls, cfg: Any) -> Settings:
        return cls(secret=cfg.messages.secret or os.environ.get("TUI_POS_MESSAGES_SECRET", ""),
                   link_days=cfg.portal.link_days, region=cfg.store.phone_region, currency=cfg.store.currency,
                   locale=cfg.store.locale, store=cfg.store.name, public_url=cfg.portal.public_url,
                   register=cfg.portal.register, store_register=cfg.store.register,
                   point_of_sale=cfg.store.point_of_sale, max_lines=cfg.portal.max_lines,
                   sales_modes=tuple(cfg.sale.sales_modes))


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


# ====================================================================== links

def new_token(code: str, settings: Settings, now: _dt.datetime | None = None) -> str:
    return link_rules.make(code, settings.secret, now or _now())


def open_link(token: str, settings: Settings, now: _dt.datetime | None = None) -> int:
    """The id of the customer whose valid, unexpired link this is; LinkError otherwise."""
    link = link_rules.read(token, settings.secret)
    if link is None:
        raise LinkError(404, "not a token of ours")
    if link_rules.expired(link, now or _now(), settings.link_days):
        raise LinkError(410, "expired")
    row = Customer.select(Customer.id, Customer.status).where(Customer.code == link.code).first()
    if row is None:
        raise LinkError(404, "no such customer")
    if row.status != "open":     # forgotten (`tui-pos customer forget`) or closed by the store
        raise LinkError(410, "customer closed or forgotten")
    return int(row.id)


# ====================================================================== what the customer sees

@dataclass(frozen=True)
class ReceiptLine:
    name: str
    qty: int
    total: str


@dataclass(frozen=True)
class Receipt:
    number: str
    date: str
    kind: str                       # sale | return
    lines: tuple[ReceiptLine, ...]
    total: str
    earned: str                     # "" when nothing
    used: str


@dataclass(frozen=True)
class StampCard:
    offer: str
    units: int
    count: int


@dataclass(frozen=True)
class StampReached:
    offer: str
    date: str
    taken_on: str                   # "" while the reward is still to take


@dataclass(frozen=True)
class Affordable:
    name: str
    cost: str


@dataclass(frozen=True)
class Account:
    code: str
    name: str
    email: str
    birthday: str                   # YYYY-MM-DD or ""
    sms_consent: bool
    email_consent: bool
    has_program: bool
    balance: str                    # "120 points", or money in value mode
    tier: str
    next_tier: str                  # "" at the top (or without tiers)
    next_needs: str                 # what the next tier needs, in the program's unit
    expiring: str                   # "" when nothing expires soon
    expiring_on: str
    stamps: tuple[StampCard, ...]
    reached: tuple[StampReached, ...]
    affordable: tuple[Affordable, ...]
    receipts: tuple[Receipt, ...]
    purchases_page: int = 1         # which page of purchases (1: the latest RECEIPTS_SHOWN)
    older: bool = False             # more purchases on the next page


@functools.cache
def _locale(name: str) -> Any:
    """Babel's Locale, parsed once (a page of 50 receipts parsed its locale name 200 times)."""
    from babel import Locale
    return Locale.parse(name)


def _date(at: _dt.datetime | None, locale: str = "en_US") -> str:
    """A receipt's date and time in the page's locale (Babel): `Dec 7, 2026, 5:15 PM`, `7 dic 2026, 17:15`."""
    from babel.dates import format_date, format_time
    if not at:
        return ""
    when = local_time(at)
    where = _locale(locale)
    return f"{format_date(when, 'medium', locale=where)}, {format_time(when, 'short', locale=where)}"


def day_text(day: _dt.date | None, locale: str = "en_US") -> str:
    """A day in the page's locale (Babel's medium date): `Dec 7, 2026`, `7 dic 2026`."""
    from babel.dates import format_date
    return format_date(day, "medium", locale=_locale(locale)) if day else ""


def _receipts(customer_id: int, money: MoneyFormat, amount: Any, limit: int,
              locale: str = "en_US", offset: int = 0) -> tuple[Receipt, ...]:
    notes = list(Note.select(Note.id, Note.receipt_no, Note.kind, Note.closed_at, Note.total_cents,
                             Note.loyalty_earned, Note.loyalty_used)
                 .where(Note.customer == customer_id, Note.status == "paid")
                 .order_by(Note.closed_at.desc(), Note.id.desc()).limit(limit).offset(offset))
    lines: dict[int, list[ReceiptLine]] = {n.id: [] for n in notes}
    if notes:
        for ln in (NoteLine.select(NoteLine.note, NoteLine.name, NoteLine.qty, NoteLine.unit_price_cents,
                                   NoteLine.tax_rate_bp, NoteLine.tax_included, NoteLine.discount_percent_bp,
                                   NoteLine.discount_cents, NoteLine.offered_qty, NoteLine.reward_qty)
                   .where(NoteLine.note.in_(list(lines))).order_by(NoteLine.id)):
            total = pricing.line_amounts(pricing.PricedLine(
                qty=ln.qty, unit_price_cents=ln.unit_price_cents, tax_rate_bp=ln.tax_rate_bp,
                tax_included=bool(ln.tax_included), discount_percent_bp=ln.discount_percent_bp,
                discount_cents=ln.discount_cents, offered_qty=ln.offered_qty + ln.reward_qty)).total_cents
            lines[ln.note_id].append(ReceiptLine(ln.name, ln.qty, money(total)))
    return tuple(Receipt(n.receipt_no or "", _date(n.closed_at, locale), n.kind, tuple(lines[n.id]),
                         money(n.total_cents),
                         amount(n.loyalty_earned) if n.loyalty_earned else "",
                         amount(n.loyalty_used) if n.loyalty_used else "") for n in notes)


def account(customer_id: int, settings: Settings, *, receipts: int = RECEIPTS_SHOWN,
            today: _dt.date | None = None, points: Callable[[int], str] | None = None, page: int = 1) -> Account:
    """Everything the account page shows, for this customer only. Money and dates in `settings.locale`;
    `points` says a number of points in the page's language (default `N points`). Purchases come a page of
    `receipts` at a time, newest first (`page` 1 to PURCHASE_PAGES): a phone shows 20 at ease, and a page
    of 50 was half the portal's CPU beside a register (docs/benchmarks.md)."""
    page = max(1, min(page, PURCHASE_PAGES))
    c = Customer.get_by_id(customer_id)
    money = MoneyFormat(settings.currency, settings.locale)
    prog = loyalty.program()

    def amount(value: int) -> str:
        if prog is not None and prog.mode == "value":
            return prog.amount(value, money)
        return points(value) if points else f"{value} points"

    tier = next_tier = next_needs = expiring = expiring_on = ""
    reached: tuple[StampReached, ...] = ()
    cards: tuple[StampCard, ...] = ()
    affordable: tuple[Affordable, ...] = ()
    if prog is not None:
        tier = prog.tier_for(c.points_earned).name
        above = [t for t in prog.tiers if t.threshold > c.points_earned]
        if above:
            nxt = min(above, key=lambda t: t.threshold)
            next_tier, next_needs = nxt.name, amount(nxt.threshold - c.points_earned)
        due, first = loyalty.expiring_soon(customer_id, today=today)
        if due > 0:
            expiring, expiring_on = amount(due), day_text(first, settings.locale)
        in_progress, done = stamps.history(customer_id, prog)
        cards = tuple(StampCard(p.offer, p.units, p.count) for p in in_progress)
        reached = tuple(StampReached(r.offer, day_text(r.at.date(), settings.locale) if isinstance(r.at, _dt.datetime)
                                     else str(r.at or ""), r.taken_on) for r in done)
        affordable = tuple(Affordable(name, amount(cost)) for name, cost in
                           Product.select(Product.name, Product.points_cost)
                           .where(Product.active == True, Product.points_cost.is_null(False),  # noqa: E712
                                  Product.points_cost > 0, Product.points_cost <= c.points_balance)
                           .order_by(Product.points_cost, Product.name).limit(50).tuples())
    return Account(code=c.code, name=c.name or "", email=c.email or "",
                   birthday=c.birthday.isoformat() if c.birthday else "", sms_consent=bool(c.sms_consent),
                   email_consent=bool(c.email_consent), has_program=prog is not None,
                   balance=amount(c.points_balance), tier=tier, next_tier=next_tier, next_needs=next_needs,
                   expiring=expiring, expiring_on=expiring_on, stamps=cards, reached=reached,
                   affordable=affordable, purchases_page=page,
                   **_purchases(customer_id, money, amount, receipts, settings.locale, page))


def _purchases(customer_id: int, money: MoneyFormat, amount: Any, per_page: int, locale: str,
               page: int) -> dict[str, Any]:
    """A page of receipts, and whether older ones follow (one more is read to know)."""
    found = _receipts(customer_id, money, amount, per_page + 1, locale, offset=(page - 1) * per_page)
    return {"receipts": found[:per_page], "older": len(found) > per_page}


# ====================================================================== the customer's own change

def portal_update(customer_id: int, form: dict[str, Any], settings: Settings) -> list[str]:
    """Save the account form: name, email, birthday and the two consents (an unticked box is a withdrawal).

    Validated by `customers.clean` (the register's rules); a bad value raises `customers.FormError` naming
    the field and nothing is written. Returns the names of the fields that changed. Consent changes go to
    the consent log with where = portal; the audit log gets the field names, never the values.
    """
    data: dict[str, Any] = {f: str(form.get(f) or "").strip() for f in ("name", "email", "birthday")}
    data["sms_consent"] = bool(form.get("sms_consent"))
    data["email_consent"] = bool(form.get("email_consent"))
    if not data["name"]:
        raise customers.FormError({"name": "type your name"})
    values = customers.clean(data, settings.region)
    with db.atomic():
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None or customer.status != "open":
            raise LinkError(410, "customer closed or forgotten")
        # the register's own writer: fields, the name's search words, consent log (source="portal")
        changed = customers._apply(customer, values, source="portal")
        if changed:
            audit.record("customer.portal", customer=customer.code, fields=changed)
    return changed


# ====================================================================== a marketing email's unsubscribe link

def unsubscribe_is_ours(token: str, settings: Settings) -> bool:
    """Whether an unsubscribe link's token was signed with our secret (the page offers the button only then)."""
    return bool(settings.secret) and len(token) <= 200 and \
        message_rules.verify(token, settings.secret) is not None


def unsubscribe(token: str, settings: Settings) -> bool:
    """The customer of an unsubscribe link opts out of marketing email (`messaging.unsubscribe`: consent
    withdrawn with where = unsubscribe, audited); False when the token is not ours or names no one."""
    try:
        messaging.unsubscribe(token, messaging.Settings(secret=settings.secret))
    except InputError:
        return False
    return True


# ====================================================================== "send me a new link"

class Limiter:
    """At most `limit` tries per key in `window` seconds (in this process: the portal is one process)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        if len(self.hits) > 10_000:                        # forget keys whose tries are all past the window
            self.hits = {k: q for k, q in self.hits.items() if q and q[-1] > now - self.window}
        q = self.hits.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


@dataclass
class Limits:
    per_phone: Limiter = field(default_factory=lambda: Limiter(3, 3600.0))
    per_address: Limiter = field(default_factory=lambda: Limiter(10, 3600.0))


def request_link(phone: str, address: str, settings: Settings, limits: Limits,
                 now: _dt.datetime | None = None) -> bool:
    """A customer asks for a fresh link by typing their phone: when it is an open customer's phone or mobile,
    the invitation SMS (with a new link) is queued in the outbox; the sender sends it like any other.

    Returns False only when rate-limited (per phone typed, per client address, whether the phone is known or
    not); otherwise True, known or not: the page says the same either way. At most one such SMS per customer
    per hour (the outbox key). A customer who declined the invitation SMS or replied STOP gets none.
    """
    now = now or _now()
    try:
        number = customer_rules.normalize_phone(phone, settings.region)
    except InputError:
        number = "".join(ch for ch in phone if ch.isdigit())[:20] or "?"
    stamp = now.timestamp()
    if not (limits.per_phone.allow(number, stamp) & limits.per_address.allow(address or "?", stamp)):
        return False
    if not number.startswith("+"):
        return True
    c = (Customer.select(Customer.id, Customer.invite_declined)
         .where((Customer.phone == number) | (Customer.mobile == number), Customer.status == "open").first())
    if c is not None and not c.invite_declined:
        messaging.queue(c.id, "sms", "invite", f"link:{c.id}:{int(stamp // 3600)}")
    return True


__all__ = ["FORM_FIELDS", "Account", "Affordable", "LinkError", "Receipt", "ReceiptLine", "Settings", "StampCard",
           "StampReached", "account", "new_token", "open_link", "portal_update", "Limiter", "Limits", "request_link",
           "unsubscribe", "unsubscribe_is_ours"]
