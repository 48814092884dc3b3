"""Panamanian electronic invoices (issue 22, docs/fiscal.md): the fiscal outbox and its sending.

Every sale or return completed while `[fiscal] mode = "fe"` gets one row of `fiscal_document`, written in
the sale's own transaction (`enqueue`, called by the completion): the billing point's next number (gap-free:
the highest plus one, under the transaction's lock), a security code drawn once, the moment of issue. Nothing
is sent there: a sale never waits for the provider.

A worker (`send_due`, in the register's thread pool or `tui-pos fiscal retry`) builds the document from the
note (`document_for`: the domain's rFE builder, tui_pos/domain/fiscal.py) and sends it through the provider
(services/pac.py). Its answer settles the row: authorized (the provider's CUFE and QR), rejected (its code
and message kept). No answer (`pac.Unavailable`): the row waits and is sent again with a backoff; once the
receipt's `wait_seconds` have passed without an answer, the document is issued in contingency (iTpEmis 02,
its start and reason, our CUFE) and the receipt prints as such; it is still sent until the provider answers.
The same row, number and security code on every try: one sale is one document.

A return makes a credit note referring to its sale's invoice; while that invoice is not authorized yet the
credit note waits for it.
"""

from __future__ import annotations

import datetime as _dt
import logging
import secrets
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from peewee import fn

from tui_pos.domain import fiscal as rules
from tui_pos.domain import pricing
from tui_pos.domain import ruc as ruc_rules
from tui_pos.domain.errors import InputError
from tui_pos.models import Customer, FiscalDoc, Note, NoteLine, Payment, Register, db, utcnow
from tui_pos.models.db import SQLITE_RETURNING
from tui_pos.models.prepared import Prepared, prepared
from tui_pos.services import pac
from tui_pos.services.connection import is_sqlite

log = logging.getLogger(__name__)

STATES = ("pending", "authorized", "contingency", "rejected")
RETRY_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class Settings:
    """`[fiscal]` as the service needs it."""

    issuer: rules.Issuer
    url: str
    token_company: str
    token_password: str
    timeout: float = 10.0
    wait_seconds: float = 3.0
    contingency_hours: int = 72

    @classmethod
    def from_config(cls, section: SimpleNamespace) -> Settings | None:
        """None when `mode` is not "fe" (the config already checked the issuer and provider when it is)."""
        if section.mode != "fe":
            return None
        issuer = rules.Issuer(ruc=section.ruc, dv=section.dv, ruc_type=section.ruc_type, name=section.name,
                              branch=section.branch, point=section.point, address=section.address,
                              environment=section.environment)
        return cls(issuer, section.url, section.token_company, section.token_password, float(section.timeout),
                   float(section.wait_seconds), section.contingency_hours)

    def provider(self) -> pac.Provider:
        return pac.HkaProvider(self.url, self.token_company, self.token_password, timeout=self.timeout)


def _aware(moment: _dt.datetime) -> _dt.datetime:
    """The database keeps naive UTC (models.utcnow): the domain wants it aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


# ====================================================================== in the sale's transaction

_ROW = ("note", "kind", "branch", "point", "number", "security_code", "issued_at", "state", "emission",
        "contingency_reason", "receiver_note", "cufe", "qr", "protocol", "code", "message", "attempts",
        "next_try_at", "xml")


@prepared(len(_ROW))
def _q_insert(*args: Any) -> Any:
    """Every column given (a default compiled into the statement once would be frozen: next_try_at)."""
    query = FiscalDoc.insert({getattr(FiscalDoc, n): a for n, a in zip(_ROW, args)})
    return query.returning(FiscalDoc.id) if SQLITE_RETURNING or not is_sqlite() else query


_q_last = Prepared(lambda branch, point: FiscalDoc.select(fn.MAX(FiscalDoc.number)).where(
    FiscalDoc.branch == branch, FiscalDoc.point == point), 2)


def enqueue(note_id: int, settings: Settings, now: _dt.datetime | None = None, *, kind: str = "sale") -> int:
    """One document for a completed sale or return (`kind` is the note's): its row, in the completion's
    transaction, so the sale and its document commit together; the point's next number, a security code.
    Two statements compiled once (the sale's own path: bench/fiscal.py); the note's unique index holds
    "one document per sale" (a second call for the same note is an IntegrityError, never a second number).
    The receiver (the customer's RUC, or a final consumer and why) is read when the document is built."""
    branch, point = settings.issuer.branch, settings.issuer.point
    if not is_sqlite():      # registers sharing a billing point on one server take its numbers in turn
        db.execute_sql("SELECT pg_advisory_xact_lock(7022, hashtext(%s))", (f"{branch}-{point}",))
    number = (_q_last.scalar(branch, point) or 0) + 1
    at = now or utcnow()
    return _q_insert.insert(note_id, "credit_note" if kind == "return" else "invoice", branch, point, number,
                            f"{secrets.randbelow(10**9):09d}", at, "pending", "normal", "", "", "", "", "", "", "",
                            0, at, "")


def _receiver(note: Any) -> tuple[rules.Receiver, str]:
    """The attached customer's fiscal identity, or a final consumer and why (a RUC that is missing or wrong
    makes a final-consumer invoice: the sale goes on, the cashier is told)."""
    if not note.customer_id:
        return rules.FINAL_CONSUMER, ""
    c = Customer.get_by_id(note.customer_id)
    if not (c.ruc or "").strip():
        return rules.FINAL_CONSUMER, ""
    kind = {"individual": 1, "corporate": 2}.get(c.ruc_type or "", 0)
    if not kind:
        return rules.FINAL_CONSUMER, f"RUC {c.ruc}: its type is {c.ruc_type or 'not set'}, so a final-consumer invoice"
    try:
        dv = ruc_rules.check(c.ruc, c.dv or "", "natural" if kind == 1 else "juridical")
    except InputError as exc:
        return rules.FINAL_CONSUMER, f"RUC {c.ruc} DV {c.dv}: {exc} A final-consumer invoice was made."
    name = (c.fiscal_name or c.name or "").strip()
    if not name:
        return rules.FINAL_CONSUMER, f"RUC {c.ruc}: no fiscal name, so a final-consumer invoice"
    return rules.Receiver(ruc=c.ruc, dv=dv, ruc_type=kind, name=name), ""


def receiver_problem(customer_id: int) -> str:
    """What the cashier is told when the customer just attached will get a final-consumer invoice although
    they gave a RUC (it is missing its type or fiscal name, or the DGI's DV algorithm refuses it): "" when
    the invoice will name them, or they gave no RUC."""
    c = Customer.get_or_none(Customer.id == customer_id)
    if c is None or not (c.ruc or "").strip():
        return ""
    kind = {"individual": 1, "corporate": 2}.get(c.ruc_type or "", 0)
    if not kind:
        return "Invoice to a final consumer: the customer's RUC type is not set (F2 to fix it)."
    try:
        ruc_rules.check(c.ruc, c.dv or "", "natural" if kind == 1 else "juridical")
    except InputError:
        return "Invoice to a final consumer: the customer's RUC/DV is not valid (F2 to fix it)."
    if not (c.fiscal_name or c.name or "").strip():
        return "Invoice to a final consumer: the customer has no fiscal name (F2 to fix it)."
    return ""


# ====================================================================== the document from the note

def _lines(note_id: int) -> list[rules.FiscalLine]:
    out = []
    for ln in NoteLine.select().where(NoteLine.note == note_id).order_by(NoteLine.id):
        qty = abs(ln.qty)
        whole = pricing.line_amounts(pricing.PricedLine(qty, ln.unit_price_cents, ln.tax_rate_bp, ln.tax_included))
        paid = pricing.line_amounts(pricing.PricedLine(
            qty, ln.unit_price_cents, ln.tax_rate_bp, ln.tax_included, ln.discount_percent_bp,
            abs(ln.discount_cents), min(qty, (ln.offered_qty or 0) + (ln.reward_qty or 0))))
        out.append(rules.FiscalLine(description=ln.name, code=ln.sku[:20], qty=ln.qty,
                                    unit_price_cents=ln.unit_price_cents,
                                    discount_cents=whole.gross_cents - paid.total_cents,
                                    tax_rate_bp=ln.tax_rate_bp, tax_included=ln.tax_included))
    return out


def document_for(row: Any) -> rules.FiscalDocument:
    """The domain document of an outbox row, read from its note (the same every time it is built)."""
    note = Note.get_by_id(row.note_id)
    lines = _lines(note.id)
    payments = [rules.FiscalPayment(p.tender, abs(p.amount_cents))
                for p in Payment.select().where(Payment.note == note.id).order_by(Payment.id) if p.amount_cents]
    total = abs(note.total_cents)
    items_total = sum(pricing.line_amounts(pricing.PricedLine(abs(ln.qty), ln.unit_price_cents, ln.tax_rate_bp,
                                                               ln.tax_included)).gross_cents - ln.discount_cents
                      for ln in lines)
    received = sum(p.amount_cents for p in payments)
    reference_cufe, reference_at = "", None
    if row.kind == "credit_note" and note.return_of_id:
        original = FiscalDoc.get_or_none(FiscalDoc.note == note.return_of_id)
        if original is not None:
            reference_cufe, reference_at = original.cufe, _aware(original.issued_at)
    contingency = row.emission == "contingency"
    return rules.FiscalDocument(
        kind=row.kind, number=row.number, issued_at=_aware(row.issued_at), security_code=row.security_code,
        lines=tuple(lines), payments=tuple(payments), receiver=_receiver(note)[0],
        change_cents=max(0, received - total), money_off_cents=max(0, items_total - total),
        emission="contingency" if contingency else "normal",
        contingency_started_at=_aware(row.contingency_at) if contingency and row.contingency_at else None,
        contingency_reason=row.contingency_reason if contingency else "",
        reference_cufe=reference_cufe, reference_issued_at=reference_at)


# ====================================================================== sending

def backoff(attempts: int) -> float:
    return min(RETRY_MAX_SECONDS, 2.0 ** min(attempts, 9))


def send_one(doc_id: int, settings: Settings, provider: pac.Provider, now: _dt.datetime | None = None) -> str:
    """Build and send one document; settle its row; return its state. Never raises for the provider's
    faults (they are the row's state); a lost database raises as everywhere."""
    now = now or utcnow()
    row = FiscalDoc.get_by_id(doc_id)
    if row.state in ("authorized", "rejected"):
        return str(row.state)
    if row.kind == "credit_note":
        returned = Note.get_by_id(row.note_id).return_of_id
        original = FiscalDoc.get_or_none(FiscalDoc.note == returned) if returned else None
        if original is None:        # sold before `mode = "fe"`: no invoice to refer to
            FiscalDoc.update(state="rejected", code="local", message=(
                "the sale it returns has no electronic invoice (sold before [fiscal] mode = \"fe\"): a credit "
                "note must refer to one; issue it from the provider's portal")).where(FiscalDoc.id == doc_id).execute()
            return "rejected"
        if original.state != "authorized":
            # its invoice is not authorized yet: the credit note refers to a CUFE the DGI must know first
            FiscalDoc.update(next_try_at=now + _dt.timedelta(seconds=backoff(row.attempts)),
                             attempts=row.attempts + 1,
                             message="waits for the invoice it refers to").where(FiscalDoc.id == doc_id).execute()
            return str(row.state)
    try:
        doc = document_for(row)
        xml = rules.build_xml(doc, settings.issuer)
        ours = rules.cufe(doc, settings.issuer)
    except InputError as exc:       # a document the DGI would refuse: said, kept, never blocks the sale
        FiscalDoc.update(state="rejected", code="local", message=str(exc)[:500]).where(
            FiscalDoc.id == doc_id).execute()
        return "rejected"
    FiscalDoc.update(cufe=ours, xml=xml.decode(), receiver_note=_receiver(Note.get_by_id(row.note_id))[1]).where(
        FiscalDoc.id == doc_id).execute()
    try:
        answer = provider.send(doc, settings.issuer, xml)
    except pac.Unavailable as exc:
        return _unanswered(row, settings, str(exc), now)
    if answer.authorized:
        FiscalDoc.update(state="authorized", cufe=answer.cufe or ours, qr=answer.qr, protocol=answer.protocol,
                         code=answer.code, message=answer.message[:500], authorized_at=now,
                         attempts=row.attempts + 1).where(FiscalDoc.id == doc_id).execute()
        return "authorized"
    FiscalDoc.update(state="rejected", code=answer.code[:40], message=answer.message[:500],
                     attempts=row.attempts + 1).where(FiscalDoc.id == doc_id).execute()
    log.warning("fiscal document %s-%s rejected: %s %s", row.point, row.number, answer.code, answer.message)
    return "rejected"


def _unanswered(row: Any, settings: Settings, why: str, now: _dt.datetime) -> str:
    """No answer: sent again later; past the receipt's wait, issued in contingency."""
    attempts = row.attempts + 1
    changes: dict[Any, Any] = {FiscalDoc.attempts: attempts, FiscalDoc.message: why[:500],
                               FiscalDoc.next_try_at: now + _dt.timedelta(seconds=backoff(attempts))}
    FiscalDoc.update(changes).where(FiscalDoc.id == row.id).execute()
    if row.state == "pending" and now >= row.issued_at + _dt.timedelta(seconds=settings.wait_seconds):
        to_contingency(row.id, settings, why)
        return "contingency"
    return str(row.state)


def to_contingency(doc_id: int, settings: Settings, why: str) -> bool:
    """Issue a still pending document in contingency (the receipt cannot wait longer): iTpEmis 02, started
    when the sale was made, the reason in the DGI's 15-250 characters, and our CUFE for the receipt. True
    when it was pending (one UPDATE guarded by the state: the sender's answer and the receipt race fairly)."""
    row = FiscalDoc.get_by_id(doc_id)
    reason = f"Sin respuesta del PAC: {why}"[:250]
    reason = reason if len(reason) >= 15 else reason.ljust(15, ".")
    done = FiscalDoc.update(state="contingency", emission="contingency", contingency_at=row.issued_at,
                            contingency_reason=reason).where(FiscalDoc.id == doc_id,
                                                             FiscalDoc.state == "pending").execute()
    if done:
        try:
            row = FiscalDoc.get_by_id(doc_id)
            doc = document_for(row)          # as issued now: in contingency (what `fiscal show` prints)
            FiscalDoc.update(cufe=rules.cufe(doc, settings.issuer), xml=rules.build_xml(doc, settings.issuer).decode(),
                             receiver_note=_receiver(Note.get_by_id(row.note_id))[1]).where(
                FiscalDoc.id == doc_id).execute()
        except InputError:
            pass                     # built again (and refused with its reason) when it is sent
    return bool(done)


def send_due(settings: Settings, provider: pac.Provider, now: _dt.datetime | None = None,
             limit: int = 20, *, register: str | None = None) -> dict[str, int]:
    """One pass of the worker: every pending or contingency document whose time has come, oldest first.
    `register`: only that register's documents (each register sends its own; `tui-pos fiscal send`, the
    store's one process, sends them all)."""
    now = now or utcnow()
    query = FiscalDoc.select(FiscalDoc.id).where(FiscalDoc.state.in_(["pending", "contingency"]),
                                                 FiscalDoc.next_try_at <= now)
    if register is not None:
        query = query.join(Note).join(Register).where(Register.code == register)
    due = [r.id for r in query.order_by(FiscalDoc.id).limit(limit)]
    counts: dict[str, int] = {}
    for doc_id in due:
        state = send_one(doc_id, settings, provider, now)
        counts[state] = counts.get(state, 0) + 1
    return counts


def retry(receipt_no: str | None = None) -> int:
    """`tui-pos fiscal retry`: every unsettled document (or one receipt's, rejected ones included: after the
    cause was fixed) is due now. Returns how many."""
    query = FiscalDoc.update(next_try_at=utcnow())
    if receipt_no:
        note = Note.get_or_none(Note.receipt_no == receipt_no.strip().upper())
        if note is None:
            raise InputError(f"No receipt {receipt_no!r}: check the number (like R1-000042).")
        FiscalDoc.update(state="pending").where(FiscalDoc.note == note.id, FiscalDoc.state == "rejected").execute()
        return int(query.where(FiscalDoc.note == note.id).execute())
    return int(query.where(FiscalDoc.state.in_(["pending", "contingency"])).execute())


# ====================================================================== what is shown

@dataclass(frozen=True)
class DocRow:
    """A line of `tui-pos fiscal list` and the manager's screen."""

    point: int
    number: int
    receipt_no: str
    kind: str
    state: str
    cufe: str
    reason: str


def listing(state: str | None = None, limit: int = 200) -> list[DocRow]:
    query = (FiscalDoc.select(FiscalDoc, Note.receipt_no).join(Note).order_by(FiscalDoc.id.desc()).limit(limit))
    if state:
        query = query.where(FiscalDoc.state == state)
    return [DocRow(r.point, r.number, r.note.receipt_no or "", r.kind, r.state, r.cufe,
                   r.message if r.state in ("rejected", "contingency", "pending") else r.receiver_note)
            for r in query]


def xml_of(receipt_no: str) -> str:
    """`tui-pos fiscal show RECEIPT`: the document as last built (built now when it never was)."""
    note = Note.get_or_none(Note.receipt_no == receipt_no.strip().upper())
    row = FiscalDoc.get_or_none(FiscalDoc.note == note.id) if note is not None else None
    if row is None:
        raise InputError(f"No electronic document for receipt {receipt_no!r}.")
    if not row.xml:
        return ""
    import xml.etree.ElementTree as ET
    ET.register_namespace("", "http://dgi-fep.mef.gob.pa")
    tree = ET.fromstring(row.xml.encode())
    ET.indent(tree)                  # one element a line: read on a screen of 80 columns, or diffed
    return ET.tostring(tree, encoding="unicode")


def counts() -> dict[str, int]:
    """Documents by state (the X and Z reports, doctor)."""
    rows = FiscalDoc.select(FiscalDoc.state, fn.COUNT(FiscalDoc.id).alias("n")).group_by(FiscalDoc.state).tuples()
    return {state: int(n) for state, n in rows}


@dataclass(frozen=True)
class ReceiptBlock:
    """What the printed receipt (the CAFE) carries for its document. The CUFE and the QR only once the
    provider has authorized it: the CUFE the provider gives is its own (HKA draws the security code), so one
    printed before could never be found at the DGI; a copy printed later carries them."""

    state: str
    kind: str                   # invoice | credit_note
    number: str                 # point-number, "001-0000000003"
    cufe: str
    qr: str
    receiver_note: str


def receipt_block(receipt_no: str, environment: int) -> ReceiptBlock | None:
    note = Note.get_or_none(Note.receipt_no == receipt_no)
    row = FiscalDoc.get_or_none(FiscalDoc.note == note.id) if note is not None else None
    if row is None:
        return None
    number = f"{row.point:03d}-{row.number:010d}"
    if row.state != "authorized":
        return ReceiptBlock(row.state, row.kind, number, "", "", row.receiver_note)
    return ReceiptBlock(row.state, row.kind, number, row.cufe, row.qr or rules.consultation_url(row.cufe, environment),
                        row.receiver_note)


def receipt_taxes(receipt_no: str) -> tuple[pricing.TaxRow, ...] | None:
    """The tax per rate as the document carries it (each item's ITBMS, summed per rate), for the printed
    receipt: the CAFE must not say another tax than the authorized document (the receipt's own rule splits
    the tax once per rate; the DGI's items carry theirs, which can differ by half a cent per line). None
    when the receipt has no document, or one that cannot be built (the receipt keeps its own figures)."""
    note = Note.get_or_none(Note.receipt_no == receipt_no)
    row = FiscalDoc.get_or_none(FiscalDoc.note == note.id) if note is not None else None
    if row is None:
        return None
    try:
        totals = rules.document_totals(document_for(row))
    except InputError:
        return None
    sign = -1 if row.kind == "credit_note" else 1
    by_rate: dict[int, list[int]] = {}
    for item in totals.items:
        acc = by_rate.setdefault(item.line.tax_rate_bp, [0, 0, 0])
        acc[0] += item.net_cents
        acc[1] += item.tax_cents
        acc[2] += item.total_cents
    return tuple(pricing.TaxRow(rate, sign * base, sign * tax, sign * total)
                 for rate, (base, tax, total) in sorted(by_rate.items()))


def settled_or_due(receipt_no: str, settings: Settings, now: _dt.datetime | None = None) -> float:
    """For the printer: seconds still to wait for this receipt's authorization (0: print now). Past the
    wait, a still pending document is issued in contingency here, so the receipt prints once, marked."""
    now = now or utcnow()
    note = Note.get_or_none(Note.receipt_no == receipt_no)
    row = FiscalDoc.get_or_none(FiscalDoc.note == note.id) if note is not None else None
    if row is None or row.state != "pending":
        return 0.0
    left = (row.issued_at + _dt.timedelta(seconds=settings.wait_seconds) - now).total_seconds()
    if left > 0:
        return left
    to_contingency(row.id, settings, row.message or "no answer within the receipt's wait")
    return 0.0


def overdue(settings: Settings, now: _dt.datetime | None = None) -> tuple[int, int]:
    """(contingency documents past 3/4 of `contingency_hours`, rejected documents): doctor's warnings."""
    now = now or utcnow()
    near = now - _dt.timedelta(hours=settings.contingency_hours * 3 / 4)
    late = FiscalDoc.select().where(FiscalDoc.state == "contingency", FiscalDoc.issued_at <= near).count()
    return int(late), int(FiscalDoc.select().where(FiscalDoc.state == "rejected").count())


__all__ = ["DocRow", "ReceiptBlock", "STATES", "Settings", "counts", "document_for", "enqueue", "listing",
           "overdue", "receipt_block", "receipt_taxes", "receiver_problem", "retry", "send_due", "send_one",
           "settled_or_due", "to_contingency", "xml_of"]
