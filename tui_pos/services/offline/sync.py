"""Sending an offline register's journal to the server, exactly once (issue 24, docs/offline.md).

Entries go in journal order, each in one server transaction that also writes its uid into `sync_applied`
(UNIQUE): a replay after a lost answer, a crash or kill -9 finds the uid and applies nothing, then marks the
entry sent. A sale's ledger rows keep their keys (UNIQUE too). Points spent offline are taken with the same
conditional UPDATE the register uses online; when the balance no longer covers them (the customer spent on two
offline registers) what is there is taken and the rest is a discrepancy for the manager, never a balance
below zero.

Runs in a thread routed to the server (`db.routed`): the models below talk to the server; the replica is read
with its own sqlite3 connection.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peewee import DataError, IntegrityError

from tui_pos.models import (
    ConsentEvent,
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    CustomerWord,
    LoyaltyCard,
    Note,
    NoteLine,
    Payment,
    Product,
    Register,
    SyncApplied,
    SyncDiscrepancy,
    db,
    utcnow,
)
from tui_pos.models.db import is_connection_error, is_sqlite
from tui_pos.models.prepared import Prepared, prepared
from tui_pos.services import audit, printing
from tui_pos.services.store import ledger

_AUTO_CODE = re.compile(r"^(C\d+|TMP-.*)$")
_SPENT = ("redeem", "offer")


@dataclass
class Report:
    """What a sync did."""

    sent: int = 0                 # entries applied now
    already: int = 0              # entries the server had (a replay)
    sales: int = 0
    returns: int = 0
    customers: int = 0
    discrepancies: int = 0
    seconds: float = 0.0
    receipts: list[str] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)     # replica print jobs now queued on the server instead
    failed: int = 0               # entries the server refused (kept on the register, a discrepancy each)


def _dt_of(text: Any) -> _dt.datetime | None:
    if text in (None, ""):
        return None
    if isinstance(text, _dt.datetime):
        return text
    return _dt.datetime.fromisoformat(str(text))


def _row(conn: sqlite3.Connection, table: str, row_id: int) -> sqlite3.Row | None:
    return conn.execute(f'SELECT * FROM "{table}" WHERE id = ?', (row_id,)).fetchone()


BATCH = 100    # entries per server transaction: a commit per sale was a fifth of a 5,000-sale journal's time


@dataclass
class _Context:
    """What the entries of one sync share: the register's row, and the rows earlier entries became."""

    register: str
    register_id: int
    customers: dict[int, int]                  # customers made offline: replica id -> server id
    notes: dict[int, int] = field(default_factory=dict)   # sales sent in this batch: replica id -> server id
    top_seq: int = 0                           # the highest receipt sequence written
    taken: set[str] = field(default_factory=set)          # receipt numbers of this batch the server has
    products: set[int] = field(default_factory=set)       # products of this batch's lines the server has
    customers_there: set[int] = field(default_factory=set)   # customers of this batch the server has

    def look_ahead(self, conn: sqlite3.Connection, entries: list[sqlite3.Row]) -> None:
        """Three reads for a whole batch, instead of three per sale: which of its receipt numbers, products
        and customers the server has."""
        refs = [int(e["ref"]) for e in entries if e["kind"] in ("sale", "return")]
        self.taken, self.products, self.customers_there = set(), set(), set()
        if not refs:
            return
        marks = ", ".join("?" * len(refs))
        receipts = [r[0] for r in conn.execute(f"SELECT receipt_no FROM note WHERE id IN ({marks})", refs)]
        self.taken = {r for (r,) in Note.select(Note.receipt_no).where(Note.receipt_no.in_(receipts)).tuples()}
        products = [r[0] for r in conn.execute(
            f"SELECT DISTINCT product_id FROM note_line WHERE note_id IN ({marks}) AND product_id IS NOT NULL", refs)]
        if products:
            self.products = {int(p) for (p,) in Product.select(Product.id).where(Product.id.in_(products)).tuples()}
        people = [r[0] for r in conn.execute(
            f"SELECT DISTINCT customer_id FROM note WHERE id IN ({marks}) AND customer_id IS NOT NULL", refs)]
        wanted = {self.customers.get(int(c), int(c)) for c in people}
        if wanted:
            self.customers_there = {int(c) for (c,) in Customer.select(Customer.id).where(
                Customer.id.in_(list(wanted))).tuples()}


def send(conn: sqlite3.Connection, register: str, *, fiscal: Any = None, limit: int | None = None,
         on_entry: Callable[[int], None] | None = None) -> Report:
    """Apply the replica's pending journal entries on the server, in order; returns what was done.

    Entries go BATCH at a time, each batch one server transaction: a connection error or a crash leaves a
    batch either committed with every uid, or not at all; the next call resumes at the first entry still
    pending, and one found in `sync_applied` (a lost answer) is marked sent without being applied again."""
    started = time.perf_counter()
    report = Report()
    reg = Register.get_or_none(Register.code == register)
    if reg is None:
        report.seconds = time.perf_counter() - started
        return report
    ctx = _Context(register, int(reg.id), customer_map(conn))
    while limit is None or report.sent + report.already < limit:
        size = BATCH if limit is None else min(BATCH, limit - report.sent - report.already)
        entries = conn.execute("SELECT * FROM journal WHERE state = 'pending' ORDER BY id LIMIT ?",
                               (size,)).fetchall()
        if not entries:
            break
        done: list[tuple[sqlite3.Row, int | None, bool]] = []
        failed: list[tuple[sqlite3.Row, str]] = []
        ctx.notes.clear()
        ctx.top_seq = 0
        with db.atomic():
            ctx.look_ahead(conn, entries)
            if not is_sqlite():
                # one sync of this register at a time (the register's own worker and `tui-pos sync --now`):
                # the second waits here, then finds the entries applied
                db.execute_sql("SELECT pg_advisory_xact_lock(24, hashtext(%s))", (register,))
            applied = dict(SyncApplied.select(SyncApplied.uid, SyncApplied.server_id)
                           .where(SyncApplied.uid.in_([e["uid"] for e in entries])).tuples())
            for entry in entries:
                if entry["uid"] in applied:
                    server_id, fresh = applied[entry["uid"]], False
                else:
                    try:
                        with db.atomic():     # a savepoint: an entry the server refuses never holds up the rest
                            server_id, fresh = _apply(conn, entry, ctx, fiscal, report), True
                    except (IntegrityError, DataError) as exc:
                        if is_connection_error(exc):
                            raise
                        failed.append((entry, " ".join(str(exc).split())[:500]))
                        _discrepancy(register, "sync_failed", f"{entry['uid']}:failed", report,
                                     detail=f"journal entry {entry['id']} ({entry['kind']}) could not be applied: "
                                            f"{failed[-1][1]}; it stays on the register (`tui-pos sync --now` "
                                            "tries it again)")
                        continue
                if entry["kind"] == "customer" and server_id is not None:
                    ctx.customers[int(entry["ref"])] = int(server_id)
                elif entry["kind"] in ("sale", "return") and server_id is not None:
                    ctx.notes[int(entry["ref"])] = int(server_id)
                done.append((entry, server_id, fresh))
            fresh_rows = [{"uid": e["uid"], "register": register, "kind": e["kind"], "server_id": sid}
                          for e, sid, fresh in done if fresh]
            if fresh_rows:
                SyncApplied.insert_many(fresh_rows).execute()
            if ctx.top_seq:
                Register.update(next_seq=ctx.top_seq + 1).where(
                    (Register.id == ctx.register_id) & (Register.next_seq <= ctx.top_seq)).execute()
        # the server has them for good: now the replica says so (a crash here replays into `applied` above)
        conn.execute("BEGIN IMMEDIATE")
        for job in report.moved:
            conn.execute("UPDATE print_job SET state = 'moved' WHERE id = ? AND state = 'waiting'", (job,))
        conn.executemany("UPDATE journal SET state = 'sent', sent_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), "
                         "server_id = ? WHERE id = ?", [(sid, e["id"]) for e, sid, _ in done])
        conn.executemany("UPDATE journal SET state = 'failed', result = ? WHERE id = ?",
                         [(why, e["id"]) for e, why in failed])
        conn.execute("COMMIT")
        report.moved.clear()
        report.sent += sum(fresh for _, _, fresh in done)
        report.already += sum(not fresh for _, _, fresh in done)
        report.failed += len(failed)
        if on_entry is not None:
            on_entry(report.sent + report.already)
    report.seconds = time.perf_counter() - started
    return report


def made_offline(conn: sqlite3.Connection) -> set[int]:
    """Replica ids of the customers made offline (sent or not)."""
    return {int(r["ref"]) for r in conn.execute("SELECT ref FROM journal WHERE kind = 'customer'")}


def customer_map(conn: sqlite3.Connection) -> dict[int, int]:
    """Customers made offline and already on the server: replica id -> server id."""
    return {int(r["ref"]): int(r["server_id"]) for r in conn.execute(
        "SELECT ref, server_id FROM journal WHERE kind = 'customer' AND state = 'sent' AND server_id IS NOT NULL")}


def _apply(conn: sqlite3.Connection, entry: sqlite3.Row, ctx: _Context, fiscal: Any, report: Report) -> int | None:
    register = ctx.register
    kind = entry["kind"]
    if kind == "customer":
        report.customers += 1
        return _apply_customer(conn, entry, register, report)
    if kind == "audit":
        row = _row(conn, "audit_log", entry["ref"])
        if row is None:
            return None
        try:
            detail = json.loads(row["detail"] or "{}")
        except ValueError:
            detail = {"detail": row["detail"]}
        if not isinstance(detail, dict):
            detail = {"detail": detail}
        detail = {k: v for k, v in detail.items() if k not in ("user_id", "approved_by", "register")}
        audit.record(row["action"], user_id=row["user_id"], approved_by=row["approved_by_id"],
                     register=row["register"] or register, offline_at=row["at"], **detail)
        return None
    return _apply_note(conn, entry, ctx, fiscal, report)


def _discrepancy(register: str, kind: str, key: str, report: Report, **values: Any) -> None:
    SyncDiscrepancy.insert(register=register, kind=kind, key=key, **values).on_conflict_ignore().execute()
    report.discrepancies += 1


def _apply_customer(conn: sqlite3.Connection, entry: sqlite3.Row, register: str, report: Report) -> int | None:
    local = _row(conn, "customer", entry["ref"])
    if local is None:
        return None
    values = {k: local[k] for k in local.keys() if k not in ("id", "code", "points_balance", "points_earned",
                                                              "points_redeemed", "visits", "last_visit_at")}
    for key in ("created_at", "birthday"):
        if values.get(key):
            values[key] = _dt_of(values[key]) if key == "created_at" else _dt.date.fromisoformat(str(values[key]))
    for key in ("sms_consent", "email_consent", "marketing_opt_out", "invite_declined"):
        values[key] = bool(values.get(key))
    # the same person made on the server (or another register) meanwhile: the same phone is the same customer
    for column in ("phone", "mobile", "email"):
        if local[column]:
            same = Customer.get_or_none(getattr(Customer, column) == local[column])
            if same is not None:
                _discrepancy(register, "customer_merged", f"{entry['uid']}:merged", report, customer=same.id,
                             detail=f"customer {local['code']} made offline has the {column} of {same.code}: "
                                    f"their sales, cards and consents went to {same.code}")
                _copy_cards_and_consents(conn, local, int(same.id), register, entry["uid"], report)
                return int(same.id)
    code = str(local["code"])
    auto = bool(_AUTO_CODE.match(code))
    if not auto and Customer.select().where(Customer.code == code).exists():
        _discrepancy(register, "customer_code", f"{entry['uid']}:code", report,
                     detail=f"customer code {code} made offline was taken: given a new code")
        auto = True
    customer = Customer.create(code=f"TMP-{entry['uid']}" if auto else code, **values)
    if auto:
        Customer.update(code=f"C{customer.id:06d}").where(Customer.id == customer.id).execute()
    words = [r["word"] for r in conn.execute("SELECT word FROM customer_word WHERE customer_id = ?", (local["id"],))]
    if words:
        CustomerWord.insert_many([{"word": w, "customer": customer.id} for w in words]).execute()
    groups = [int(g["group_id"]) for g in conn.execute(
        "SELECT group_id FROM customer_group_member WHERE customer_id = ?", (local["id"],))]
    for (group,) in CustomerGroup.select(CustomerGroup.id).where(CustomerGroup.id.in_(groups)).tuples():
        CustomerGroupMember.insert(customer=customer.id, group=group).on_conflict_ignore().execute()
    # a group deleted on the server meanwhile: the customer is simply not in it
    _copy_cards_and_consents(conn, local, int(customer.id), register, entry["uid"], report)
    return int(customer.id)


def _copy_cards_and_consents(conn: sqlite3.Connection, local: sqlite3.Row, customer_id: int, register: str,
                             uid: str, report: Report) -> None:
    """The cards given and the consents said at the counter offline, onto the server's customer."""
    for card in conn.execute("SELECT code FROM loyalty_card WHERE customer_id = ?", (local["id"],)):
        owner = LoyaltyCard.get_or_none(LoyaltyCard.code == card["code"])
        if owner is None:
            LoyaltyCard.create(code=card["code"], customer=customer_id)
        elif owner.customer_id != customer_id:
            _discrepancy(register, "card_taken", f"{uid}:card:{card['code']}", report, customer=customer_id,
                         detail=f"card {card['code']} given offline is already another customer's")
    events = list(conn.execute("SELECT * FROM consent_event WHERE customer_id = ? ORDER BY id", (local["id"],)))
    for c in events:
        ConsentEvent.create(customer=customer_id, channel=c["channel"], purpose=c["purpose"],
                            granted=bool(c["granted"]), source=c["source"], user=c["user_id"],
                            register=c["register"], at=_dt_of(c["at"]))
    # the newest word on each channel's marketing consent is the customer's now (said at the counter)
    latest = {c["channel"]: bool(c["granted"]) for c in events if c["purpose"] == "marketing"}
    changes = {getattr(Customer, f"{channel}_consent"): granted for channel, granted in latest.items()
               if channel in ("sms", "email")}
    if changes:
        Customer.update(changes).where(Customer.id == customer_id).execute()


def _apply_note(conn: sqlite3.Connection, entry: sqlite3.Row, ctx: _Context, fiscal: Any,
                report: Report) -> int | None:
    local = _row(conn, "note", entry["ref"])
    if local is None:
        return None
    uid, register, register_id = entry["uid"], ctx.register, ctx.register_id
    receipt_no, seq = local["receipt_no"], local["seq"]
    if receipt_no in ctx.taken:
        # an online sale took this number (the replica had not seen it): the sale keeps its content, with a
        # number past the server's and past every offline receipt of this journal (which keep theirs), and
        # the manager hears of it
        highest = conn.execute("SELECT max(n.seq) FROM journal j JOIN note n ON n.id = j.ref "
                               "WHERE j.kind IN ('sale', 'return')").fetchone()[0] or 0
        seq = max(int(Register.select(Register.next_seq).where(Register.id == register_id).scalar()),
                  int(highest) + 1, ctx.top_seq + 1)
        Register.update(next_seq=seq + 1).where(Register.id == register_id).execute()
        new_no = f"{register}-{seq:06d}"
        _discrepancy(register, "receipt_clash", f"{uid}:receipt", report, receipt_no=new_no,
                     detail=f"offline receipt {receipt_no} had a number already used online: stored as {new_no}")
        receipt_no = new_no
    ctx.taken.add(receipt_no)
    ctx.top_seq = max(ctx.top_seq, int(seq))     # the register's counter goes past it when the batch ends
    customer_id = local["customer_id"]
    if customer_id is not None:
        made_here = conn.execute("SELECT 1 FROM journal WHERE kind = 'customer' AND ref = ?",
                                 (customer_id,)).fetchone() is not None
        # a customer made offline is on the server under the id their entry got; never under the replica's
        customer_id = ctx.customers.get(int(customer_id)) if made_here else int(customer_id)
        if customer_id is not None and customer_id not in ctx.customers_there and not made_here:
            customer_id = None            # gone from the server meanwhile (forgotten): the sale stays, anonymous
    return_of = None
    if local["return_of_id"] is not None:
        # the sale it returns was sent before it (journal order): the row it became there (renumbered or not)
        return_of = ctx.notes.get(int(local["return_of_id"]))
        if return_of is None:
            sent = conn.execute("SELECT server_id FROM journal WHERE kind = 'sale' AND ref = ? AND state = 'sent'",
                                (local["return_of_id"],)).fetchone()
            return_of = sent["server_id"] if sent is not None else None
    closed_at = _dt_of(local["closed_at"])
    note_id = _q_note.insert(
        register_id, local["kind"], "paid", local["sales_mode"], local["cashier_id"], local["label"],
        _dt_of(local["opened_at"]), closed_at, seq, receipt_no, local["total_cents"], return_of, customer_id,
        local["tier_name"], local["tier_multiplier"], local["redeem_points"], local["redeem_cents"],
        local["loyalty_before"], local["loyalty_used"], local["loyalty_earned"], local["loyalty_after"], uid,
        local["carried_from"])
    _copy_lines(conn, local, int(note_id), return_of, ctx.products)
    if local["carried_from"] is not None:
        _settle_carried(int(local["carried_from"]), register_id, receipt_no, register, uid, report)
    paid = [(note_id, p["tender"], p["amount_cents"], _dt_of(p["created_at"]), p["request_id"] or f"{uid}:{n}")
            for n, p in enumerate(conn.execute("SELECT * FROM payment WHERE note_id = ? ORDER BY id",
                                               (local["id"],)))]
    if paid:
        _rows(Payment, _PAYMENT_FIELDS, len(paid)).execute(*[v for row in paid for v in row])
    if customer_id is not None:
        _apply_points(conn, local, receipt_no, customer_id, register, uid, report)
        if local["kind"] == "sale":
            _q_visit.execute(closed_at, customer_id)
    # a receipt the printer had not printed yet (out of paper while offline): queued on the server, whose
    # queue the register prints from once it is back
    waiting = conn.execute("SELECT id, kick_drawer FROM print_job WHERE receipt_no = ? AND state = 'waiting' "
                           "AND started_at IS NULL AND reprint = 0", (local["receipt_no"],)).fetchone()
    if waiting is not None:
        printing.enqueue(register, receipt_no, kick_drawer=bool(waiting["kick_drawer"]))
        report.moved.append(int(waiting["id"]))
    if fiscal is not None:
        from tui_pos.services import fiscal as fiscal_outbox
        fiscal_outbox.enqueue(int(note_id), fiscal, closed_at, kind=local["kind"])
    if local["kind"] == "return":
        report.returns += 1
    else:
        report.sales += 1
    report.receipts.append(receipt_no)
    return int(note_id)


def settle_left_notes(conn: sqlite3.Connection, register: str) -> int:
    """Notes this register left open on the server when it went offline, and went on with on the replica
    without paying them there (say it was restarted meanwhile): cancelled now, if still open and unpaid."""
    reg = Register.get_or_none(Register.code == register)
    if reg is None:
        return 0
    left = [int(r[0]) for r in conn.execute(
        "SELECT DISTINCT carried_from FROM note WHERE carried_from IS NOT NULL AND status <> 'paid'")]
    done = 0
    for note_id in left:
        with db.atomic():
            was = Note.get_or_none((Note.id == note_id) & (Note.register == reg.id) & (Note.status == "open"))
            if was is None:      # its part payments, if any, went on with the note carried from it
                continue
            Note.update(status="cancelled", closed_at=utcnow(), label="went on offline").where(
                Note.id == note_id).execute()
            audit.record("note.went_offline", register=register, note=note_id)
            done += 1
    return done


def _settle_carried(server_note: int, register_id: int, receipt_no: str, register: str, uid: str,
                    report: Report) -> None:
    """The server's note this sale went on from when the server went away: cancelled if still open; if it was
    paid after all (its payment reached the server, its answer did not), the manager hears of a sale twice."""
    was = Note.get_or_none((Note.id == server_note) & (Note.register == register_id))
    if was is None:
        return
    if was.status == "open":
        Note.update(status="cancelled", closed_at=utcnow(), label=f"went on offline as {receipt_no}").where(
            Note.id == server_note).execute()
        audit.record("note.went_offline", register=register, note=server_note, receipt_no=receipt_no)
    elif was.status == "paid":
        _discrepancy(register, "paid_twice", f"{uid}:carried", report, receipt_no=receipt_no,
                     detail=f"note {server_note} was paid on the server as {was.receipt_no} while the register "
                            f"went on with it offline as {receipt_no}: check the money taken for both")


_NOTE_FIELDS = ("register", "kind", "status", "sales_mode", "cashier", "label", "opened_at", "closed_at", "seq",
                "receipt_no", "total_cents", "return_of", "customer", "tier_name", "tier_multiplier",
                "redeem_points", "redeem_cents", "loyalty_before", "loyalty_used", "loyalty_earned",
                "loyalty_after", "uid", "carried_from")
_LINE_FIELDS = ("note", "product", "sku", "name", "qty", "unit_price_cents", "list_price_cents", "tax_rate_bp",
                "tax_included", "discount_percent_bp", "discount_cents", "return_of_line", "price_source",
                "offered_qty", "reward_qty", "reward_offer", "points_cost", "discount_source", "created_at")
_PAYMENT_FIELDS = ("note", "tender", "amount_cents", "created_at", "request_id")


@prepared(len(_NOTE_FIELDS))
def _q_note(*args: Any) -> Any:
    """A sale's row (a statement compiled once: peewee building the SQL was half of a sync's time)."""
    query = Note.insert({getattr(Note, n): a for n, a in zip(_NOTE_FIELDS, args, strict=True)})
    return query if is_sqlite() else query.returning(Note.id)


_q_visit = Prepared(lambda at, customer: Customer.update(
    {Customer.visits: Customer.visits + 1, Customer.last_visit_at: at}).where(Customer.id == customer), 2)
_ROWS: dict[tuple[str, int], Prepared] = {}


def _rows(model: Any, fields: tuple[str, ...], n: int) -> Prepared:
    """An INSERT of n rows of `fields` in one statement, compiled once per model and n."""
    key = (model.__name__, n)
    if key not in _ROWS:
        width = len(fields)

        def build(*args: Any) -> Any:
            return model.insert_many([args[i * width:(i + 1) * width] for i in range(n)],
                                     fields=[getattr(model, f) for f in fields]).as_rowcount()
        _ROWS[key] = Prepared(build, n * width)
    return _ROWS[key]


def _copy_lines(conn: sqlite3.Connection, local: sqlite3.Row, note_id: int, return_of: int | None,
                products: set[int]) -> None:
    lines = conn.execute("SELECT * FROM note_line WHERE note_id = ? ORDER BY id", (local["id"],)).fetchall()
    originals: dict[int, int] = {}
    if return_of is not None and local["return_of_id"] is not None:
        # a returned line is the original's line at the same place: both notes were copied in line order
        mine = [r["id"] for r in conn.execute("SELECT id FROM note_line WHERE note_id = ? ORDER BY id",
                                              (local["return_of_id"],))]
        theirs = [r for (r,) in NoteLine.select(NoteLine.id).where(NoteLine.note == return_of)
                  .order_by(NoteLine.id).tuples()]
        originals = dict(zip(mine, theirs, strict=False))
    values = [v for ln in lines for v in (
        note_id, ln["product_id"] if ln["product_id"] in products else None, ln["sku"], ln["name"], ln["qty"],
        ln["unit_price_cents"], ln["list_price_cents"], ln["tax_rate_bp"], bool(ln["tax_included"]),
        ln["discount_percent_bp"], ln["discount_cents"], originals.get(ln["return_of_line_id"]), ln["price_source"],
        ln["offered_qty"], ln["reward_qty"], ln["reward_offer"], ln["points_cost"], ln["discount_source"],
        _dt_of(ln["created_at"]))]
    if lines:
        _rows(NoteLine, _LINE_FIELDS, len(lines)).execute(*values)


def _apply_points(conn: sqlite3.Connection, local: sqlite3.Row, receipt_no: str, customer_id: int, register: str,
                  uid: str, report: Report) -> None:
    """The note's ledger rows, as the register wrote them, moved on the server's balance."""
    for m in conn.execute("SELECT * FROM loyalty_movement WHERE receipt_no = ? ORDER BY id", (local["receipt_no"],)):
        points, kind = int(m["points"]), m["kind"]
        spent = kind in _SPENT
        # lifetime points (the tier) move with an earned row either way: a return takes its earning back
        earned = points if m["counts_as_earned"] else 0
        if points < 0:
            after = ledger.update_balance(customer_id, points, earned=earned, redeemed=-points if spent else 0,
                                          need=-points)
            if after is None:
                have = int(Customer.select(Customer.points_balance).where(Customer.id == customer_id).scalar() or 0)
                taken = max(0, min(have, -points))
                _discrepancy(register, "overrun", f"{uid}:{m['key']}", report, receipt_no=receipt_no,
                             customer=customer_id, points_asked=-points, points_taken=taken,
                             detail=f"{kind} of {-points} points offline on {register}; the balance held {have} "
                                    f"when the sale reached the server (spent elsewhere meanwhile)")
                points = -taken
                after = ledger.update_balance(customer_id, points, earned=points if m["counts_as_earned"] else 0,
                                              redeemed=taken if spent else 0, need=taken)
        else:
            after = ledger.update_balance(customer_id, points, earned=earned)
        if after is None:      # the customer is gone
            continue
        key = m["key"]
        if key and receipt_no != local["receipt_no"]:
            key = key.replace(local["receipt_no"], receipt_no, 1)
        at = _dt_of(m["at"])
        ledger.append_movement(at, customer_id, kind, points, after.points - points, after.points,
                               bool(m["counts_as_earned"]), receipt_no, m["product_sku"], register, m["user_id"],
                               m["reason"], key)
        ledger.add_to_month(at.strftime("%Y-%m") if at else "", kind, points, register)
