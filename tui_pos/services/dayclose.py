"""Close of day: X report (any time, changes nothing) and Z report (closes the register's day).

The day of a register is its paid notes that no Z has closed yet. A Z gives
them its id in the same transaction that writes it, so a sale completed while
the Z is taken is either in this Z or in the next one, never in both or
neither. Both reports can be printed through the print queue.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peewee import JOIN, fn

from tui_pos.domain import dayreport, pricing
from tui_pos.domain.errors import InputError
from tui_pos.domain.receipt import Row
from tui_pos.models import (
    DayClose,
    LoyaltyMovement,
    Note,
    NoteLine,
    Payment,
    PrintJob,
    Product,
    Register,
    Section,
    User,
    db,
    local_time,
    utcnow,
)
from tui_pos.services import audit
from tui_pos.services.backup import DailyBackup

log = logging.getLogger(__name__)



def _register_id(register: str) -> int | None:
    row = Register.get_or_none(Register.code == register)
    return row.id if row else None


def _next_number(register: str) -> int:
    last = DayClose.select(fn.MAX(DayClose.number)).where(DayClose.register == register).scalar()
    return (last or 0) + 1


def _gather(register: str, kind: str, *, day_close_id: int | None, opening_float_cents: int,
            counted_cents: int | None = None, user: str = "", number: int | None = None) -> dayreport.DayReport:
    reg_id = _register_id(register)
    open_day = (Note.register == reg_id) & (Note.status == "paid")
    open_day &= Note.day_close.is_null() if day_close_id is None else (Note.day_close == day_close_id)
    notes = list(Note.select(Note.id, Note.kind, Note.total_cents, Note.redeem_cents, Note.receipt_no,
                             Note.closed_at, User.name).join(User, JOIN.LEFT_OUTER, on=(Note.cashier == User.id))
                 .where(open_day).tuples())
    ids = [n[0] for n in notes]
    paid: dict[int, int] = {}
    payments: list[tuple[str, int]] = []
    lines: list[dayreport.LineFacts] = []
    points: list[int] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for note_id, tender, amount in (Payment.select(Payment.note, Payment.tender, Payment.amount_cents)
                                        .where(Payment.note.in_(chunk)).tuples()):
            paid[note_id] = paid.get(note_id, 0) + amount
            payments.append((tender, amount))
        for row in (NoteLine.select(Section.name, NoteLine.qty, NoteLine.unit_price_cents, NoteLine.tax_rate_bp,
                                    NoteLine.tax_included, NoteLine.discount_percent_bp, NoteLine.discount_cents,
                                    NoteLine.offered_qty, NoteLine.reward_qty)
                    .join(Product, JOIN.LEFT_OUTER, on=(NoteLine.product == Product.id))
                    .join(Section, JOIN.LEFT_OUTER, on=(Product.section == Section.id))
                    .where(NoteLine.note.in_(chunk)).tuples()):
            lines.append(dayreport.LineFacts(row[0] or "", pricing.PricedLine(
                qty=row[1], unit_price_cents=row[2], tax_rate_bp=row[3], tax_included=row[4],
                discount_percent_bp=row[5], discount_cents=row[6], offered_qty=row[7] + row[8])))
        numbers = [n[4] for n in notes[i:i + 500] if n[4]]
        points += [p for (p,) in LoyaltyMovement.select(LoyaltyMovement.points)
                   .where(LoyaltyMovement.receipt_no.in_(numbers)).tuples()]
    facts = [dayreport.NoteFacts(kind=n[1], total_cents=n[2], paid_cents=paid.get(n[0], 0),
                                 redeemed_cents=n[3] or 0, cashier=n[6] or "") for n in notes]
    opened = min((n[5] for n in notes if n[5]), default=None)
    opened = local_time(opened) if opened else None
    report = dayreport.build(kind, register, number if number is not None else _next_number(register),
                             notes=facts, payments=payments, lines=lines, points=points, opened_at=opened,
                             printed_at=local_time(utcnow()), opening_float_cents=opening_float_cents,
                             counted_cents=counted_cents, user=user)
    return dataclasses.replace(report, fiscal=_fiscal_states(ids))


def _fiscal_states(note_ids: list[int]) -> tuple[tuple[str, int], ...]:
    """The day's electronic documents by state, in the order of their life (none: the store bills none)."""
    from tui_pos.models import FiscalDoc
    from tui_pos.services.fiscal import STATES
    found: dict[str, int] = {}
    for i in range(0, len(note_ids), 500):
        for state, n in (FiscalDoc.select(FiscalDoc.state, fn.COUNT(FiscalDoc.id))
                         .where(FiscalDoc.note.in_(note_ids[i:i + 500])).group_by(FiscalDoc.state).tuples()):
            found[state] = found.get(state, 0) + n
    return tuple((state, found[state]) for state in STATES if state in found)


def x_report(register: str, *, opening_float_cents: int = 0) -> dayreport.DayReport:
    """The register's day so far. Changes nothing."""
    with db.atomic():
        return _gather(register, "X", day_close_id=None, opening_float_cents=opening_float_cents)


class UnsyncedSales(InputError):
    """Sales this register made offline are not on the server yet: the Z would close a day without them."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} sale{'' if count == 1 else 's'} made offline on this register "
                         f"{'is' if count == 1 else 'are'} not on the server yet: the day cannot close without "
                         f"{'it' if count == 1 else 'them'}. Wait for the server (`tui-pos sync --now`), or a "
                         "manager closes anyway (F10 again; the CLI's --force): audited.")
        self.count = count


def close_day(register: str, counted_cents: int | None, *, opening_float_cents: int = 0,
              user_id: int | None = None, unsynced: int = 0, force: bool = False) -> dayreport.DayReport:
    """The Z report: closes the register's day in one transaction and records it (audited).

    `unsynced`: this register's offline sales still in its journal (docs/offline.md): the Z refuses
    (UnsyncedSales) unless `force`d, and a forced close is audited with the count."""
    if counted_cents is not None and counted_cents < 0:
        raise InputError("The cash counted cannot be negative: count the drawer again.")
    if unsynced and not force:
        raise UnsyncedSales(unsynced)
    user = User.get_or_none(User.id == user_id) if user_id else None
    with db.atomic():
        reg_id = _register_id(register)
        if reg_id is None:
            raise InputError(f"Register {register} has sold nothing yet: there is no day to close.")
        # the register row serialises two Zs of the same register (and a Z against its own sales)
        Register.update(next_seq=Register.next_seq).where(Register.id == reg_id).execute()
        if Note.select().where(Note.register == reg_id, Note.status == "open", Note.kind == "return").exists():
            raise InputError("A refund is still open on this register: finish or cancel it first.")
        number = _next_number(register)
        row = DayClose.create(register=register, number=number, user=user_id, counted_cents=counted_cents)
        Note.update(day_close=row.id).where(Note.register == reg_id, Note.status == "paid",
                                            Note.day_close.is_null()).execute()
        report = _gather(register, "Z", day_close_id=row.id, opening_float_cents=opening_float_cents,
                         counted_cents=counted_cents, user=user.name if user else "", number=number)
        if unsynced:
            audit.record("day.close_unsynced", user_id=user_id, register=register, z=number, unsynced=unsynced)
        audit.record("day.close", user_id=user_id, register=register, z=number, net=report.net_cents,
                     expected=report.cash_expected_cents, counted=counted_cents,
                     difference=report.difference_cents)
        head = audit.chain_head()   # the Z's own row, printed: an anchor for the chain kept off the database
        report = dataclasses.replace(report, audit_row=head.id, audit_hash=head.hash)
        DayClose.update(expected_cents=report.cash_expected_cents, report=json.dumps(report.to_dict())
                        ).where(DayClose.id == row.id).execute()
    return report


def z_report(register: str, number: int) -> dayreport.DayReport:
    """A Z already taken, as it was."""
    row = DayClose.get_or_none(DayClose.register == register, DayClose.number == number)
    if row is None:
        raise InputError(f"No Z report {number} on register {register}.")
    return dayreport.DayReport.from_dict(json.loads(row.report))


def last_z(register: str) -> int | None:
    return DayClose.select(fn.MAX(DayClose.number)).where(DayClose.register == register).scalar()


def queue_print(register: str, report: dayreport.DayReport, columns: int, money: Callable[[int], str], *,
                blind: bool = False) -> int:
    """Queue the report on this register's printer (the spooler sends it after the receipts before it)."""
    rows = dayreport.layout(report, columns, money, blind=blind)
    body = json.dumps([[r.text, r.align, r.bold, r.big, r.cut] for r in rows])
    with db.atomic():
        return PrintJob.create(register=register, kind="report", body=body,
                               receipt_no=f"{report.kind}-{register}-{report.number}").id


@dataclass(frozen=True)
class DayPlan:
    """What the close of day on this register needs to know, built once in bootstrap."""

    register: str
    """This register's code."""
    opening_float_cents: int
    """The cash the drawer starts the day with ([sale] opening_float)."""
    columns: int
    """The printer's columns, for the printed report."""
    printing: bool
    """A printer is configured: reports are queued for it."""
    backup: DailyBackup
    """The daily copy after each Z."""
    offline: Any = None
    """The register's replica and journal (services.offline.Offline; None: no replica)."""

    def x_report(self) -> dayreport.DayReport:
        """The day so far (changes nothing)."""
        return x_report(self.register, opening_float_cents=self.opening_float_cents)

    def close(self, counted_cents: int | None, user_id: int | None, *,
              force: bool = False) -> tuple[dayreport.DayReport, str]:
        """The Z, then the daily backup: the closed day's report and one line saying what became of its copy
        (the day is closed whatever becomes of the backup). Refused while selling offline (the day is the
        server's), and with offline sales not yet sent unless `force`d (UnsyncedSales)."""
        unsynced = 0
        if self.offline is not None:
            if self.offline.active:
                raise InputError("The register is selling offline: the day closes on the server, when it is back.")
            unsynced = self.offline.pending_sales()
        report = close_day(self.register, counted_cents, opening_float_cents=self.opening_float_cents,
                           user_id=user_id, unsynced=unsynced, force=force)
        return report, self.backup.after_close(self.register, report.number)

    def queue_print(self, report: dayreport.DayReport, money: Callable[[int], str], *, blind: bool = False) -> int:
        """Queue the report on this register's printer."""
        return queue_print(self.register, report, self.columns, money, blind=blind)


def rows_of(body: str) -> list[Row]:
    """A queued report's rows, back from JSON."""
    return [Row(text=t, align=a, bold=b, big=g, cut=c) for t, a, b, g, c in json.loads(body)]


__all__ = ["DayPlan", "x_report", "close_day", "z_report", "last_z", "queue_print", "rows_of"]
