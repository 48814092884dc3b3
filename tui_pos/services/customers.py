"""Customers: find in a keystroke, create on the spot, edit with checks, import and export.

Contact data may be changed by any signed-in user; tax data, groups, the price
rate, the payment status and the status need a manager, and each such change
is written to the audit log (seed 003).
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from peewee import fn

from tui_pos.domain import customer as rules
from tui_pos.domain import imports as cell_rules
from tui_pos.domain import ruc as ruc_rules
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.loyalty import MAX_POINTS
from tui_pos.domain.text import control_at, csv_cell, from_csv_cell, search_key
from tui_pos.models import (
    ConsentEvent,
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    CustomerWord,
    LoyaltyCard,
    Note,
    PriceRate,
    db,
    utcnow,
)
from tui_pos.models.db import is_sqlite
from tui_pos.progress import Progress
from tui_pos.services import audit, consent, users
from tui_pos.services.store.customers import CustomerView, view, view_for_pricing, views  # noqa: F401 - re-exported

CONTACT_FIELDS = ("name", "phone", "mobile", "email", "contact", "birthday", "sms_consent", "email_consent",
                  "marketing_opt_out", "invite_declined",
                  "notes", "cards")
MANAGER_FIELDS = ("fiscal_name", "ruc", "dv", "ruc_type", "nt_person", "groups", "rate", "payment_status",
                  "status")
FIELD_WORDS = {"fiscal_name": "the fiscal name", "ruc": "the RUC", "dv": "the DV", "ruc_type": "the RUC type",
               "nt_person": "the NT person type", "groups": "the groups", "rate": "the price rate",
               "payment_status": "the payment status", "status": "the status",
               "name": "the name", "phone": "the phone", "mobile": "the mobile", "email": "the email",
               "contact": "the contact", "birthday": "the birthday", "notes": "the notes",
               "cards": "the cards"}   # the PIN prompt says these
CONSENT_FIELDS = ("sms_consent", "email_consent", "marketing_opt_out", "invite_declined")  # the customer's say
CONSENT_COLUMNS = ["sms_consent", "email_consent"]   # optional in customers.csv: yes/no, recorded as "import"
CSV_COLUMNS = ["code", "name", "phone", "mobile", "email", "ruc", "dv", "ruc_type", "fiscal_name", "group",
               "rate", "card", "payment_status", "status", "birthday", "points"]


class FormError(PosError):
    """One or more fields are wrong; `errors` says which and why. Nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# ------------------------------------------------------------------ validation

def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "0", "false", "no", "n"):
        return False
    if text in ("1", "true", "yes", "y"):
        return True
    raise InputError(f"{value!r} is not yes or no.")


def clean(data: dict, region: str) -> dict:
    """Check every given field; return clean values or raise FormError naming each bad field."""
    out: dict = {}
    errors: dict[str, str] = {}

    def attempt(name: str, fn_: Callable[[Any], object]) -> None:
        if name not in data:
            return
        value = data[name]
        at = control_at(value) if isinstance(value, str) and _may_have_control(value) else None
        if at is not None:    # ESC p is a cash drawer's pulse; ESC [ 2 J clears a screen: never stored
            errors[name] = (f"has a control character (code {ord(value[at - 1])}) at character {at}: "
                            "retype it as plain text")
            return
        try:
            out[name] = fn_(value)
        except InputError as exc:
            errors[name] = str(exc)

    def optional(fn_: Callable[[Any], object]) -> Callable[[Any], object]:
        return lambda v: (fn_(v) if str(v or "").strip() else None)

    attempt("name", lambda v: str(v or "").strip())
    attempt("phone", optional(lambda v: rules.normalize_phone(str(v), region)))
    attempt("mobile", optional(lambda v: rules.normalize_phone(str(v), region)))
    attempt("email", optional(lambda v: rules.normalize_email(str(v))))
    attempt("contact", lambda v: str(v or "").strip())
    attempt("birthday", optional(lambda v: rules.check_birthday(
        v if isinstance(v, _dt.date) else rules.parse_date(str(v), "birthday"), _dt.date.today())))
    attempt("fiscal_name", lambda v: str(v or "").strip())
    attempt("notes", lambda v: str(v or "").strip())
    attempt("sms_consent", _bool)
    attempt("email_consent", _bool)
    attempt("marketing_opt_out", _bool)
    attempt("invite_declined", _bool)

    def ruc_type(v: Any) -> str:
        v = str(v or "").strip().lower()
        if v and v not in rules.RUC_TYPES:
            raise InputError(f"RUC type {v!r}: use one of {', '.join(rules.RUC_TYPES)}.")
        return v
    attempt("ruc_type", ruc_type)

    def nt_person(v: Any) -> str:
        v = str(v or "").strip().lower()
        if v and v not in ("natural", "juridical"):
            raise InputError("NT person type: natural or juridical.")
        return v
    attempt("nt_person", nt_person)

    def payment_status(v: Any) -> int:
        v = str(v).strip() or "0"
        if v not in ("0", "1", "2"):
            raise InputError("payment status is 0 (valid), 1 (pending payments) or 2 (defaulter).")
        return int(v)
    attempt("payment_status", payment_status)

    def status(v: Any) -> str:
        v = str(v or "").strip().lower() or "open"
        if v not in ("open", "closed"):
            raise InputError("status is open or closed.")
        return v
    attempt("status", status)

    def codes(v: Any) -> list[str]:
        items = v if isinstance(v, (list, tuple)) else str(v or "").replace("|", " ").split()
        return [str(i).strip() for i in items if str(i).strip()]
    attempt("cards", codes)
    attempt("groups", lambda v: [g.strip() for g in (v if isinstance(v, (list, tuple)) else str(v or "").split("|"))
                                 if g.strip()])
    attempt("rate", lambda v: str(v or "").strip().upper())

    if "ruc" in data or "dv" in data:
        ruc_text = str(data.get("ruc") or "").strip()
        dv_text = str(data.get("dv") or "").strip()
        if ruc_text:
            try:
                out["dv"] = ruc_rules.check(ruc_text, dv_text, out.get("nt_person") or data.get("nt_person") or None)
                out["ruc"] = ruc_rules.normalize(ruc_text)
            except InputError as exc:
                errors["dv" if "DV" in str(exc) and "does not match" in str(exc) else "ruc"] = str(exc)
        elif dv_text:
            errors["ruc"] = "A DV was given without a RUC."
        else:
            out["ruc"], out["dv"] = None, ""
    if errors:
        raise FormError(errors)
    return out


# ------------------------------------------------------------------ saving

def _index_words(customer_id: int, name: str) -> None:
    CustomerWord.delete().where(CustomerWord.customer == customer_id).execute()
    words = sorted(set(search_key(name).split()))
    if words:
        CustomerWord.insert_many([{"word": w[:60], "customer": customer_id} for w in words]).execute()


def _check_unique(values: dict, customer_id: int | None) -> None:
    errors = {}
    for fld, column in (("phone", Customer.phone), ("ruc", Customer.ruc)):
        if values.get(fld):
            other = Customer.select().where(column == values[fld])
            if customer_id is not None:
                other = other.where(Customer.id != customer_id)
            other = other.first()
            if other is not None:
                errors[fld] = f"already belongs to {other.name or other.code} ({other.code})"
    for code in values.get("cards") or []:
        owner = LoyaltyCard.get_or_none(LoyaltyCard.code.in_(card_spellings(code)))
        if owner is not None and owner.customer_id != customer_id:
            holder = owner.customer
            errors["cards"] = f"card {code} already belongs to {holder.name or holder.code} ({holder.code})"
    if errors:
        raise FormError(errors)


def _apply(customer: Customer, values: dict, *, source: str = "counter", user_id: int | None = None,
           register: str = "", consent_at: _dt.datetime | None = None) -> list[str]:
    """Write clean values to a customer row; returns the fields that changed.

    A change of consent is also written to the consent log with `source` (where it was given or withdrawn) and
    `user_id` (who took it), in the same transaction."""
    changed = []
    simple = ("name", "phone", "mobile", "email", "contact", "birthday", "fiscal_name", "ruc", "dv", "ruc_type",
              "nt_person", "payment_status", "status", "sms_consent", "email_consent", "marketing_opt_out",
              "invite_declined", "notes")
    for fld in simple:
        if fld in values and getattr(customer, fld) != values[fld]:
            setattr(customer, fld, values[fld])
            changed.append(fld)
    if "phone" in changed:
        customer.phone_rev = rules.national_reversed(customer.phone) if customer.phone else None
    if "mobile" in changed:
        customer.mobile_rev = rules.national_reversed(customer.mobile) if customer.mobile else None
    if "rate" in values:
        rate_id = None
        if values["rate"]:
            rate = PriceRate.get_or_none(PriceRate.code == values["rate"])
            if rate is None:
                raise FormError({"rate": f"no price rate {values['rate']}"})
            rate_id = rate.id
        if customer.price_rate_id != rate_id:
            customer.price_rate = rate_id
            changed.append("rate")
    customer.save()
    consent.record_changes(customer.id, {f: values[f] for f in changed if f in consent.FIELDS}, source=source,
                           user_id=user_id, register=register, at=consent_at)
    if "name" in changed:
        _index_words(customer.id, customer.name)
    if "groups" in values:
        wanted = []
        for name in values["groups"]:
            group = group_named(name)
            if group is None:
                raise FormError({"groups": f"no customer group {name!r}"})
            wanted.append(group.id)
        have = {m.group_id for m in CustomerGroupMember.select().where(CustomerGroupMember.customer == customer.id)}
        if set(wanted) != have:
            CustomerGroupMember.delete().where(CustomerGroupMember.customer == customer.id).execute()
            for gid in sorted(set(wanted)):
                CustomerGroupMember.create(customer=customer.id, group=gid)
            changed.append("groups")
    if "cards" in values:
        have_cards = [k.code for k in LoyaltyCard.select().where(LoyaltyCard.customer == customer.id)]
        if sorted(have_cards) != sorted(set(values["cards"])):
            LoyaltyCard.delete().where(LoyaltyCard.customer == customer.id).execute()
            for code in dict.fromkeys(values["cards"]):
                LoyaltyCard.create(code=code, customer=customer.id)
            changed.append("cards")
    return changed


def _approve(fiscal: list[str], edited: list[str], approver_id: int | None, user_id: int | None) -> int | None:
    """Seed 003: "The employee must have an specific role to do that." Changing what a record already
    holds is `customer_edit`; its fiscal data, groups, rate and status are `customer_fiscal` (both a
    manager's by default, `[permissions]`). Filling in an empty field and recording the customer's
    consent are the counter's (seed 001: details can follow)."""
    approved = None
    for action, fields in (("customer_edit", edited), ("customer_fiscal", fiscal)):
        if fields:
            what = "changing " + ", ".join(FIELD_WORDS.get(f, f.replace("_", " ")) for f in fields)
            approved = users.approve(action, approver_id, f"{what[0].upper()}{what[1:]} needs "
                                     f"{users.pin_words(action)}.", user_id=user_id) or approved
    return approved


def _has_value(value: object) -> bool:
    return value not in (None, "", [], (), 0)


def create(data: dict, *, region: str, user_id: int | None = None, approver_id: int | None = None,
           register: str = "", source: str = "counter") -> CustomerView:
    """A new customer; any field may be left for later except that something identifies them."""
    values = clean(data, region)
    if not (values.get("name") or values.get("phone") or values.get("mobile") or values.get("cards")):
        raise FormError({"name": "give at least a name, a phone or a card"})
    gated = [f for f in MANAGER_FIELDS if values.get(f) not in (None, "", [], 0, "open")]
    with db.atomic():
        approved = _approve(gated, [], approver_id, user_id)
        _check_unique(values, None)
        code = str(data.get("code") or "").strip().upper()
        if code and Customer.select().where(Customer.code == code).exists():
            raise FormError({"code": f"customer code {code} is taken"})
        customer = Customer.create(code=code or f"TMP-{utcnow().timestamp()}")
        if not code:
            customer.code = f"C{customer.id:06d}"
        _apply(customer, values, source=source, user_id=user_id, register=register)
        audit.record("customer.create", user_id=user_id, approved_by=approved, register=register,
                     customer=customer.code, fields=sorted(k for k in values if values[k] not in (None, "", [])))
        return view(customer.id)


def update(customer_id: int, data: dict, *, region: str, user_id: int | None = None,
           approver_id: int | None = None, register: str = "", source: str = "counter") -> CustomerView:
    """Change fields; the manager-only ones need `approver_id` (NeedsManager otherwise)."""
    values = clean(data, region)
    with db.atomic():
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None:
            raise InputError("That customer no longer exists.")
        before = view(customer_id)
        current = {"rate": before.rate, "groups": list(before.groups), "cards": list(before.cards)}
        touched = [f for f in values if (current[f] if f in current else getattr(customer, f)) != values[f]
                   and not (f in ("groups", "cards") and sorted(current[f]) == sorted(values[f]))]
        held = {f: (current[f] if f in current else getattr(customer, f)) for f in touched}
        approved = _approve([f for f in touched if f in MANAGER_FIELDS],
                            [f for f in touched if f not in MANAGER_FIELDS and f not in CONSENT_FIELDS
                             and _has_value(held[f])], approver_id, user_id)
        _check_unique(values, customer_id)
        changed = _apply(customer, values, source=source, user_id=user_id, register=register)
        gated = [f for f in changed if f in MANAGER_FIELDS]
        if changed:
            audit.record("customer.update", user_id=user_id, approved_by=approved, register=register,
                         customer=customer.code, fields=changed,
                         before={f: str(getattr(before, f)) for f in gated},
                         after={f: str(values.get(f)) for f in gated})
        return view(customer_id)


def create_with_phone(phone: str, *, region: str, user_id: int | None = None, register: str = "",
                      invite: bool = True) -> CustomerView:
    """Seed 001: an unknown phone at the register becomes a customer; details can follow.

    The customer "will automatically receive a SMS for the creation of his account after his first visits"
    (seed 004) unless they say no at the counter (`invite=False`); either answer is in the consent log."""
    with db.atomic():
        created = create({"phone": phone, "invite_declined": not invite}, region=region, user_id=user_id,
                         register=register)
        if invite:   # no field changed, but the cashier told them and they did not say no: keep that too
            consent.record(created.id, "invite_declined", False, source="counter", user_id=user_id,
                           register=register)
        return created


# ------------------------------------------------------------------ finding

def card_spellings(code: str) -> list[str]:
    """A card code as typed and in either case: `loy-0001` finds LOY-0001 (each by the unique index)."""
    code = code.strip()
    return list(dict.fromkeys((code, code.upper(), code.lower())))


def by_card(code: str) -> CustomerView | None:
    card = LoyaltyCard.get_or_none(LoyaltyCard.code.in_(card_spellings(code)))
    return view(card.customer_id) if card else None


@dataclass(frozen=True)
class LookupResult:
    """What F2 found for the text typed."""

    customers: tuple[CustomerView, ...]
    new_phone: str = ""   # a valid phone nobody has: Enter creates the customer with it
    message: str = ""


def _range(column: Any, prefix: str) -> Any:
    """`column` starts with `prefix`, as an index range (LIKE would scan)."""
    return (column >= prefix) & (column < prefix + "\uffff")


def lookup(text: str, *, region: str, limit: int = 20) -> LookupResult:
    """Phone (any format), last 4+ digits, name word prefixes, code, RUC, email or card."""
    raw = text.strip()
    if not raw:
        return LookupResult(())
    if raw.lower().startswith("tier:"):
        members = tuple(list_customers(tier=raw[5:].strip(), limit=limit))
        return LookupResult(members, message="" if members else f"No customer in tier {raw[5:].strip()!r}.")
    if raw.lower().startswith("group:"):
        members = tuple(list_customers(group=raw[6:].strip(), limit=limit))
        return LookupResult(members, message="" if members else f"No customer in group {raw[6:].strip()!r}.")
    ids: list[int] = []

    def add(query: Any) -> None:
        for row in query.limit(limit).tuples():
            if row[0] not in ids:
                ids.append(row[0])

    new_phone = ""
    if rules.looks_like_phone(raw):
        digits = rules.digits_of(raw)
        try:
            e164 = rules.normalize_phone(raw, region)
        except InputError:
            e164 = ""
        if e164:
            add(Customer.select(Customer.id).where((Customer.phone == e164) | (Customer.mobile == e164)))
            if not ids:
                new_phone = e164
        if not ids and len(digits) >= 4:
            rev = digits[::-1]
            add(Customer.select(Customer.id).where(_range(Customer.phone_rev, rev)))
            add(Customer.select(Customer.id).where(_range(Customer.mobile_rev, rev)))
            if ids:
                new_phone = ""
    if "@" in raw:
        add(Customer.select(Customer.id).where(Customer.email == raw.lower()))
    add(Customer.select(Customer.id).where(Customer.code == raw.upper()))
    ruc = ruc_rules.normalize(raw)
    if "-" in ruc and any(ch.isdigit() for ch in ruc):    # "8-274" finds 8-274-125 (by its leading part)
        add(Customer.select(Customer.id).where(_range(Customer.ruc, ruc)))
    else:
        add(Customer.select(Customer.id).where(Customer.ruc == ruc))
    add(Customer.select(Customer.id).join(LoyaltyCard).where(LoyaltyCard.code.in_(card_spellings(raw))))
    words = search_key(raw).split()
    if words and not rules.looks_like_phone(raw):
        query = Customer.select(Customer.id)
        for i, word in enumerate(words):
            alias = CustomerWord.alias(f"w{i}")
            query = query.join(alias, on=(alias.customer == Customer.id)).where(_range(alias.word, word))
        add(query.distinct())  # no ORDER BY: it would sort every match of a common word
    found = tuple(views(ids[:limit]))
    message = ""
    if not found:
        message = (f"No customer with {raw}: a new one with phone {rules.format_phone(new_phone)}."
                   if new_phone else f"No customer matches {raw!r}.")
    return LookupResult(found, new_phone, message)


def list_customers(*, group: str = "", tier: str = "", limit: int = 200) -> list[CustomerView]:
    """Customers by name, filtered by group and/or loyalty tier (by lifetime points)."""
    query = Customer.select(Customer.id).order_by(Customer.name)
    if tier:
        from tui_pos.services import loyalty
        prog = loyalty.program()
        tiers = list(prog.tiers) if prog else []
        index = next((i for i, t in enumerate(tiers) if t.name.lower() == tier.lower()), None)
        if index is None:
            return []
        query = query.where(Customer.points_earned >= tiers[index].threshold)
        if index + 1 < len(tiers):
            query = query.where(Customer.points_earned < tiers[index + 1].threshold)
    if group:
        query = (query.join(CustomerGroupMember).join(CustomerGroup)
                 .where(fn.LOWER(CustomerGroup.name) == group.lower()))
    return views([row[0] for row in query.limit(limit).tuples()])


def groups() -> list[tuple[str, int]]:
    return [(g.name, g.discount_bp) for g in CustomerGroup.select().order_by(CustomerGroup.name)]


def group_named(name: str) -> CustomerGroup | None:
    """Group names are one whatever their case: `vip` is the group `VIP`."""
    return CustomerGroup.get_or_none(fn.LOWER(CustomerGroup.name) == name.strip().lower())


def set_group(name: str, discount_bp: int, *, user_id: int | None = None) -> None:
    """Create a group or change its discount; `vip` changes `VIP` (it keeps its spelling)."""
    if not name.strip() or not 0 <= discount_bp <= 10000:
        raise InputError("A group needs a name and a discount from 0 to 100 %.")
    with db.atomic():
        group = group_named(name)
        if group is None:
            group = CustomerGroup.create(name=name.strip(), discount_bp=discount_bp)
        else:
            CustomerGroup.update(discount_bp=discount_bp).where(CustomerGroup.id == group.id).execute()
        audit.record("group.set", user_id=user_id, group=group.name, discount_bp=discount_bp)


def rename_group(old: str, new: str, *, user_id: int | None = None) -> None:
    with db.atomic():
        group = group_named(old)
        if group is None:
            raise InputError(f"No customer group {old.strip()!r}.")
        other = group_named(new)
        if not new.strip():
            raise InputError("A group needs a name.")
        if other is not None and other.id != group.id:
            raise InputError(f"There is a group {other.name!r} already.")
        CustomerGroup.update(name=new.strip()).where(CustomerGroup.id == group.id).execute()
        audit.record("group.rename", user_id=user_id, group=group.name, to=new.strip())


def delete_group(name: str, *, user_id: int | None = None) -> int:
    """Delete a group; its customers leave it (and lose its discount on their next note). Returns how many."""
    with db.atomic():
        group = group_named(name)
        if group is None:
            raise InputError(f"No customer group {name.strip()!r}.")
        members = CustomerGroupMember.delete().where(CustomerGroupMember.group == group.id).execute()
        CustomerGroup.delete().where(CustomerGroup.id == group.id).execute()
        audit.record("group.delete", user_id=user_id, group=group.name, customers=members)
        return members


# ------------------------------------------------------------------ history

@dataclass(frozen=True)
class Detail:
    """Seed 000's customer history."""

    customer: CustomerView
    total_spent_cents: int
    visits: int
    average_ticket_cents: int
    recent: tuple[tuple[str, _dt.datetime, int], ...] = field(default_factory=tuple)


def detail(customer_id: int, recent: int = 10) -> Detail:
    c = view(customer_id)
    paid = Note.select().where(Note.customer == customer_id, Note.status == "paid")
    sales = paid.where(Note.kind == "sale")
    total = paid.select(fn.COALESCE(fn.SUM(Note.total_cents), 0)).scalar()
    visits = sales.count()
    rows = (paid.select(Note.receipt_no, Note.closed_at, Note.total_cents).order_by(Note.id.desc())
            .limit(recent).tuples())
    return Detail(c, total, visits, total // visits if visits else 0, tuple(rows))


# ------------------------------------------------------------------ import / export

def import_customers(path: str | Path, *, region: str, user_id: int | None = None,
                     opening_points: Callable[[int, int, int], object] | None = None,
                     update: bool = False, progress: Progress | None = None,
                     opening_balances: Callable[[list[tuple[int, int, int]]], object] | None = None,
                     ) -> tuple[int, int, int]:
    """All-or-nothing; rows matched on code, else on the normalized phone. Returns (created, updated, unchanged),
    counted in customers.

    A row never rewrites a customer it does not name (issue 28, item 8): the phone or a card of an existing
    customer on a row of another code (a card: or of no code), or of another row of the same file, is
    refused naming that customer or line, unless `update` says to merge the rows into one customer (their
    cards and groups are then added, not replaced). An empty cell never blanks what a customer has.
    `points` is an opening balance, written by `opening_points(customer_id, points, line)` (the loyalty
    service) for a customer the import creates, for each of its rows; a re-import of a known customer
    brings none (its balance is the ledger's now), nor does a row merged into a customer who was there
    before the import (the audit entry lists those). Cells are checked by domain/imports.py.

    In bulk (issue 23): the whole file is checked first, then the database is read in a few set-based
    queries, every create and change worked out in memory, group by group in the file's order (each group
    sees what the ones before it did, as one customer at a time would), and written in one transaction with
    `executemany` (COPY on PostgreSQL). `opening_balances(rows)` takes every opening balance at once, as
    (customer_id, points, line) rows (loyalty.opening_balances); it is used instead of `opening_points`.
    `progress(done, total, what)` is told how far the reading and the writing are.
    """
    from tui_pos.services.catalog import ImportError_, encoding_error
    report = progress or _no_progress
    path = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ImportError_(path, 0, None, "", f"cannot open the file ({exc.strerror or exc})") from None
    # consent in the file was given when the file was written: its date is the consent's
    file_date = _dt.datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, _dt.UTC).replace(tzinfo=None)
    size = os.fstat(handle.fileno()).st_size
    with handle, db.atomic():
        reader = csv.DictReader(handle, strict=True)
        try:
            header = reader.fieldnames or []
            missing = [c for c in CSV_COLUMNS if c not in header]
            if missing:
                raise ImportError_(path, 1, None, "", cell_rules.missing_columns(list(header), missing, CSV_COLUMNS))

            def fail(line: int, name: str, message: str) -> ImportError_:
                column = {"groups": "group", "cards": "card"}.get(name, name)
                return ImportError_(path, line, header.index(column) + 1 if column in header else None, column,
                                    message)
            rows = _read_customer_rows(reader, header, region, fail,
                                       lambda: report(os.lseek(handle.fileno(), 0, os.SEEK_CUR), size,
                                                      "checking the file"))
        except csv.Error as exc:
            raise ImportError_(path, reader.line_num, None, "", f"malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise encoding_error(path) from None
        tally = _ImportTally()
        groups = _group_rows(rows, update, fail)
        plan = _ImportPlan(groups, user_id=user_id, file_date=file_date, progress=report)
        for done, group in enumerate(groups, 1):
            plan.take(group, update=update, fail=fail, tally=tally)
            if done % 10_000 == 0:
                report(done, len(groups), "matching customers")
        plan.write()
        if opening_balances is not None and plan.openings:
            opening_balances(plan.openings)
        elif opening_points is not None:
            for cid, points, line in plan.openings:
                opening_points(cid, points, line)
        audit.record("import.customers", user_id=user_id, file=path, created=tally.created, updated=tally.updated,
                     unchanged=tally.unchanged, updated_codes=cell_rules.listed(tally.updated_codes),
                     merged=cell_rules.listed(tally.merged), points_not_added=cell_rules.listed(tally.points_not_added),
                     update=update)
        report(len(groups), len(groups), "written")
    return tally.created, tally.updated, tally.unchanged


def _no_progress(done: int, total: int, what: str) -> None:
    """No bar (services never print)."""


@dataclass
class _ImportRow:
    """One row of customers.csv, checked."""

    line: int
    code: str
    values: dict                        # clean() of every cell: what a new customer gets
    filled: dict                        # the cells that were not empty: all that changes a customer who is there
    opening: int                        # points: an opening balance
    keys: list[tuple[str, str]]         # ("phone", e164), ("card", CODE): what identifies the customer


@dataclass
class _ImportTally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_codes: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    points_not_added: list[str] = field(default_factory=list)


@functools.cache
def _control_pattern() -> re.Pattern[str]:
    """Every character `control_at` finds (and any beyond the BMP, which the exact check then reads): a row
    this never matches has no control character, so the per-character check is skipped."""
    found = "".join(re.escape(chr(c)) for c in range(0x10000) if control_at(chr(c)) is not None)
    return re.compile(f"[{found}\U00010000-\U0010ffff]")


def _may_have_control(text: str) -> bool:
    return _control_pattern().search(text) is not None


def _read_customer_rows(reader: csv.DictReader[str], header: Sequence[str], region: str,
                        fail: Callable[[int, str, str], PosError],
                        tick: Callable[[], None] | None = None) -> list[_ImportRow]:
    """Every row checked (the cells, the codes), nothing written yet."""
    known = [c for c in header if c in CSV_COLUMNS or c in CONSENT_COLUMNS]
    limits = {name: cell_rules.MAX_CODE if name in ("code", "card") else cell_rules.MAX_TEXT for name in known}
    rows: list[_ImportRow] = []
    seen_codes: dict[str, int] = {}
    for count, row in enumerate(reader, 1):
        line = reader.line_num
        if tick is not None and count % 10_000 == 0:
            tick()
        if None in row or any(v is None for v in row.values()):
            raise fail(line, "", "the number of fields differs from the header")
        if not any((v or "").strip() for v in row.values()):
            continue
        plain = not _may_have_control("".join(row.values()))   # the common case, told by one regular expression
        for name in known:     # plain text, of a length a column holds: before anything reads it
            cell = row[name]
            if plain and len(cell) <= limits[name]:
                continue
            try:
                cell_rules.check_text(cell, cell_rules.MAX_CODE if name == "code" else cell_rules.MAX_TEXT)
                for card in (cell.replace("|", " ").split() if name == "card" else ()):
                    cell_rules.check_text(card, cell_rules.MAX_CODE)
            except InputError as exc:
                raise fail(line, name, str(exc)) from None
        data = {k: from_csv_cell(row[k]) for k in ("name", "phone", "mobile", "email", "ruc", "dv", "ruc_type",
                                                   "fiscal_name", "rate", "payment_status", "status", "birthday")}
        data["groups"] = row["group"]
        data["cards"] = row["card"]
        for optional_column in CONSENT_COLUMNS:     # consent given to the system the file comes from
            if optional_column in header and (row[optional_column] or "").strip():
                data[optional_column] = row[optional_column]
        try:
            values = clean(data, region)
            opening = cell_rules.points(row["points"]) if row["points"].strip() else 0
        except FormError as exc:
            raise fail(line, *next(iter(exc.errors.items()))) from None
        except InputError as exc:
            raise fail(line, "points", str(exc)) from None
        code = row["code"].strip().upper()
        if code in seen_codes:
            raise fail(line, "code", f"code {code} is also on line {seen_codes[code]}")
        if code:
            seen_codes[code] = line
        filled = {k: v for k, v in values.items()
                  if str(data.get(k) or "").strip() or (k == "dv" and str(data["ruc"]).strip())}
        keys = ([("phone", values["phone"])] if values.get("phone") else []) + \
            [("card", card.upper()) for card in values.get("cards") or []]
        rows.append(_ImportRow(line, code, values, filled, opening, keys))
    return rows


def _group_rows(rows: list[_ImportRow], update: bool,
                fail: Callable[[int, str, str], PosError]) -> list[list[_ImportRow]]:
    """The rows of one customer together: rows that share a phone or a card. Two such rows are refused,
    naming both lines, unless `update` says they are one customer to merge."""
    groups: list[list[_ImportRow]] = []
    owner: dict[tuple[str, str], int] = {}
    for r in rows:
        hits = list(dict.fromkeys(owner[k] for k in r.keys if k in owner))
        if hits and not update:
            what, value = next(k for k in r.keys if k in owner)
            earlier = next(e for e in groups[owner[(what, value)]] if (what, value) in e.keys)
            raise fail(r.line, what, f"{what} {value} is also on line {earlier.line} "
                                     f"({f'customer {earlier.code}' if earlier.code else 'a row without code'}): "
                                     "two rows of one customer are merged only with --update")
        if not hits:
            groups.append([])
            hits = [len(groups) - 1]
        into = hits[0]
        for other in hits[1:]:      # this row joins two groups: they are one customer
            groups[into] += groups[other]
            groups[other] = []
        groups[into].append(r)
        if len(groups[into]) > 1:
            groups[into].sort(key=lambda e: e.line)
        for e in groups[into] if len(hits) > 1 else [r]:
            for k in e.keys:
                owner[k] = into
    return [g for g in groups if g]


# the columns an import writes, as `_apply` does (its `simple` fields)
_FIELDS = ("name", "phone", "mobile", "email", "contact", "birthday", "fiscal_name", "ruc", "dv", "ruc_type",
           "nt_person", "payment_status", "status", "sms_consent", "email_consent", "marketing_opt_out",
           "invite_declined", "notes")
_ROW_COLUMNS = (*_FIELDS, "phone_rev", "mobile_rev", "price_rate")
_CARDS, _MEMBERS = LoyaltyCard._meta.table_name, CustomerGroupMember._meta.table_name


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _in_batch() -> int:
    """How many values an IN (...) or a multi-row statement takes: SQLite counts its variables."""
    return 900 if is_sqlite() else 10_000


def _column(model: Any, name: str) -> str:
    return str(model._meta.fields[name].column_name)


def _insert_rows(model: Any, names: Sequence[str], rows: list[tuple]) -> None:
    """Plain rows into `model`'s table in the caller's transaction: COPY on PostgreSQL, else executemany."""
    if not rows:
        return
    table = model._meta.table_name
    columns = ", ".join(f'"{_column(model, n)}"' for n in names)
    conn = db.obj.connection()
    if is_sqlite():
        conn.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(names))})', rows)
        return
    with conn.cursor() as cursor, cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def _execute_many(sql: str, rows: list[tuple]) -> None:
    """One statement over many rows (`?` placeholders, turned into the driver's)."""
    if not rows:
        return
    conn = db.obj.connection()
    if is_sqlite():
        conn.executemany(sql, rows)
        return
    with conn.cursor() as cursor:
        cursor.executemany(sql.replace("?", "%s"), rows)


def _rows_in(sql: str, values: Collection[Any]) -> list[tuple]:
    """`sql` run with `{}` standing for "IN every one of `values`", in one statement: a JSON array that
    SQLite reads with json_each, an array parameter on PostgreSQL (no IN list of a million markers)."""
    if not values:
        return []
    if is_sqlite():
        return list(db.execute_sql(sql.format("IN (SELECT value FROM json_each(?))"), (json.dumps(list(values)),)))
    return list(db.execute_sql(sql.format("= ANY(%s)"), (list(values),)))


def _delete_where_in(model: Any, column: str, ids: Sequence[int]) -> None:
    for batch in _batches(list(ids), _in_batch()):
        model.delete().where(getattr(model, column).in_(list(batch))).execute()


class _ImportPlan:
    """What an import writes, worked out in memory from a few reads (issue 23).

    `take` does for one group of rows what writing them one customer at a time did: the same checks in the
    same order, the same refusals, against the database as the groups before it left it (an index of the
    customers the file names, kept up to date as the plan goes). `write` then writes it all at once.
    """

    def __init__(self, groups: list[list[_ImportRow]], *, user_id: int | None, file_date: _dt.datetime,
                 progress: Progress) -> None:
        self.user_id, self.file_date, self.progress = user_id, file_date, progress
        rows = [r for g in groups for r in g]
        codes = {r.code for r in rows if r.code}
        phones = {r.values["phone"] for r in rows if r.values.get("phone")}
        rucs = {r.values["ruc"] for r in rows if r.values.get("ruc")}
        cards = {s for r in rows for c in r.values.get("cards") or [] for s in (*card_spellings(c), c.upper().lower())}
        self.by_code: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_ruc: dict[str, set[int]] = {}     # a RUC is not unique in the database: everyone holding it
        self.card_owner: dict[str, int] = {}      # a card's exact code -> its customer
        for column, wanted, index in (("code", codes, self.by_code), ("phone", phones, self.by_phone)):
            index.update(_rows_in(f'SELECT "{column}", "id" FROM "customer" WHERE "{column}" {{}}', wanted))
        for ruc, cid in _rows_in('SELECT "ruc", "id" FROM "customer" WHERE "ruc" {}', rucs):
            self.by_ruc.setdefault(ruc, set()).add(cid)
        self.card_owner.update(_rows_in(f'SELECT "code", "customer_id" FROM "{_CARDS}" WHERE "code" {{}}', cards))
        self.known: dict[int, dict] = {}            # the customers the file names, as the plan leaves them
        ids = sorted({*self.by_code.values(), *self.by_phone.values(), *(i for s in self.by_ruc.values() for i in s),
                      *self.card_owner.values()})
        self._load(ids)
        self.rates = dict(PriceRate.select(PriceRate.code, PriceRate.id).tuples())
        self.group_ids = dict(CustomerGroup.select(fn.LOWER(CustomerGroup.name), CustomerGroup.id).tuples())
        self.group_names = dict(CustomerGroup.select(CustomerGroup.id, CustomerGroup.name).tuples())
        self.created: list[int] = []
        self.changed: dict[int, set[str]] = {}      # an existing customer -> what `write` rewrites of them
        self.consents: list[tuple] = []
        self.openings: list[tuple[int, int, int]] = []
        self._ids: list[int] = []
        self._left = len(groups)                    # groups not planned yet
        self._next_id = 0

    def _load(self, ids: list[int]) -> None:
        columns = ", ".join(f'"{_column(Customer, f)}"' for f in ("id", "code", *_ROW_COLUMNS))
        for row in _rows_in(f'SELECT {columns} FROM "customer" WHERE "id" {{}}', ids):
            rec = dict(zip(("id", "code", *_ROW_COLUMNS), row, strict=True))
            for f in ("sms_consent", "email_consent", "marketing_opt_out", "invite_declined"):
                rec[f] = bool(rec[f])              # SQLite gives 0 and 1
            if isinstance(rec["birthday"], str):   # SQLite gives text
                rec["birthday"] = _dt.date.fromisoformat(rec["birthday"])
            rec.update(cards=[], groups=set())
            self.known[rec["id"]] = rec
        for code, cid in _rows_in(f'SELECT "code", "customer_id" FROM "{_CARDS}" WHERE "customer_id" {{}} '
                                  'ORDER BY "id"', ids):
            self.known[cid]["cards"].append(code)
        for cid, gid in _rows_in(f'SELECT "customer_id", "group_id" FROM "{_MEMBERS}" '
                                 'WHERE "customer_id" {}', ids):
            self.known[cid]["groups"].add(gid)

    def _new_id(self) -> int:
        """A new customer's id, taken now so that its code (C000123) is known while planning."""
        if is_sqlite():
            if not self._next_id:     # the transaction began IMMEDIATE: no other writer until it ends
                self._next_id = int(Customer.select(fn.COALESCE(fn.MAX(Customer.id), 0)).scalar()) + 1
            self._next_id += 1
            return self._next_id - 1
        if not self._ids:     # in blocks, no bigger than the groups left to plan: few numbers go unused
            cursor = db.execute_sql("SELECT nextval(pg_get_serial_sequence('customer', 'id')) "
                                    "FROM generate_series(1, %s)", (max(1, min(1000, self._left)),))
            self._ids = sorted((row[0] for row in cursor.fetchall()), reverse=True)
        return int(self._ids.pop())

    def _card_holder(self, code: str) -> int | None:
        return next((self.card_owner[s] for s in card_spellings(code) if s in self.card_owner), None)

    def _named(self, cid: int) -> str:
        rec = self.known[cid]
        return f"{rec['name'] or rec['code']} ({rec['code']})"

    def _check_unique(self, values: dict, customer_id: int | None) -> None:
        """`_check_unique` against the plan."""
        errors = {}
        holder = self.by_phone.get(values["phone"]) if values.get("phone") else None
        if holder is not None and holder != customer_id:
            errors["phone"] = f"already belongs to {self._named(holder)}"
        others = sorted(self.by_ruc.get(values["ruc"], set()) - {customer_id}) if values.get("ruc") else []
        if others:
            errors["ruc"] = f"already belongs to {self._named(others[0])}"
        for code in values.get("cards") or []:
            owner = self._card_holder(code)
            if owner is not None and owner != customer_id:
                errors["cards"] = f"card {code} already belongs to {self._named(owner)}"
        if errors:
            raise FormError(errors)

    def _apply(self, cid: int, values: dict) -> list[str]:
        """`_apply` on the plan: the fields that change, the indexes and the consent log kept up to date."""
        rec = self.known[cid]
        changed = [f for f in _FIELDS if f in values and rec[f] != values[f]]
        before = {f: rec[f] for f in ("phone", "ruc")}
        for f in changed:
            rec[f] = values[f]
        if "phone" in changed:
            rec["phone_rev"] = _national_reversed(rec["phone"]) if rec["phone"] else None
        if "mobile" in changed:
            rec["mobile_rev"] = _national_reversed(rec["mobile"]) if rec["mobile"] else None
        if "rate" in values:
            rate_id = None
            if values["rate"]:
                rate_id = self.rates.get(values["rate"])
                if rate_id is None:
                    raise FormError({"rate": f"no price rate {values['rate']}"})
            if rec["price_rate"] != rate_id:
                rec["price_rate"] = rate_id
                changed.append("rate")
        for f in changed:
            if f in consent.FIELDS:
                channel, purpose, granted_when = consent.FIELDS[f]
                self.consents.append((cid, channel, purpose, values[f] == granted_when, "import", self.user_id, "",
                                      self.file_date))
        if "groups" in values:
            wanted = []
            for name in values["groups"]:
                gid = self.group_ids.get(name.strip().lower())
                if gid is None:
                    raise FormError({"groups": f"no customer group {name!r}"})
                wanted.append(gid)
            if set(wanted) != rec["groups"]:
                rec["groups"] = set(wanted)
                changed.append("groups")
        if "cards" in values and sorted(rec["cards"]) != sorted(set(values["cards"])):
            for code in rec["cards"]:
                self.card_owner.pop(code, None)
            rec["cards"] = list(dict.fromkeys(values["cards"]))
            for code in rec["cards"]:
                self.card_owner[code] = cid
            changed.append("cards")
        if "phone" in changed:
            if before["phone"] and self.by_phone.get(before["phone"]) == cid:
                del self.by_phone[before["phone"]]
            if rec["phone"]:
                self.by_phone[rec["phone"]] = cid
        if "ruc" in changed:
            self.by_ruc.get(before["ruc"], set()).discard(cid)
            if rec["ruc"]:
                self.by_ruc.setdefault(rec["ruc"], set()).add(cid)
        if changed and not rec.get("new"):
            self.changed.setdefault(cid, set()).update(changed)
        return changed

    def _create(self, code: str | None) -> int:
        cid = self._new_id()
        code = code or f"C{cid:06d}"
        rec = {"id": cid, "code": code, "new": True, "cards": [], "groups": set(), "phone_rev": None,
               "mobile_rev": None, "price_rate": None}
        rec.update(_new_customer())
        self.known[cid] = rec
        self.by_code[code] = cid
        self.created.append(cid)
        return cid

    def take(self, group: list[_ImportRow], *, update: bool, fail: Callable[[int, str, str], PosError],
             tally: _ImportTally) -> None:
        """One customer's rows: create them, or change only what the rows' filled cells say."""
        first = group[0]
        self._left -= 1
        codes = [r.code for r in group if r.code]
        by_code = sorted({self.by_code[c] for c in codes if c in self.by_code})
        if len(by_code) > 1:
            a, b = (self.known[i]["code"] for i in by_code[:2])
            line = next(r.line for r in group if r.code == b)
            raise fail(line, "code", f"rows {', '.join(str(r.line) for r in group)} join customers "
                                     f"{a} and {b}: merge two customers by hand")
        customer, merged = (by_code[0] if by_code else None), len(group) > 1
        if customer is None:
            for r in group:
                for what, value in r.keys:
                    holder = self.by_phone.get(value) if what == "phone" else self._card_holder(value)
                    if holder is None or customer is not None:
                        continue
                    if not codes and what == "phone":
                        customer = holder    # SPEC: a row is matched on its code, else on the normalized phone
                    elif not update:
                        rec = self.known[holder]
                        raise fail(r.line, what, f"{what} {value} belongs to customer {rec['code']} "
                                                 f"({rec['name'] or 'no name'}); a row of "
                                                 f"{'another code' if r.code else 'no code'} does not change them: "
                                                 f"--update merges it into {rec['code']}")
                    else:
                        customer, merged = holder, True
        filled: dict = {}
        line_of: dict[str, int] = {}     # the line a value comes from: a refusal names it
        for r in group:
            for k, v in r.filled.items():
                filled[k] = list(dict.fromkeys([*filled[k], *v])) if k in ("cards", "groups") and k in filled else v
                line_of[k] = r.line
        try:
            if customer is None:
                values = {**first.values, **filled}
                self._check_unique(values, None)
                if not (values.get("name") or values.get("phone") or values.get("cards")):
                    raise FormError({"name": "a customer needs a name, a phone or a card"})
                customer = self._create(codes[0] if codes else None)
                self._apply(customer, values)
                tally.created += 1
                if sum(r.opening for r in group) > MAX_POINTS:
                    raise fail(group[-1].line, "points", f"the opening balances of lines "
                                                         f"{', '.join(str(r.line) for r in group)} add up to more "
                                                         f"than {MAX_POINTS:,}, the most points a balance holds")
                self.openings += [(customer, r.opening, r.line) for r in group if r.opening]
                code = self.known[customer]["code"]
                own = [r for r in group if r.code == code] or [first]
            else:
                values = dict(filled)
                rec = self.known[customer]
                if merged:           # a merge adds cards and groups; it takes none away
                    held = {"cards": rec["cards"], "groups": sorted(self.group_names[g] for g in rec["groups"])}
                    for name in ("cards", "groups"):
                        if name in values:
                            values[name] = list(dict.fromkeys([*held[name], *values[name]]))
                self._check_unique(values, customer)
                code = rec["code"]
                if self._apply(customer, values):
                    tally.updated += 1
                    tally.updated_codes.append(code)
                else:
                    tally.unchanged += 1
                own = [r for r in group if r.code == code] or ([first] if not codes else [])
                for r in group:
                    if r.opening and r not in own:
                        tally.points_not_added.append(f"line {r.line} ({r.code or 'no code'}): {r.opening}")
        except FormError as exc:
            name, message = next(iter(exc.errors.items()))
            raise fail(line_of.get(name, first.line), name, message) from None
        tally.merged += [f"line {r.line} ({r.code or 'no code'}) into {code}" for r in group if r not in own]

    def write(self) -> None:
        """Everything the plan holds, in the caller's transaction: changed customers, then new ones, then
        their words, groups, cards and consent events."""
        now = utcnow()
        changed = sorted(self.changed)
        total = len(changed) + len(self.created)
        self.progress(0, total, "writing customers")
        # a phone that moves from one customer to another: let go of every changed phone first
        moved = [(cid,) for cid in changed if "phone" in self.changed[cid]]
        _execute_many('UPDATE "customer" SET "phone" = NULL WHERE "id" = ?', moved)
        settings = ", ".join(f'"{_column(Customer, f)}" = ?' for f in _ROW_COLUMNS)
        rewritten = [cid for cid in changed if self.changed[cid] & {*_FIELDS, "rate"}]
        for batch in _batches(rewritten, 10_000):
            _execute_many(f'UPDATE "customer" SET {settings} WHERE "id" = ?',
                          [(*(self.known[cid][f] for f in _ROW_COLUMNS), cid) for cid in batch])
        renamed = [cid for cid in changed if "name" in self.changed[cid]]
        regrouped = [cid for cid in changed if "groups" in self.changed[cid]]
        recarded = [cid for cid in changed if "cards" in self.changed[cid]]
        _delete_where_in(CustomerWord, "customer", renamed)
        _delete_where_in(CustomerGroupMember, "customer", regrouped)
        _delete_where_in(LoyaltyCard, "customer", recarded)
        names = ("id", "code", *_ROW_COLUMNS, "created_at", "points_balance", "points_earned", "points_redeemed",
                 "visits")
        for done, batch in enumerate(_batches(self.created, 20_000)):
            _insert_rows(Customer, names, [(cid, self.known[cid]["code"],
                                            *(self.known[cid][f] for f in _ROW_COLUMNS), now, 0, 0, 0, 0)
                                           for cid in batch])
            self.progress(len(changed) + done * 20_000 + len(batch), total, "writing customers")
        words, members, cards = [], [], []
        for cid in [*self.created, *renamed]:
            words += [(w[:60], cid) for w in sorted(set(search_key(self.known[cid]["name"]).split()))]
        for cid in [*self.created, *regrouped]:
            members += [(cid, gid) for gid in sorted(self.known[cid]["groups"])]
        for cid in [*self.created, *recarded]:
            cards += [(code, cid) for code in self.known[cid]["cards"]]
        _insert_rows(CustomerWord, ("word", "customer"), words)
        _insert_rows(CustomerGroupMember, ("customer", "group"), members)
        _insert_rows(LoyaltyCard, ("code", "customer"), cards)
        _insert_rows(ConsentEvent, ("customer", "channel", "purpose", "granted", "source", "user", "register", "at"),
                     self.consents)
        self.progress(total, total, "writing customers")


@functools.cache
def _defaults() -> dict[str, Any]:
    return {f: Customer._meta.fields[f].default for f in _FIELDS}


def _new_customer() -> dict[str, Any]:
    """A new customer's fields, as the model's defaults make them."""
    return dict(_defaults())


def _national_reversed(e164: str) -> str:
    """`rules.national_reversed`, without parsing the number again: the national number is what follows the
    country code (country codes are prefix-free, 1 to 3 digits), without leading zeros (Italy's)."""
    import phonenumbers
    digits = e164[1:]
    for length in (1, 2, 3):
        if int(digits[:length]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return str(int(digits[length:]))[::-1]
    return rules.national_reversed(e164)


def forget(code: str, *, user_id: int | None = None) -> int:
    """Erase a customer's personal data; their receipts and ledger stay, attached to an anonymous record.

    The row keeps its id and code (receipts, the ledger and the day's reports
    point at it) and its points; name, phones, email, birthday, RUC, notes,
    cards, groups and search words go, consent is withdrawn, the record is
    closed, and the outbox keeps no address or text of theirs. Audited.
    Returns the customer's id.
    """
    from tui_pos.models import Message
    with db.atomic():
        c = Customer.get_or_none(Customer.code == code.strip())
        if c is None:
            raise InputError(f"No customer {code.strip()!r}.")
        withdrawn = {f: (f == "invite_declined") for f in consent.FIELDS
                     if getattr(c, f) != (f == "invite_declined")}
        consent.record_changes(c.id, withdrawn, source="forget", user_id=user_id)
        Customer.update(name="", phone=None, phone_rev=None, mobile=None, mobile_rev=None, email=None, contact="",
                        birthday=None, fiscal_name="", ruc=None, dv="", ruc_type="", nt_person="", notes="",
                        sms_consent=False, email_consent=False, marketing_opt_out=True, invite_declined=True,
                        status="closed",
                        price_rate=None).where(Customer.id == c.id).execute()
        LoyaltyCard.delete().where(LoyaltyCard.customer == c.id).execute()
        CustomerWord.delete().where(CustomerWord.customer == c.id).execute()
        CustomerGroupMember.delete().where(CustomerGroupMember.customer == c.id).execute()
        Message.update(to="", body="", subject="", params="{}").where(Message.customer == c.id).execute()
        Message.update(state="failed", last_error="the customer was forgotten").where(
            Message.customer == c.id, Message.state.in_(("queued", "sending"))).execute()
        audit.record("customer.forget", user_id=user_id, customer_id=c.id, code=c.code)
        return c.id


def export_customers(out: TextIO, *, progress: Progress | None = None) -> int:
    """Write every customer as customers.csv (the import format); returns the count.

    Streamed by code, a page at a time (issue 23): a page's customers in one statement, then their groups and
    cards in one each; a million customers are never in memory at once."""
    report = progress or _no_progress
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    total = Customer.select().count() if progress else 0
    group_names = dict(CustomerGroup.select(CustomerGroup.id, CustomerGroup.name).tuples())
    rates = dict(PriceRate.select(PriceRate.id, PriceRate.code).tuples())
    columns = ", ".join(f'"{_column(Customer, f)}"' for f in (
        "id", "code", "name", "phone", "mobile", "email", "ruc", "dv", "ruc_type", "fiscal_name", "price_rate",
        "payment_status", "status", "birthday", "points_balance"))
    mark = "?" if is_sqlite() else "%s"
    page = f'SELECT {columns} FROM "customer" WHERE "code" > {mark} ORDER BY "code" LIMIT 5000'
    count, after = 0, ""
    while True:
        rows = list(db.execute_sql(page, (after,)))
        if not rows:
            return count
        ids = [r[0] for r in rows]
        groups: dict[int, list[str]] = {}
        for cid, gid in _rows_in(f'SELECT "customer_id", "group_id" FROM "{_MEMBERS}" WHERE "customer_id" {{}}', ids):
            groups.setdefault(cid, []).append(group_names[gid])
        cards: dict[int, list[str]] = {}
        for cid, code in _rows_in(f'SELECT "customer_id", "code" FROM "{_CARDS}" WHERE "customer_id" {{}} '
                                  'ORDER BY "id"', ids):
            cards.setdefault(cid, []).append(code)
        writer.writerows([csv_cell(v) for v in (
            code, name, phone or "", mobile or "", email or "", ruc or "", dv, ruc_type, fiscal_name,
            "|".join(sorted(groups.get(cid, ()))), rates.get(rate, "") if rate else "", "|".join(cards.get(cid, ())),
            payment_status, status, str(birthday) if birthday else "", balance)]
            for (cid, code, name, phone, mobile, email, ruc, dv, ruc_type, fiscal_name, rate, payment_status, status,
                 birthday, balance) in rows)
        count += len(rows)
        after = rows[-1][1]
        report(count, total, "customers written")


__all__ = ["create", "update", "lookup", "view", "detail", "import_customers", "export_customers"]
