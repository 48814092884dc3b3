"""The loyalty ledger: every movement appended, the balance kept equal to its sum."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, TypedDict

from peewee import JOIN, ModelSelect, fn

from tui_pos.domain import loyalty as rules
from tui_pos.domain import pricing
from tui_pos.domain.errors import BalanceChanged
from tui_pos.models import Customer, LoyaltyMovement, LoyaltyProgram, Note, NoteLine, Product, Section, db, utcnow
from tui_pos.models.db import is_sqlite
from tui_pos.models.prepared import prepared
from tui_pos.services import audit
from tui_pos.services.store import ledger

REDEEMING = ("redeem", "offer")   # the kinds that spend points (a customer's points_redeemed)


def movement_key(document: str, kind: str, part: str = "") -> str:
    """The ledger row's unique key: the document and what the row is for, so it is written once.

    `R1-000007:earn`, `R1-000007:redeem`, `R1-000007:offer:SKU` for a sale; `R1-000009:return:earn`,
    `...:return:redeem`, `...:return:offer:SKU` for a refund; `adjust:<request id>` for an adjustment.
    (Migration 18 gave the rows written before it the same keys, in SQL.)
    """
    return ":".join(p for p in (document, kind, part) if p)


def adjustment_key(request_id: str) -> str:
    """An adjustment's ledger key: the register's request id for it (a retry finds the first one)."""
    return f"adjust:{request_id}"


@dataclass(frozen=True)
class Movement:
    kind: str
    points: int
    balance_before: int
    balance_after: int


def move(customer_id: int, points: int, kind: str, *, counts_as_earned: bool = False, receipt_no: str | None = None,
         product_sku: str | None = None, register: str = "", user_id: int | None = None, reason: str = "",
         allow_negative: bool = False, key: str | None = None) -> Movement:
    """Append one movement and update the balance in the caller's transaction.

    The balance is changed with a conditional UPDATE, so two registers spending
    the same points cannot both succeed: the second finds no row to update.
    Inside the caller's transaction no savepoint is needed: a refused debit
    has written nothing, and any later failure rolls back the whole sale.
    `key` (`movement_key`) is unique: the same row written twice fails, and the transaction with it.
    """
    with db.atomic() if not db.in_transaction() else contextlib.nullcontext():
        sent = _move_balance(customer_id, points, kind, counts_as_earned=counts_as_earned, product_sku=product_sku,
                          reason=reason, allow_negative=allow_negative)
        return _write_move(sent, receipt_no=receipt_no, register=register, user_id=user_id, key=key)


def movement_by_key(key: str) -> Movement | None:
    """The movement written under `key`, if any (a retried adjustment finds its first outcome)."""
    row = (LoyaltyMovement.select(LoyaltyMovement.kind, LoyaltyMovement.points, LoyaltyMovement.balance_before,
                                  LoyaltyMovement.balance_after).where(LoyaltyMovement.key == key).tuples().first())
    return Movement(*row) if row else None


@dataclass(frozen=True)
class _SentMove:
    """A balance moved, and what its ledger row will say."""

    customer_id: int
    points: int
    kind: str
    counts_as_earned: bool
    product_sku: str | None
    reason: str
    after: ledger.BalanceAfter | None   # None: the balance did not cover it


def _move_balance(customer_id: int, points: int, kind: str, *, counts_as_earned: bool = False,
                  product_sku: str | None = None, reason: str = "", allow_negative: bool = False) -> _SentMove:
    """The balance half of `move`: the conditional UPDATE."""
    guarded = not allow_negative and points < 0
    after = ledger.update_balance(customer_id, points, earned=points if counts_as_earned else 0,
                            redeemed=-points if kind in REDEEMING else 0, need=-points if guarded else 0)
    return _SentMove(customer_id, points, kind, counts_as_earned, product_sku, reason, after)


def _write_move(sent: _SentMove, *, receipt_no: str | None, register: str, user_id: int | None,
                key: str | None = None) -> Movement:
    """The ledger half of `move`: read the balance after the UPDATE (BalanceChanged if it matched no row)
    and append the movement and its month's total."""
    if sent.after is None:
        raise BalanceChanged("The customer's balance changed or is too low for this; check it and try again.")
    points, after = sent.points, sent.after.points
    at = utcnow()
    ledger.append_movement(at, sent.customer_id, sent.kind, points, after - points, after, sent.counts_as_earned,
                            receipt_no, sent.product_sku, register, user_id, sent.reason, key)
    ledger.add_to_month(at.strftime("%Y-%m"), sent.kind, points, register)
    return Movement(sent.kind, points, after - points, after)


def opening_balance(customer_id: int, points: int, *, user_id: int | None = None) -> Movement:
    """An imported balance: an adjustment that also counts as earned, so tiers carry over."""
    return move(customer_id, points, "adjust", counts_as_earned=points > 0, user_id=user_id,
                reason="opening balance (import)", allow_negative=True)


def opening_balances(rows: Sequence[tuple[int, int, int]], *, user_id: int | None = None) -> int:
    """Many imported balances at once (an import's, issue 23): for each (customer_id, points, line) row what
    `opening_balance` writes, in the caller's transaction and in a few statements: the balances and lifetime
    totals moved together, one ledger row per row (in order, each with its balance before and after) and the
    month's total. Every balance stays the sum of its ledger. Returns the ledger rows written."""
    if not rows:
        return 0
    with db.atomic() if not db.in_transaction() else contextlib.nullcontext():
        moved: dict[int, list[int]] = {}     # customer -> [points, earned]
        for cid, points, _line in rows:
            total = moved.setdefault(cid, [0, 0])
            total[0] += points
            total[1] += points if points > 0 else 0
        ids = sorted(moved)
        read = ("SELECT id, points_balance FROM customer WHERE id IN (SELECT value FROM json_each(?))"
                if is_sqlite() else "SELECT id, points_balance FROM customer WHERE id = ANY(%s)")
        # every id in one parameter: a JSON array (SQLite), an array (PostgreSQL)
        balance: dict[int, int] = dict(db.execute_sql(read, (json.dumps(ids) if is_sqlite() else ids,)).fetchall())
        if is_sqlite():
            db.obj.connection().executemany(
                "UPDATE customer SET points_balance = points_balance + ?, points_earned = points_earned + ? "
                "WHERE id = ?", [(p, e, cid) for cid, (p, e) in moved.items()])
        else:
            db.execute_sql("UPDATE customer SET points_balance = points_balance + v.p, "
                           "points_earned = points_earned + v.e FROM (SELECT unnest(%s::bigint[]) AS id, "
                           "unnest(%s::bigint[]) AS p, unnest(%s::bigint[]) AS e) AS v WHERE customer.id = v.id",
                           (ids, [moved[i][0] for i in ids], [moved[i][1] for i in ids]))
        at = utcnow()
        ledger_rows: list[tuple[int, int, int, int, bool]] = []   # customer, points, before, after, earned
        for cid, points, _line in rows:
            before = balance[cid]
            balance[cid] = before + points
            ledger_rows.append((cid, points, before, before + points, points > 0))
        reason = "opening balance (import)"
        columns = ('INSERT INTO "loyalty_movement" ("at", "customer_id", "kind", "points", "balance_before", '
                   '"balance_after", "counts_as_earned", "register", "user_id", "reason") ')
        if is_sqlite():
            db.obj.connection().executemany(columns + "VALUES (?, ?, 'adjust', ?, ?, ?, ?, '', ?, ?)",
                                            [(at, *row, user_id, reason) for row in ledger_rows])
        else:     # one statement: the columns as arrays
            arrays = [list(c) for c in zip(*ledger_rows, strict=True)]
            db.execute_sql(columns + "SELECT %s, unnest(%s::bigint[]), 'adjust', unnest(%s::bigint[]), "
                           "unnest(%s::bigint[]), unnest(%s::bigint[]), unnest(%s::bool[]), '', %s, %s",
                           (at, *arrays, user_id, reason))
        ledger.add_to_months(1, [at.strftime("%Y-%m"), "adjust", sum(r[1] for r in rows), len(rows), ""])
    return len(rows)


def ledger_mismatches() -> list[tuple[str, int, int]]:
    """Customers whose balance is not the sum of their ledger: (code, balance, ledger sum)."""
    sums = (LoyaltyMovement.select(LoyaltyMovement.customer, fn.SUM(LoyaltyMovement.points).alias("total"))
            .group_by(LoyaltyMovement.customer))
    totals = {row.customer_id: row.total for row in sums}
    out = []
    for c in Customer.select(Customer.id, Customer.code, Customer.points_balance):
        total = int(totals.get(c.id) or 0)
        if total != c.points_balance:
            out.append((c.code, c.points_balance, total))
    return out


# ====================================================================== the program

_cached: tuple[object, rules.Program | None] = (None, None)


_checked_at = 0.0
_checked_on: object = None  # the database the check was made on (tests bind a new one each time)
PROGRAM_RECHECK = 0.5   # seconds: a note's several steps share one check; a change is seen on the next note


def program() -> rules.Program | None:
    """The shared program (None before one is imported), re-read when another register changes it.

    Its version is checked at most every PROGRAM_RECHECK seconds (a sale
    makes several calls within a few milliseconds); a new note and this
    process's own saves make the next call check again (`forget_program`).
    """
    if _checked_on is db.obj and time.monotonic() - _checked_at < PROGRAM_RECHECK:
        return _cached[1]
    return take_program_row(ledger.program_version())


def take_program_row(row: tuple | None) -> rules.Program | None:
    """The program, given its version as (id, updated_at) (re-read if it changed; None or NULLs: none)."""
    global _cached, _checked_at, _checked_on
    checked_at, checked_on = time.monotonic(), db.obj
    if row is None or row[0] is None:
        cached: tuple[Any, rules.Program | None] = (None, None)
    else:
        key = (row[0], str(row[1]))   # the stored time, as text on both databases
        cached = _cached
        if cached[0] != key:
            document = LoyaltyProgram.get_by_id(row[0]).document
            cached = (key, rules.Program.from_stored(json.loads(document)))
    # the program first, then when and where it was checked: another thread that finds the check fresh must
    # find this program, never the one before it (the statistics once showed no tiers that way)
    _cached = cached
    _checked_at, _checked_on = checked_at, checked_on
    return cached[1]


def forget_program() -> None:
    """Look the program up again on the next call (after this process saved one)."""
    global _checked_at
    _checked_at = 0.0


def check_mode_change(before: rules.Program | None, after: rules.Program, convert: int | None) -> int:
    """Customers whose balances a switch between points and value mode would reinterpret; ProgramError
    unless `convert` (points per 1.00) says how. Seed 002: "The loyalty module is based on the concept of
    loyalty points or of an amount in pounds": 417 points are not 4.17, unless the store says so."""
    if before is None or before.mode == after.mode:
        return 0
    holders = Customer.select().where((Customer.points_balance != 0) | (Customer.points_earned != 0)).count()
    if holders and convert is None:
        raise rules.ProgramError(
            f"switching from {before.mode} to {after.mode} mode while {holders} customers hold balances: say how "
            "they convert, e.g. tui-pos import loyalty FILE --convert 100 (100 points = 1.00); nothing was changed")
    if convert is not None and convert <= 0:
        raise rules.ProgramError(f"--convert {convert}: give the points worth 1.00, a whole number above 0")
    return holders


def convert_balances(from_mode: str, to_mode: str, per_unit: int, *, user_id: int | None = None,
                     register: str = "") -> int:
    """In the caller's transaction: every balance and lifetime total in the new unit, one ledger movement
    per customer (kind `adjust`, the reason says the conversion). Rounds down. Returns the customers."""
    def convert(value: int) -> int:
        if from_mode == "points":             # points -> cents
            return value * 100 // per_unit
        return value * per_unit // 100        # cents -> points
    done = 0
    rows = list(Customer.select(Customer.id, Customer.points_balance, Customer.points_earned)
                .where((Customer.points_balance != 0) | (Customer.points_earned != 0)).order_by(Customer.id))
    for c in rows:
        delta = convert(c.points_balance) - c.points_balance
        move(c.id, delta, "adjust", register=register, user_id=user_id, allow_negative=True,
             reason=f"{from_mode} to {to_mode} mode at {per_unit} points per 1.00")
        Customer.update(points_earned=convert(c.points_earned)).where(Customer.id == c.id).execute()
        done += 1
    audit.record("loyalty.convert", user_id=user_id, register=register, from_mode=from_mode, to_mode=to_mode,
                 points_per_unit=per_unit, customers=done)
    return done


def import_program(path: str | Path, *, user_id: int | None = None,
                   sales_modes: list[str] | None = None, convert: int | None = None) -> rules.Program:
    """Check loyalty.toml against the catalogue and store it for every register; all or nothing."""
    path = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise rules.ProgramError(f"{path}: cannot open the file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise rules.ProgramError(f"{path}: not valid TOML ({exc})") from None
    sections = {s.name for s in Section.select(Section.name)}
    skus = {p.sku for p in Product.select(Product.sku)}
    try:
        prog = rules.parse_program(raw, sections, skus,
                                   known_sales_modes=set(sales_modes) if sales_modes is not None else None)
    except rules.ProgramError as exc:
        raise rules.ProgramError(f"{path}: {exc}") from None
    with db.atomic():
        before = program()
        try:
            check_mode_change(before, prog, convert)
        except rules.ProgramError as exc:
            raise rules.ProgramError(f"{path}: {exc}") from None
        if before is not None and before.mode != prog.mode and convert:
            convert_balances(before.mode, prog.mode, convert, user_id=user_id)
        LoyaltyProgram.delete().execute()
        LoyaltyProgram.create(document=json.dumps(prog.to_dict()), updated_at=utcnow())
        audit.record("loyalty.program", user_id=user_id, file=path, mode=prog.mode, tiers=len(prog.tiers))
    forget_program()
    return prog


def tier_of(points_earned: int) -> rules.Tier:
    prog = program()
    return prog.tier_for(points_earned) if prog else rules.Tier("", 0)


# ====================================================================== a note's loyalty

@dataclass(frozen=True)
class OfferLine:
    """A line that can be given for points (its product has a points_cost)."""

    line_id: int
    name: str
    qty: int
    offered_qty: int
    points_cost: int


@dataclass(frozen=True)
class NoteLoyalty:
    """What the sale screen shows and F4 and the Offer tab work with."""

    customer_id: int
    balance: int
    tier: str
    will_earn: int
    redeem_points: int
    redeem_cents: int
    offered_points: int
    program: rules.Program
    expiring: int = 0                 # points expiring within 30 days
    expiring_on: object = None        # the first day they do
    stamps: tuple = ()                # stamp offers in progress (services.stamps.Progress)
    earns_nothing: str = ""           # why the note earns nothing (its sales mode or point of sale), or ""

    @property
    def available(self) -> int:
        """Points not yet promised to this note."""
        return self.balance - self.redeem_points - self.offered_points


_EARN_FIELDS = (NoteLine.id, NoteLine.sku, NoteLine.name, NoteLine.qty, NoteLine.unit_price_cents,
                NoteLine.tax_rate_bp, NoteLine.tax_included, NoteLine.discount_percent_bp, NoteLine.discount_cents,
                NoteLine.offered_qty, NoteLine.reward_qty, NoteLine.discount_source, NoteLine.points_cost,
                NoteLine.product, NoteLine.reward_offer)
_EARN_NAMES = ("id", "sku", "name", "qty", "unit_price_cents", "tax_rate_bp", "tax_included", "discount_percent_bp",
               "discount_cents", "offered_qty", "reward_qty", "discount_source", "points_cost", "product_id",
               "reward_offer", "product_points", "section_name")


@prepared(1)
def _q_earn_lines(note: Any) -> ModelSelect:
    return (NoteLine.select(*_EARN_FIELDS, Product.points, Section.name)
            .join(Product, JOIN.LEFT_OUTER, on=(NoteLine.product == Product.id))
            .join(Section, JOIN.LEFT_OUTER, on=(Product.section == Section.id))
            .where(NoteLine.note == note).order_by(NoteLine.id))


@dataclass
class EarnRow:
    """A line of a note as earning reads it (attributes as on NoteLine)."""

    id: int
    sku: str
    name: str
    qty: int
    unit_price_cents: int
    tax_rate_bp: int
    tax_included: bool
    discount_percent_bp: int
    discount_cents: int
    offered_qty: int
    reward_qty: int
    discount_source: str
    points_cost: int | None
    product_id: int | None
    reward_offer: str
    product_points: int | None
    section_name: str | None


def priced(r: EarnRow) -> pricing.PricedLine:
    """A line as pricing reads it (the note's totals)."""
    return pricing.PricedLine(qty=r.qty, unit_price_cents=r.unit_price_cents, tax_rate_bp=r.tax_rate_bp,
                              tax_included=bool(r.tax_included), discount_percent_bp=r.discount_percent_bp,
                              discount_cents=r.discount_cents, offered_qty=r.offered_qty + r.reward_qty)


def earn_lines(note_id: int) -> tuple[list[rules.EarnLine], list[EarnRow]]:
    """The note's lines as earning reads them, and as read."""
    rows = [EarnRow(*r) for r in _q_earn_lines.rows(note_id)]
    out = []
    for ln in rows:
        amounts = pricing.line_amounts(pricing.PricedLine(ln.qty, ln.unit_price_cents, ln.tax_rate_bp,
                                                          bool(ln.tax_included), ln.discount_percent_bp,
                                                          ln.discount_cents, ln.offered_qty + ln.reward_qty))
        out.append(rules.EarnLine(paid_cents=amounts.total_cents, qty=ln.qty - ln.offered_qty - ln.reward_qty,
                                  product_points=ln.product_points, section=ln.section_name or "",
                                  percent_discount=bool(ln.discount_percent_bp) and ln.discount_source == "manual"))
    return out, rows


@prepared(1)
def _q_balance(customer: Any) -> ModelSelect:
    return Customer.select(Customer.points_balance).where(Customer.id == customer)


def multiplier_of(note: Note) -> Fraction:
    return Fraction(Decimal(note.tier_multiplier or "1"))


def note_loyalty(note: Note, point_of_sale: str, earn: tuple[list[rules.EarnLine], list[EarnRow]] | None = None,
                 balance: int | None = None) -> NoteLoyalty | None:
    """The customer's balance and tier and what this note will earn (None without customer or program).

    `earn`, `balance`: the note's lines and the customer's balance when the caller read them."""
    prog = program()
    if prog is None or not note.customer_id:
        return None
    if balance is None:
        balance = _q_balance.scalar(note.customer_id)
    if balance is None:
        raise Customer.DoesNotExist(f"customer {note.customer_id}")
    customer = Customer(id=note.customer_id, points_balance=balance)
    lines, rows = earn if earn is not None else earn_lines(note.id)
    expiring, expiring_on = expiring_soon(customer.id)
    will_earn = rules.earned_points(prog, lines, multiplier=multiplier_of(note), redeemed_cents=note.redeem_cents,
                                    sales_mode=note.sales_mode, point_of_sale=point_of_sale) if rows else 0
    offered = sum(r.offered_qty * (r.points_cost or 0) for r in rows)
    from tui_pos.services import stamps
    why = ""
    if prog.sales_modes and note.sales_mode not in prog.sales_modes:
        why = f"{note.sales_mode} notes earn no points"
    elif prog.points_of_sale and point_of_sale not in prog.points_of_sale:
        why = f"no points at {point_of_sale}"
    return NoteLoyalty(customer.id, customer.points_balance, note.tier_name, will_earn, note.redeem_points,
                       note.redeem_cents, offered, prog, expiring, expiring_on,
                       tuple(stamps.progress(customer.id, prog)), why)


def offer_lines(note_id: int) -> list[OfferLine]:
    return [OfferLine(r.id, r.name, r.qty, r.offered_qty, r.points_cost)
            for r in NoteLine.select().where(NoteLine.note == note_id, NoteLine.points_cost.is_null(False),
                                             NoteLine.qty > 0).order_by(NoteLine.id)]


def can_offer(note: Note, point_of_sale: str) -> bool:
    """Whether F10 opens the Offer tab: the customer can afford at least one offerable unit."""
    state = note_loyalty(note, point_of_sale)
    if state is None:
        return False
    lines = offer_lines(note.id)
    from tui_pos.services import stamps
    if stamps.reward_lines(note.id, note.customer_id, state.program):
        return True
    return any(ln.offered_qty for ln in lines) or any(
        ln.points_cost <= state.available and ln.offered_qty < ln.qty for ln in lines)


# ====================================================================== completing a sale

def settle(note: Note, receipt_no: str, *, point_of_sale: str, register: str, user_id: int | None,
           earn: tuple[list[rules.EarnLine], list[EarnRow]] | None = None) -> rules.Block | None:
    """Write the sale's movements, in the sale's transaction: redemption, offers, then earnings.

    Returns the receipt's loyalty block, which the caller stores on the note.
    A debit that the balance no longer covers raises BalanceChanged and the
    whole sale rolls back: the cashier is told, nothing is half-written.
    `earn`: `earn_lines(note.id)` when the caller read it in this transaction.
    """
    sent = send_settle(note, point_of_sale=point_of_sale, earn=earn)
    return write_settle(sent, receipt_no, register=register, user_id=user_id)[0] if sent is not None else None


@dataclass(frozen=True)
class SentSettle:
    program: rules.Program
    note: Note
    moves: tuple[tuple[str, int, str | None, str], ...]   # (kind, points, product sku, reason), in order
    used: int
    earned: int
    after: ledger.BalanceAfter | None   # None: the balance did not cover the debits
    point_of_sale: str = ""


def send_settle(note: Note, *, point_of_sale: str, earn: tuple[list[rules.EarnLine], list[EarnRow]] | None = None,
                visit_at: _dt.datetime | None = None) -> SentSettle | None:
    """The balance half of `settle`, sent before the receipt number is known: one conditional UPDATE of
    the customer that makes every debit, adds the earning and counts the visit (`visit_at`, when given).
    None: no customer or no program."""
    prog = program()
    if prog is None or not note.customer_id:
        return None
    lines, rows = earn if earn is not None else earn_lines(note.id)
    moves: list[tuple[str, int, str | None, str]] = []
    if note.redeem_points:
        moves.append(("redeem", -note.redeem_points, None, f"{note.redeem_cents} cents off"))
    offered: dict[str, list[int]] = {}   # one ledger row per product (its key): two lines of one product add up
    for r in rows:
        if r.offered_qty:
            entry = offered.setdefault(r.sku, [0, 0])
            entry[0] += r.offered_qty
            entry[1] += r.offered_qty * (r.points_cost or 0)
    for sku, (qty, cost) in offered.items():
        moves.append(("offer", -cost, sku, f"{qty} offered"))
    used = -sum(m[1] for m in moves)
    earned = rules.earned_points(prog, lines, multiplier=multiplier_of(note), redeemed_cents=note.redeem_cents,
                                 sales_mode=note.sales_mode, point_of_sale=point_of_sale)
    if earned:
        moves.append(("earn", earned, None, ""))
    after = ledger.update_balance(note.customer_id, earned - used, earned=earned, redeemed=used, need=used,
                                 visit_at=visit_at)
    return SentSettle(prog, note, tuple(moves), used, earned, after, point_of_sale)


def write_settle(sent: SentSettle, receipt_no: str, *, register: str,
                 user_id: int | None) -> tuple[rules.Block, int | None]:
    """The ledger half of `settle`: the movements, with the receipt number, in one INSERT, and their
    months in one upsert. Returns the receipt's block and the customer's visits."""
    note, prog = sent.note, sent.program
    if sent.after is None:
        raise BalanceChanged("The customer's balance changed or is too low for this; check it and try again.")
    after, visits = sent.after.points, sent.after.visits
    if sent.moves:
        at = utcnow()
        balance = after - sum(points for _, points, _, _ in sent.moves)   # before the first movement
        before = balance
        values: list = []
        months: dict[str, list[int]] = {}
        for kind, points, sku, reason in sent.moves:
            values += [at, note.customer_id, kind, points, balance, balance + points, kind == "earn", receipt_no,
                       sku, register, user_id, reason, movement_key(receipt_no, kind, sku or "")]
            balance += points
            month = months.setdefault(kind, [0, 0])
            month[0] += points
            month[1] += 1
        ledger.append_movements(len(sent.moves), values)
        stamp = at.strftime("%Y-%m")
        ledger.add_to_months(len(months), [v for kind, (points, count) in months.items()
                                        for v in (stamp, kind, points, count, register)])
    else:
        before = after
    if prog.offers:
        from tui_pos.services import stamps
        stamps.settle(note.id, note.customer_id, prog, receipt_no, sales_mode=note.sales_mode,
                      point_of_sale=sent.point_of_sale)
    return rules.Block(before, sent.used, sent.earned, after, note.tier_name, prog.mode == "value"), visits


def reverse(sale: Note, refund_no: str, returned: dict[int, int], *, point_of_sale: str, register: str,
            user_id: int | None) -> int:
    """After a return: take back what the returned units earned, give back the points spent on them.

    `returned` is {sold line id: units returned so far, this return included}.
    Cumulative, so several partial returns add up exactly. Returns the net points moved.
    """
    prog = program()
    if prog is None or not sale.customer_id or sale.loyalty_earned is None:
        return 0
    lines, rows = earn_lines(sale.id)
    kept = [Fraction(r.qty - returned.get(r.id, 0), r.qty) if r.qty else Fraction(0) for r in rows]
    should = rules.earned_after_returns(prog, lines, kept, multiplier=multiplier_of(sale),
                                        redeemed_cents=sale.redeem_cents, sales_mode=sale.sales_mode,
                                        point_of_sale=point_of_sale)
    done = _returned_so_far(sale)
    net = 0
    take_back = (sale.loyalty_earned - done["earn"]) - should
    if take_back:
        # the points come off the lifetime total too: tier progress made by what came back goes with it
        move(sale.customer_id, -take_back, "return", receipt_no=refund_no, register=register, user_id=user_id,
             reason=f"earned on returned units of {sale.receipt_no}", allow_negative=True, counts_as_earned=True,
             key=movement_key(refund_no, "return", "earn"))
        net -= take_back
    gross = [pricing.line_amounts(pricing.PricedLine(r.qty, r.unit_price_cents, r.tax_rate_bp, r.tax_included,
                                                     r.discount_percent_bp, r.discount_cents,
                                                     r.offered_qty + r.reward_qty)).total_cents
             for r in rows]
    all_back = all(returned.get(r.id, 0) >= r.qty for r in rows)
    if sale.redeem_points:
        share = sum(Fraction(g) * (1 - k) for g, k in zip(gross, kept))
        owed = sale.redeem_points if all_back else int(sale.redeem_points * share / max(1, sum(gross)))
        give = owed - done["redeem"]
        if give > 0:
            move(sale.customer_id, give, "return", receipt_no=refund_no, register=register, user_id=user_id,
                 reason=f"redeemed on returned units of {sale.receipt_no}",
                 key=movement_key(refund_no, "return", "redeem"))
            net += give
    owed_offers: dict[str, int] = {}   # per product, as the sale's ledger has them (one row per product)
    for r, k in zip(rows, kept):
        if r.offered_qty and r.points_cost:
            cost = r.offered_qty * r.points_cost
            owed_offers[r.sku] = owed_offers.get(r.sku, 0) + (cost if k == 0 else int(cost * (1 - k)))
    for sku, owed in owed_offers.items():
        give = owed - done["offer"].get(sku, 0)
        if give > 0:
            move(sale.customer_id, give, "return", receipt_no=refund_no, product_sku=sku, register=register,
                 user_id=user_id, reason=f"offered units of {sale.receipt_no}",
                 key=movement_key(refund_no, "return", f"offer:{sku}"))
            net += give
    return net


class _Returned(TypedDict):
    earn: int
    redeem: int
    offer: dict[str, int]   # by product SKU


def _returned_so_far(sale: Note) -> _Returned:
    """Points already moved by earlier returns of this sale, by what they were for."""
    done: _Returned = {"earn": 0, "redeem": 0, "offer": {}}
    refunds = [n.receipt_no for n in Note.select(Note.receipt_no).where(Note.return_of == sale.id,
                                                                         Note.status == "paid")]
    if not refunds:
        return done
    for m in LoyaltyMovement.select().where(LoyaltyMovement.receipt_no.in_(refunds), LoyaltyMovement.kind == "return",
                                            LoyaltyMovement.customer == sale.customer_id):
        if m.reason.startswith("earned"):
            done["earn"] += -m.points
        elif m.reason.startswith("redeemed"):
            done["redeem"] += m.points
        else:
            done["offer"][m.product_sku] = done["offer"].get(m.product_sku, 0) + m.points
    return done


# ====================================================================== report

REPORT_COLUMNS = ["code", "name", "phone", "tier", "balance", "earned", "redeemed", "last_visit"]


def report() -> list[list[str]]:
    """Loyalty per customer: code,name,phone,tier,balance,earned,redeemed,last_visit."""
    redeemed = {cid: -int(total or 0) for cid, total in
                LoyaltyMovement.select(LoyaltyMovement.customer, fn.SUM(LoyaltyMovement.points))
                .where(LoyaltyMovement.kind.in_(["redeem", "offer"])).group_by(LoyaltyMovement.customer).tuples()}
    prog = program()
    rows = []
    for c in Customer.select().order_by(Customer.code):
        tier = prog.tier_for(c.points_earned).name if prog else ""
        rows.append([c.code, c.name, c.phone or "", tier, str(c.points_balance), str(c.points_earned),
                     str(redeemed.get(c.id, 0)), c.last_visit_at.strftime("%Y-%m-%d") if c.last_visit_at else ""])
    return rows


# ====================================================================== expiry

def _lots(customer_id: int, months: int) -> list[tuple[_dt.date, int]]:
    entries = [rules.LedgerEntry(at.date(), points) for at, points in
               LoyaltyMovement.select(LoyaltyMovement.at, LoyaltyMovement.points)
               .where(LoyaltyMovement.customer == customer_id).order_by(LoyaltyMovement.id).tuples()]
    return rules.open_lots(entries, months)


def expire_points(customer_id: int, today: _dt.date | None = None) -> int:
    """Write an `expire` movement for the points whose time has come; returns how many."""
    prog = program()
    if prog is None or not prog.expire_months:
        return 0
    today = today or _dt.date.today()
    with db.atomic():
        due = rules.expired_points(_lots(customer_id, prog.expire_months), today)
        if due > 0:
            move(customer_id, -due, "expire", reason=f"earned more than {prog.expire_months} months ago",
                 allow_negative=True)
        return max(due, 0)


def expiring_soon(customer_id: int, days: int = 30, today: _dt.date | None = None) -> tuple[int, _dt.date | None]:
    """Points that expire within `days` (the customer panel shows them) and the first day."""
    prog = program()
    if prog is None or not prog.expire_months:
        return 0, None
    return rules.expiring_within(_lots(customer_id, prog.expire_months), today or _dt.date.today(), days)
