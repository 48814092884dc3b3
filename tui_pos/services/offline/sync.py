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

from tui_pos.models import (
    ConsentEvent,
    Customer,
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
from tui_pos.models.db import is_sqlite
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


def _dt_of(text: Any) -> _dt.datetime | None:
    if text in (None, ""):
        return None
    if isinstance(text, _dt.datetime):
        return text
    return _dt.datetime.fromisoformat(str(text))


def _row(conn: sqlite3.Connection, table: str, row_id: int) -> sqlite3.Row | None:
    return conn.execute(f'SELECT * FROM "{table}" WHERE id = ?', (row_id,)).fetchone()


def send(conn: sqlite3.Connection, register: str, *, fiscal: Any = None, limit: int | None = None,
         on_entry: Callable[[int], None] | None = None) -> Report:
    """Apply the replica's pending journal entries on the server, in order; returns what was done.

    A connection error stops it where it is (the entry in flight is either committed with its uid, or not at
    all): the next call resumes at the first entry still pending."""
    started = time.perf_counter()
    report = Report()
    customers = customer_map(conn)
    while limit is None or report.sent + report.already < limit:
        entry = conn.execute("SELECT * FROM journal WHERE state = 'pending' ORDER BY id LIMIT 1").fetchone()
        if entry is None:
            break
        with db.atomic():
            if not is_sqlite():
                # one sync of this register at a time (the register's own worker and `tui-pos sync --now`):
                # the second waits here, then finds the entry applied
                db.execute_sql("SELECT pg_advisory_xact_lock(24, hashtext(%s))", (register,))
            done = SyncApplied.get_or_none(SyncApplied.uid == entry["uid"])
            if done is not None:
                server_id, fresh = done.server_id, False
            else:
                server_id = _apply(conn, entry, register, customers, fiscal, report)
                SyncApplied.create(uid=entry["uid"], register=register, kind=entry["kind"], server_id=server_id)
                fresh = True
        # the server has it for good: now the replica says so (a crash here replays into `done` above)
        for job in report.moved:
            conn.execute("UPDATE print_job SET state = 'moved' WHERE id = ? AND state = 'waiting'", (job,))
        report.moved.clear()
        conn.execute("UPDATE journal SET state = 'sent', sent_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), "
                     "server_id = ? WHERE id = ?", (server_id, entry["id"]))
        if entry["kind"] == "customer" and server_id is not None:
            customers[int(entry["ref"])] = int(server_id)
        if fresh:
            report.sent += 1
        else:
            report.already += 1
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


def _apply(conn: sqlite3.Connection, entry: sqlite3.Row, register: str, customers: dict[int, int],
           fiscal: Any, report: Report) -> int | None:
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
    return _apply_note(conn, entry, register, customers, fiscal, report)


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
    for group in conn.execute("SELECT group_id FROM customer_group_member WHERE customer_id = ?", (local["id"],)):
        CustomerGroupMember.insert(customer=customer.id, group=group["group_id"]).on_conflict_ignore().execute()
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


def _apply_note(conn: sqlite3.Connection, entry: sqlite3.Row, register: str, customers: dict[int, int],
                fiscal: Any, report: Report) -> int | None:
    local = _row(conn, "note", entry["ref"])
    if local is None:
        return None
    uid = entry["uid"]
    reg = Register.get(Register.code == register)
    receipt_no, seq = local["receipt_no"], local["seq"]
    if Note.select().where(Note.receipt_no == receipt_no).exists():
        # an online sale took this number (the replica had not seen it): the sale keeps its content, with a
        # number past the server's and past every offline receipt of this journal (which keep theirs), and
        # the manager hears of it
        highest = conn.execute("SELECT max(n.seq) FROM journal j JOIN note n ON n.id = j.ref "
                               "WHERE j.kind IN ('sale', 'return')").fetchone()[0] or 0
        seq = max(int(Register.select(Register.next_seq).where(Register.id == reg.id).scalar()), int(highest) + 1)
        Register.update(next_seq=seq + 1).where(Register.id == reg.id).execute()
        new_no = f"{register}-{seq:06d}"
        _discrepancy(register, "receipt_clash", f"{uid}:receipt", report, receipt_no=new_no,
                     detail=f"offline receipt {receipt_no} had a number already used online: stored as {new_no}")
        receipt_no = new_no
    else:
        Register.update(next_seq=seq + 1).where((Register.id == reg.id) & (Register.next_seq <= seq)).execute()
    customer_id = local["customer_id"]
    if customer_id is not None:
        made_here = conn.execute("SELECT 1 FROM journal WHERE kind = 'customer' AND ref = ?",
                                 (customer_id,)).fetchone() is not None
        # a customer made offline is on the server under the id their entry got; never under the replica's
        customer_id = customers.get(int(customer_id)) if made_here else int(customer_id)
        if customer_id is not None and not Customer.select().where(Customer.id == customer_id).exists():
            customer_id = None
    return_of = None
    if local["return_of_id"] is not None:
        # the sale it returns was sent before it (journal order): the row it became there (renumbered or not)
        sent = conn.execute("SELECT server_id FROM journal WHERE kind = 'sale' AND ref = ? AND state = 'sent'",
                            (local["return_of_id"],)).fetchone()
        return_of = sent["server_id"] if sent is not None else None
    closed_at = _dt_of(local["closed_at"])
    note_id = Note.insert(
        register=reg.id, kind=local["kind"], status="paid", sales_mode=local["sales_mode"],
        cashier=local["cashier_id"], label=local["label"], opened_at=_dt_of(local["opened_at"]), closed_at=closed_at,
        seq=seq, receipt_no=receipt_no, total_cents=local["total_cents"], return_of=return_of, customer=customer_id,
        tier_name=local["tier_name"], tier_multiplier=local["tier_multiplier"], redeem_points=local["redeem_points"],
        redeem_cents=local["redeem_cents"], loyalty_before=local["loyalty_before"],
        loyalty_used=local["loyalty_used"], loyalty_earned=local["loyalty_earned"],
        loyalty_after=local["loyalty_after"], uid=uid, carried_from=local["carried_from"]).execute()
    _copy_lines(conn, local, int(note_id), return_of)
    if local["carried_from"] is not None:
        _settle_carried(int(local["carried_from"]), reg.id, receipt_no, register, uid, report)
    for n, p in enumerate(conn.execute("SELECT * FROM payment WHERE note_id = ? ORDER BY id", (local["id"],))):
        Payment.insert(note=note_id, tender=p["tender"], amount_cents=p["amount_cents"],
                       created_at=_dt_of(p["created_at"]), request_id=p["request_id"] or f"{uid}:{n}").execute()
    if customer_id is not None:
        _apply_points(conn, local, receipt_no, customer_id, register, uid, report)
        if local["kind"] == "sale":
            Customer.update(visits=Customer.visits + 1, last_visit_at=closed_at).where(
                Customer.id == customer_id).execute()
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
            if was is None or Payment.select().where(Payment.note == note_id).exists():
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


def _copy_lines(conn: sqlite3.Connection, local: sqlite3.Row, note_id: int, return_of: int | None) -> None:
    lines = conn.execute("SELECT * FROM note_line WHERE note_id = ? ORDER BY id", (local["id"],)).fetchall()
    originals: dict[int, int] = {}
    if return_of is not None and local["return_of_id"] is not None:
        # a returned line is the original's line at the same place: both notes were copied in line order
        mine = [r["id"] for r in conn.execute("SELECT id FROM note_line WHERE note_id = ? ORDER BY id",
                                              (local["return_of_id"],))]
        theirs = [r for (r,) in NoteLine.select(NoteLine.id).where(NoteLine.note == return_of)
                  .order_by(NoteLine.id).tuples()]
        originals = dict(zip(mine, theirs, strict=False))
    products = {int(pid) for (pid,) in Product.select(Product.id).where(
        Product.id.in_([ln["product_id"] for ln in lines if ln["product_id"] is not None])).tuples()}
    for ln in lines:
        NoteLine.insert(
            note=note_id, product=ln["product_id"] if ln["product_id"] in products else None, sku=ln["sku"],
            name=ln["name"], qty=ln["qty"], unit_price_cents=ln["unit_price_cents"],
            list_price_cents=ln["list_price_cents"], tax_rate_bp=ln["tax_rate_bp"],
            tax_included=bool(ln["tax_included"]), discount_percent_bp=ln["discount_percent_bp"],
            discount_cents=ln["discount_cents"], return_of_line=originals.get(ln["return_of_line_id"]),
            price_source=ln["price_source"], offered_qty=ln["offered_qty"], reward_qty=ln["reward_qty"],
            reward_offer=ln["reward_offer"], points_cost=ln["points_cost"], discount_source=ln["discount_source"],
            created_at=_dt_of(ln["created_at"])).execute()


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
