"""The customers store: a customer as the screens and the sale read them, with their groups, cards and rate."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from peewee import JOIN, SQL, Value

from tui_pos.domain import customer as rules
from tui_pos.domain.errors import InputError
from tui_pos.models import Customer, CustomerGroup, CustomerGroupMember, LoyaltyCard, PriceRate
from tui_pos.models.prepared import prepared


@dataclass(frozen=True)
class CustomerView:
    """A customer as screens show one."""

    id: int
    code: str
    name: str
    phone: str
    mobile: str
    email: str
    payment_status: int
    status: str
    ruc: str = ""
    dv: str = ""
    ruc_type: str = ""
    nt_person: str = ""
    fiscal_name: str = ""
    contact: str = ""
    birthday: _dt.date | None = None
    notes: str = ""
    sms_consent: bool = False
    email_consent: bool = False
    marketing_opt_out: bool = False
    invite_declined: bool = False
    rate: str = ""
    groups: tuple[str, ...] = ()
    cards: tuple[str, ...] = ()
    points_balance: int = 0
    points_earned: int = 0
    last_visit_at: _dt.datetime | None = None

    @property
    def warning(self) -> str:
        """'pending payments' or 'defaulter', else ''."""
        return "" if self.payment_status == 0 else rules.PAYMENT_STATUS.get(self.payment_status, "")

    @property
    def label(self) -> str:
        return self.name or rules.format_phone(self.phone) or self.code


_VIEW_COLUMNS = ("id", "code", "name", "phone", "mobile", "email", "payment_status", "status", "ruc", "dv",
                 "ruc_type", "nt_person", "fiscal_name", "contact", "birthday", "notes", "sms_consent",
                 "email_consent", "marketing_opt_out", "invite_declined", "points_balance", "points_earned",
                 "last_visit_at")


@prepared(1)
def _q_view(a: Any) -> Any:
    return (Customer.select(*[Customer._meta.fields[n] for n in _VIEW_COLUMNS], PriceRate.code, Customer.price_rate)
            .join(PriceRate, JOIN.LEFT_OUTER, on=(Customer.price_rate == PriceRate.id)).where(Customer.id == a))


@prepared(2)
def _q_view_tags(a: Any, b: Any) -> Any:
    """A customer's groups and cards in one statement: ("g", name, id, discount) and ("c", code, id, 0) rows."""
    groups = (CustomerGroup.select(Value("g"), CustomerGroup.name, CustomerGroup.id, CustomerGroup.discount_bp)
              .join(CustomerGroupMember).where(CustomerGroupMember.customer == a))
    cards = (LoyaltyCard.select(Value("c"), LoyaltyCard.code, LoyaltyCard.id, SQL("0"))
             .where(LoyaltyCard.customer == b))
    return groups + cards   # UNION ALL


def view(customer_id: int) -> CustomerView:
    """One customer as the screens show them (the register's hot path: prepared statements)."""
    return view_for_pricing(customer_id)[0]


def view_for_pricing(customer_id: int) -> tuple[CustomerView, int | None, list[int]]:
    """The view, with what pricing needs besides: the customer's rate id and their groups' discounts (bp)."""
    row = _q_view.one(customer_id)
    if row is None:
        raise InputError("That customer no longer exists.")
    values = dict(zip(_VIEW_COLUMNS, row))
    for name in ("birthday", "last_visit_at"):   # SQLite hands dates back as text
        values[name] = Customer._meta.fields[name].python_value(values[name])
    for name in ("sms_consent", "email_consent", "marketing_opt_out", "invite_declined"):
        values[name] = bool(values[name])
    for name in ("phone", "mobile", "email", "ruc"):
        values[name] = values[name] or ""
    tags = _q_view_tags.rows(customer_id, customer_id)
    rate_code, rate_id = row[len(_VIEW_COLUMNS)], row[len(_VIEW_COLUMNS) + 1]
    view = CustomerView(**values, rate=rate_code or "",
                        groups=tuple(sorted(t[1] for t in tags if t[0] == "g")),
                        cards=tuple(t[1] for t in sorted((t for t in tags if t[0] == "c"), key=lambda t: t[2])))
    return view, rate_id, [int(t[3]) for t in tags if t[0] == "g"]


def views(ids: list[int]) -> list[CustomerView]:
    """Customers in the order of `ids`, in three queries however many there are."""
    if not ids:
        return []
    rows = {c.id: c for c in Customer.select(Customer, PriceRate.code.alias("rate_code"))
            .join(PriceRate, JOIN.LEFT_OUTER, on=(Customer.price_rate == PriceRate.id))
            .where(Customer.id.in_(ids)).objects()}
    groups: dict[int, list[str]] = {}
    for cid, gname in (CustomerGroupMember.select(CustomerGroupMember.customer, CustomerGroup.name)
                       .join(CustomerGroup).where(CustomerGroupMember.customer.in_(ids))
                       .order_by(CustomerGroup.name).tuples()):
        groups.setdefault(cid, []).append(gname)
    cards: dict[int, list[str]] = {}
    for cid, code in (LoyaltyCard.select(LoyaltyCard.customer, LoyaltyCard.code)
                      .where(LoyaltyCard.customer.in_(ids)).order_by(LoyaltyCard.id).tuples()):
        cards.setdefault(cid, []).append(code)
    return [_make_view(rows[i], tuple(groups.get(i, ())), tuple(cards.get(i, ()))) for i in ids if i in rows]


def _make_view(c: Any, groups: tuple[str, ...], cards: tuple[str, ...]) -> CustomerView:
    return CustomerView(
        id=c.id, code=c.code, name=c.name, phone=c.phone or "", mobile=c.mobile or "", email=c.email or "",
        payment_status=c.payment_status, status=c.status, ruc=c.ruc or "", dv=c.dv, ruc_type=c.ruc_type,
        nt_person=c.nt_person, fiscal_name=c.fiscal_name, contact=c.contact, birthday=c.birthday,
        notes=c.notes, sms_consent=c.sms_consent, email_consent=c.email_consent,
        marketing_opt_out=c.marketing_opt_out, invite_declined=c.invite_declined,
        rate=getattr(c, "rate_code", None) or "", groups=groups, cards=cards,
        points_balance=c.points_balance, points_earned=c.points_earned, last_visit_at=c.last_visit_at)


__all__ = ["CustomerView", "view", "view_for_pricing", "views"]
