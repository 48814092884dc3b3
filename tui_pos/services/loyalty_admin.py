"""Loyalty beyond the sale (seeds 000, 001, 002, 004): the program's settings, a customer's
account, manual adjustments, the report and the statistics. One transaction per call.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from peewee import SQL, Case, Expression, IntegrityError, ModelSelect, fn

from tui_pos.domain import loyalty as rules
from tui_pos.domain.errors import InputError, PosError
from tui_pos.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    LoyaltyMonth,
    LoyaltyMovement,
    LoyaltyProgram,
    Note,
    Product,
    Section,
    db,
    local_time,
    utcnow,
)
from tui_pos.services import audit, loyalty, users

if TYPE_CHECKING:
    from tui_pos.services.stamps import InProgress, Order, Reached

REPORT_COLUMNS = ["code", "name", "phone", "tier", "balance", "earned", "redeemed", "last_visit"]


# ====================================================================== the program's settings

def program_text() -> str:
    """The program in the SPEC.md loyalty.toml format (for `tui-pos export loyalty` and the editor)."""
    prog = loyalty.program()
    if prog is None:
        raise InputError("No loyalty program yet: import one with `tui-pos import loyalty FILE.toml`.")
    return rules.program_to_toml(prog)


def save_program_text(text: str, *, user_id: int | None = None, register: str = "",
                      sales_modes: list[str] | None = None) -> rules.Program:
    """Check an edited program exactly as the file import does (plus tier order) and store it.

    Every register reads it on its next note. Nothing is saved when anything is wrong.
    """
    if not text.strip():
        raise rules.ProgramError("the program is empty: type it (SPEC.md's loyalty.toml format) or import a file")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise rules.ProgramError(f"not valid TOML ({exc})") from None
    sections = {s.name for s in Section.select(Section.name)}
    skus = {p.sku for p in Product.select(Product.sku)}
    prog = rules.parse_program(raw, sections, skus, strict_order=True,
                               known_sales_modes=set(sales_modes) if sales_modes is not None else None)
    before = loyalty.program()
    loyalty.check_mode_change(before, prog, None)     # a conversion is the import's (--convert), audited there
    with db.atomic():
        LoyaltyProgram.delete().execute()
        LoyaltyProgram.create(document=_json(prog), updated_at=utcnow())
        audit.record("loyalty.settings", user_id=user_id, register=register,
                     changed=_changes(before, prog), tiers=len(prog.tiers))
    loyalty.forget_program()
    return prog


def _json(prog: rules.Program) -> str:
    import json
    return json.dumps(prog.to_dict())


def _changes(before: rules.Program | None, after: rules.Program) -> list[str]:
    """Which top-level settings changed, for the audit log."""
    if before is None:
        return ["(new program)"]
    old, new = before.to_dict(), after.to_dict()
    return sorted(k for k in new if old.get(k) != new[k])


# ====================================================================== manual adjustments

def adjust(customer_id: int, points: int, reason: str, *, manager_id: int | None, max_points: int,
           register: str = "", counts_toward_tier: bool = False, request_id: str | None = None) -> loyalty.Movement:
    """`_adjust`, named by `request_id` when the screen gives one (it makes one per adjustment and keeps it
    while the outcome is unknown): an adjustment already made under it is returned as it was and nothing
    is written again. The id is the ledger row's unique key, so two tries racing each other adjust once."""
    if request_id is None:
        return _adjust(customer_id, points, reason, manager_id=manager_id, max_points=max_points,
                       register=register, counts_toward_tier=counts_toward_tier)
    key = loyalty.adjustment_key(request_id)
    earlier = loyalty.movement_by_key(key)
    if earlier is not None:
        return earlier
    try:
        return _adjust(customer_id, points, reason, manager_id=manager_id, max_points=max_points,
                       register=register, counts_toward_tier=counts_toward_tier, key=key)
    except IntegrityError:
        earlier = loyalty.movement_by_key(key)   # the other try committed first: its adjustment stands
        if earlier is None:
            raise
        return earlier


def _adjust(customer_id: int, points: int, reason: str, *, manager_id: int | None, max_points: int,
            register: str = "", counts_toward_tier: bool = False, key: str | None = None) -> loyalty.Movement:
    """A manager adds (or removes) points with a reason: a ledger movement of kind `adjust`, audited.

    Goodwill is not purchases: the points count toward the customer's tier (their lifetime points earned)
    only when the manager says so (`counts_toward_tier`), e.g. for purchases the register missed."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("Give a reason for the adjustment: it is kept in the ledger and the audit log.")
    if points == 0:
        raise InputError("Type the points to add (e.g. 50) or to remove (e.g. -50).")
    if abs(points) > max_points:
        raise InputError(f"{abs(points)} points is more than a manager may adjust at once "
                         f"([loyalty] max_adjustment = {max_points}).")
    with db.atomic():
        users.approve("loyalty_adjust", manager_id)   # whoever adjusts may (`[permissions]`)
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None:
            raise InputError("That customer no longer exists.")
        try:
            moved = loyalty.move(customer_id, points, "adjust", counts_as_earned=counts_toward_tier,
                                 register=register, user_id=manager_id, reason=reason[:250], key=key)
        except loyalty.BalanceChanged:
            raise InputError(f"{customer.name or customer.code} has {customer.points_balance} points: "
                             f"removing {-points} would go below zero.") from None
        audit.record("loyalty.adjust", user_id=manager_id, approved_by=manager_id, register=register,
                     customer=customer.code, points=points, reason=reason, balance=moved.balance_after,
                     counts_toward_tier=counts_toward_tier)
        return moved


# ====================================================================== a customer's account (seed 001)

@dataclass(frozen=True)
class LedgerRow:
    at: _dt.datetime
    receipt_no: str
    product: str
    kind: str
    before: int
    points: int
    after: int
    reason: str


@dataclass(frozen=True)
class Account:
    customer_id: int
    code: str
    name: str
    balance: int
    earned: int
    tier: str
    next_tier: str
    next_needs: int          # lifetime points still needed for the next tier (0: at the top)
    program: rules.Program = field(default_factory=rules.Program)   # its mode says points or money


def offers(customer_id: int) -> tuple[list[InProgress], list[Reached]]:
    """Seed 001: the customer's offers in progress and offers already reached (services.stamps.history)."""
    from tui_pos.services import stamps
    return stamps.history(customer_id, loyalty.program())


def offer_orders(receipt_nos: tuple[str, ...]) -> list[Order]:
    """The orders behind an offer (seed 001's magnifying glass)."""
    from tui_pos.services import stamps
    return stamps.orders(receipt_nos)


def account(customer_id: int) -> Account:
    c = Customer.get_by_id(customer_id)
    prog = loyalty.program() or rules.Program()
    held = prog.tier_for(c.points_earned)
    above = [t for t in prog.tiers if t.threshold > c.points_earned]
    nxt = above[0] if above else None
    return Account(c.id, c.code, c.name, c.points_balance, c.points_earned, held.name,
                   nxt.name if nxt else "", (nxt.threshold - c.points_earned) if nxt else 0, prog)


def ledger_page(customer_id: int, page: int = 0, per_page: int = 15) -> tuple[list[LedgerRow], int]:
    """One page of the ledger, newest first, and the number of pages."""
    total = LoyaltyMovement.select().where(LoyaltyMovement.customer == customer_id).count()
    pages = max(1, -(-total // per_page))
    page = max(0, min(page, pages - 1))
    rows = (LoyaltyMovement.select().where(LoyaltyMovement.customer == customer_id)
            .order_by(LoyaltyMovement.id.desc()).offset(page * per_page).limit(per_page))
    return [LedgerRow(local_time(r.at), r.receipt_no or "", r.product_sku or "", r.kind, r.balance_before, r.points,
                      r.balance_after, r.reason) for r in rows], pages



# ====================================================================== the report (seed 002)

def _parse_day(text: str | None, name: str) -> _dt.date | None:
    if not text:
        return None
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{name} = {text!r}: expected a date as YYYY-MM-DD") from None


def report(*, date_from: str | None = None, date_to: str | None = None, tier: str = "",
           group: str = "", limit: int | None = None) -> list[list[str]]:
    """`code,name,phone,tier,balance,earned,redeemed,last_visit` per customer, as text (see `report_rows`)."""
    return [[str(v) for v in row] for row in report_rows(date_from=date_from, date_to=date_to, tier=tier,
                                                          group=group, limit=limit)]


def report_rows(*, date_from: str | None = None, date_to: str | None = None, tier: str = "",
                group: str = "", limit: int | None = None) -> Iterator[tuple[Any, ...]]:
    """The report's rows, streamed in customer-code order.

    Without dates, `earned` and `redeemed` are lifetime totals kept on the
    customer (no ledger is read). With dates, they count the movements of that
    period (inclusive, by the ledger's date index) and only customers with a
    movement or a visit in it are listed; `balance` is always today's.
    Filter by tier name and group name. Checks everything before the first row.
    """
    start, end = _parse_day(date_from, "--from"), _parse_day(date_to, "--to")
    if start and end and end < start:
        raise InputError(f"--to {end} is before --from {start}: give the period's first day first")
    prog = loyalty.program()
    tiers = list(prog.tiers) if prog else []
    if tier and not any(t.name.lower() == tier.strip().lower() for t in tiers):
        names = ", ".join(t.name for t in tiers) if tiers else "none (no program)"
        raise InputError(f"No tier {tier!r}: the tiers are {names}.")
    return _report_rows(start, end, prog, tier, group, limit)


def _report_rows(start: _dt.date | None, end: _dt.date | None, prog: rules.Program | None, tier: str, group: str,
                 limit: int | None) -> Iterator[tuple[Any, ...]]:
    period: dict[int, tuple[int, int]] = {}
    if start or end:
        moves = LoyaltyMovement.select(
            LoyaltyMovement.customer,
            fn.SUM(Case(None, [(LoyaltyMovement.counts_as_earned == True, LoyaltyMovement.points)], 0)),  # noqa: E712
            fn.SUM(Case(None, [(LoyaltyMovement.kind.in_(loyalty.REDEEMING), 0 - LoyaltyMovement.points)], 0)))
        if start:
            moves = moves.where(LoyaltyMovement.at >= _dt.datetime.combine(start, _dt.time()))
        if end:
            moves = moves.where(LoyaltyMovement.at < _dt.datetime.combine(end + _dt.timedelta(days=1), _dt.time()))
        period = {cid: (int(e or 0), int(r or 0)) for cid, e, r in moves.group_by(LoyaltyMovement.customer).tuples()}
    query = Customer.select(Customer.id, Customer.code, Customer.name, Customer.phone, Customer.points_balance,
                            Customer.points_earned, Customer.points_redeemed, Customer.last_visit_at)
    if group:
        query = (query.join(CustomerGroupMember, on=(CustomerGroupMember.customer == Customer.id))
                 .join(CustomerGroup, on=(CustomerGroupMember.group == CustomerGroup.id))
                 .where(fn.LOWER(CustomerGroup.name) == group.strip().lower()))
    if tier and prog is not None:   # (a tier without a program was refused by report_rows)
        query = query.where(_tier_condition(prog, tier))
    thresholds = [t.threshold for t in prog.tiers] if prog else []
    names = [""] + [t.name for t in prog.tiers] if prog else [""]
    tier_at = bisect.bisect_right
    value_mode = prog is not None and prog.mode == "value"
    shown = 0
    for cid, code, name, phone, balance, earned, redeemed, last in _pages(query):
        if start or end:
            moved = period.get(cid)
            if moved is None:
                day = _day(last)
                if day is None or (start and day < start) or (end and day > end):
                    continue
                moved = (0, 0)
            earned_out, redeemed_out = moved
        else:
            earned_out, redeemed_out = earned, redeemed
        # numbers stay ints: the CSV writer formats them in C (a million rows); in value mode they are money
        amounts: tuple[int | str, int | str, int | str] = (balance, earned_out, redeemed_out)
        if value_mode:
            amounts = (_decimal(balance), _decimal(earned_out), _decimal(redeemed_out))
        yield (code, name, phone or "", names[tier_at(thresholds, earned)], *amounts,
               last[:10] if last.__class__ is str else _day_text(last))
        shown += 1
        if limit is not None and shown >= limit:
            return


def _decimal(cents: int) -> str:
    """Cents as "4.17" (value mode: the balance is money), exactly, without a float."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"


def _pages(query: ModelSelect, size: int = 20000) -> Iterator[tuple[Any, ...]]:
    """Rows in code order, a page at a time (keyset on the unique code): memory stays flat on any backend.

    Raw rows: peewee's per-row conversions cost more than the query at a million customers.
    """
    last_code = None
    while True:
        page = query.order_by(Customer.code).limit(size)
        if last_code is not None:
            page = page.where(Customer.code > last_code)
        sql, params = page.sql()
        rows = db.execute_sql(sql, params).fetchall()
        yield from rows
        if len(rows) < size:
            return
        last_code = rows[-1][1]


def _day(value: _dt.datetime | str | None) -> _dt.date | None:
    """A stored timestamp's day (SQLite may hand back text from a raw row)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _dt.date.fromisoformat(value[:10])
    return value.date()


def _day_text(value: _dt.datetime | str | None) -> str:
    if value is None:
        return ""
    return value[:10] if isinstance(value, str) else value.strftime("%Y-%m-%d")


def report_count(*, tier: str = "", group: str = "") -> int:
    """How many customers the undated report lists (for "showing N of M")."""
    query = Customer.select()
    prog = loyalty.program()
    if group:
        query = (query.join(CustomerGroupMember, on=(CustomerGroupMember.customer == Customer.id))
                 .join(CustomerGroup, on=(CustomerGroupMember.group == CustomerGroup.id))
                 .where(fn.LOWER(CustomerGroup.name) == group.strip().lower()))
    if tier and prog and any(t.name.lower() == tier.strip().lower() for t in prog.tiers):
        query = query.where(_tier_condition(prog, tier))
    return query.count()


def _tier_condition(prog: rules.Program, tier: str) -> Expression:
    """Customers whose lifetime points put them in `tier` (between its threshold and the next one's)."""
    tiers = list(prog.tiers)
    i = next(i for i, t in enumerate(tiers) if t.name.lower() == tier.strip().lower())
    cond = Customer.points_earned >= tiers[i].threshold
    if i + 1 < len(tiers):
        cond &= Customer.points_earned < tiers[i + 1].threshold
    return cond


# ====================================================================== statistics (seed 000)

@dataclass(frozen=True)
class Statistics:
    enrolled: int                                   # customers with a loyalty account (a card or any movement)
    customers: int
    by_tier: tuple[tuple[str, int], ...]
    months: tuple[tuple[str, int, int], ...]       # (YYYY-MM, issued, redeemed), oldest first
    most_active: tuple[tuple[str, str, int, int], ...]   # (code, name, visits, lifetime points), most points first
    outstanding_points: int
    liability_cents: int
    value_mode: bool = False                        # the balances are money (seed 002)


def statistics(months: int = 12, top: int = 10, today: _dt.date | None = None) -> Statistics:
    """The loyalty figures, each from one aggregate query (the ledger itself is never scanned)."""
    prog = loyalty.program() or rules.Program()
    today = today or _dt.date.today()
    customers = Customer.select().count()
    enrolled = Customer.select().where((Customer.points_earned != 0) | (Customer.points_balance != 0)).count()
    by_tier = []
    tiers = list(prog.tiers)
    if tiers:
        cases = []
        for i, t in enumerate(tiers):
            cond = Customer.points_earned >= t.threshold
            if i + 1 < len(tiers):
                cond &= Customer.points_earned < tiers[i + 1].threshold
            cases.append((cond, i))
        tier_of = Case(None, cases, -1)
        # grouped by position: PostgreSQL sees the CASE's parameters as a different expression otherwise
        counts = dict(Customer.select(tier_of.alias("tier"), fn.COUNT(Customer.id)).group_by(SQL("1")).tuples())
        by_tier = [(t.name, int(counts.get(i, 0))) for i, t in enumerate(tiers)]
        if counts.get(-1):
            by_tier.insert(0, ("(below the first tier)", int(counts[-1])))
    first = _month_back(today, months - 1)
    month_rows: dict[str, tuple[int, int]] = {}
    for month, kind, points in (LoyaltyMonth.select(LoyaltyMonth.month, LoyaltyMonth.kind, fn.SUM(LoyaltyMonth.points))
                                .where(LoyaltyMonth.month >= first).group_by(LoyaltyMonth.month, LoyaltyMonth.kind)
                                .tuples()):
        points = int(points or 0)   # the registers' rows of the month, added up
        issued, redeemed = month_rows.get(month, (0, 0))
        if kind in ("earn", "adjust") and points > 0:
            issued += points
        elif kind in ("redeem", "offer"):
            redeemed -= points
        month_rows[month] = (issued, redeemed)
    series = []
    for k in range(months - 1, -1, -1):
        m = _month_back(today, k)
        series.append((m, *month_rows.get(m, (0, 0))))
    leaders = list(Customer.select(Customer.id, Customer.code, Customer.name, Customer.points_earned)
                   .where(Customer.points_earned > 0).order_by(Customer.points_earned.desc()).limit(top).tuples())
    visits = dict(Note.select(Note.customer, fn.COUNT(Note.id))
                  .where(Note.customer.in_([row[0] for row in leaders]), Note.status == "paid", Note.kind == "sale")
                  .group_by(Note.customer).tuples()) if leaders else {}
    active = [(code, name, int(visits.get(cid, 0)), earned) for cid, code, name, earned in leaders]
    outstanding = int(Customer.select(fn.SUM(Customer.points_balance)).where(Customer.points_balance > 0).scalar() or 0)
    return Statistics(enrolled, customers, tuple(by_tier), tuple(series),
                      tuple(active), outstanding, prog.value_of(outstanding), prog.mode == "value")


def _month_back(today: _dt.date, k: int) -> str:
    y, m = today.year, today.month - k
    while m <= 0:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


__all__ = ["PosError", "REPORT_COLUMNS", "account", "adjust", "ledger_page", "program_text", "report",
           "save_program_text", "statistics"]
