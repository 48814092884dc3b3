"""Close of day: the X report (any time) and the Z report (closes the day), as pure data and text rows.

A report covers one register's receipts since its last Z. It is built from
plain tuples read by the service, so every sum here is testable without a
database. Money is integer cents; points are integers.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tui_pos.domain import pricing
from tui_pos.domain.receipt import Row, percent_text, two_cols
from tui_pos.domain.text import printable


@dataclass(frozen=True)
class NoteFacts:
    """One paid note (sale or refund) as the report needs it."""

    kind: str                 # sale | return
    total_cents: int          # negative on a refund
    paid_cents: int           # sum of its payments (cash tendered included)
    redeemed_cents: int = 0   # money off with points
    cashier: str = ""         # who was signed in when it was paid


@dataclass(frozen=True)
class LineFacts:
    """One line of a paid note, priced as on the receipt."""

    section: str
    line: pricing.PricedLine


@dataclass(frozen=True)
class DayReport:
    kind: str                                   # X | Z
    register: str
    number: int                                 # the Z's number on this register (X: the next Z's)
    opened_at: _dt.datetime | None              # the first receipt of the day (None: no sales)
    printed_at: _dt.datetime
    sales_count: int = 0
    sales_cents: int = 0                        # sales, after discounts
    returns_count: int = 0
    returns_cents: int = 0                      # refunds given back (positive)
    discount_cents: int = 0                     # line discounts and money off with points
    redeemed_cents: int = 0                     # of which money off with points
    tenders: tuple[tuple[str, int], ...] = ()   # net by tender, change taken off cash
    taxes: tuple[pricing.TaxRow, ...] = ()
    sections: tuple[tuple[str, int, int], ...] = ()   # (section, items, amount)
    points_issued: int = 0
    points_redeemed: int = 0
    opening_float_cents: int = 0
    counted_cents: int | None = None            # cash counted at the Z (None: not counted)
    user: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    cashiers: tuple[tuple[str, int, int, int], ...] = ()   # (cashier, sales, sales amount, refunds amount)
    audit_row: int = 0                          # Z: the audit log's newest row when it was taken (its own)
    audit_hash: str = ""                        # and that row's hash: on paper, an anchor for the chain
    fiscal: tuple[tuple[str, int], ...] = ()    # the day's electronic documents by state (docs/fiscal.md)

    @property
    def net_cents(self) -> int:
        return self.sales_cents - self.returns_cents

    @property
    def cash_expected_cents(self) -> int:
        """What the drawer should hold: the float plus cash taken, less change and refunds."""
        return self.opening_float_cents + dict(self.tenders).get("cash", 0)

    @property
    def difference_cents(self) -> int | None:
        """Counted minus expected: negative is short, positive is over."""
        if self.counted_cents is None:
            return None
        return self.counted_cents - self.cash_expected_cents

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "register": self.register, "number": self.number,
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "printed_at": self.printed_at.isoformat(), "sales_count": self.sales_count,
            "sales_cents": self.sales_cents, "returns_count": self.returns_count,
            "returns_cents": self.returns_cents, "discount_cents": self.discount_cents,
            "redeemed_cents": self.redeemed_cents, "tenders": [list(t) for t in self.tenders],
            "taxes": [[t.rate_bp, t.base_cents, t.tax_cents, t.total_cents] for t in self.taxes],
            "sections": [list(s) for s in self.sections], "points_issued": self.points_issued,
            "points_redeemed": self.points_redeemed, "opening_float_cents": self.opening_float_cents,
            "counted_cents": self.counted_cents, "user": self.user,
            "cashiers": [list(c) for c in self.cashiers],
            "audit_row": self.audit_row, "audit_hash": self.audit_hash,
            "fiscal": [list(f) for f in self.fiscal],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DayReport:
        return cls(
            kind=d["kind"], register=d["register"], number=d["number"],
            opened_at=_dt.datetime.fromisoformat(d["opened_at"]) if d.get("opened_at") else None,
            printed_at=_dt.datetime.fromisoformat(d["printed_at"]), sales_count=d["sales_count"],
            sales_cents=d["sales_cents"], returns_count=d["returns_count"], returns_cents=d["returns_cents"],
            discount_cents=d["discount_cents"], redeemed_cents=d["redeemed_cents"],
            tenders=tuple((t, a) for t, a in d["tenders"]),
            taxes=tuple(pricing.TaxRow(*t) for t in d["taxes"]),
            sections=tuple((s, i, a) for s, i, a in d["sections"]), points_issued=d["points_issued"],
            points_redeemed=d["points_redeemed"], opening_float_cents=d["opening_float_cents"],
            counted_cents=d["counted_cents"], user=d.get("user", ""),
            cashiers=tuple(tuple(c) for c in d.get("cashiers", ())),
            fiscal=tuple((str(f[0]), int(f[1])) for f in d.get("fiscal", ())),
            audit_row=d.get("audit_row", 0), audit_hash=d.get("audit_hash", ""))


def build(kind: str, register: str, number: int, *, notes: Iterable[NoteFacts],
          payments: Iterable[tuple[str, int]], lines: Iterable[LineFacts], points: Iterable[int],
          opened_at: _dt.datetime | None, printed_at: _dt.datetime, opening_float_cents: int = 0,
          counted_cents: int | None = None, user: str = "") -> DayReport:
    """Sum one day of one register.

    `payments` are (tender, amount) of the day's notes, refunds negative;
    the change a cash sale gave back is taken off cash, so cash is what the
    drawer gained. `points` are the day's loyalty movements (signed).
    """
    sales_count = returns_count = sales = returns = redeemed = change = 0
    by_cashier: dict[str, list[int]] = {}
    for n in notes:
        who = by_cashier.setdefault(n.cashier or "-", [0, 0, 0])
        if n.kind == "return":
            returns_count += 1
            returns += -n.total_cents
            who[2] += -n.total_cents
        else:
            sales_count += 1
            sales += n.total_cents
            redeemed += n.redeemed_cents
            change += pricing.Settlement(n.total_cents, n.paid_cents).change_cents
            who[0] += 1
            who[1] += n.total_cents
    by_tender: dict[str, int] = {}
    for tender, amount in payments:
        by_tender[tender] = by_tender.get(tender, 0) + amount
    if change:
        by_tender["cash"] = by_tender.get("cash", 0) - change
    by_tender.setdefault("cash", 0)
    line_discount = 0
    by_section: dict[str, list[int]] = {}
    priced: list[pricing.PricedLine] = []
    for lf in lines:
        amounts = pricing.line_amounts(lf.line)
        if lf.line.qty > 0:
            line_discount += amounts.discount_cents
        entry = by_section.setdefault(lf.section, [0, 0])
        entry[0] += lf.line.qty
        entry[1] += amounts.total_cents
        priced.append(lf.line)
    # tax per rate over the day's lines (returns are negative lines), less the money off with points
    totals = pricing.note_totals(priced, (), 0)
    taxes = _taxes_after_redemption(totals, redeemed)
    issued = sum(p for p in points if p > 0)
    spent = -sum(p for p in points if p < 0)
    return DayReport(
        kind=kind, register=register, number=number, opened_at=opened_at, printed_at=printed_at,
        sales_count=sales_count, sales_cents=sales, returns_count=returns_count, returns_cents=returns,
        discount_cents=line_discount + redeemed, redeemed_cents=redeemed,
        tenders=tuple(sorted(by_tender.items(), key=lambda t: (t[0] != "cash", t[0]))), taxes=taxes,
        sections=tuple((s, v[0], v[1]) for s, v in sorted(by_section.items())),
        points_issued=issued, points_redeemed=spent, opening_float_cents=opening_float_cents,
        counted_cents=counted_cents, user=user,
        cashiers=tuple((name, v[0], v[1], v[2]) for name, v in sorted(by_cashier.items())))


def _taxes_after_redemption(totals: pricing.Totals, redeemed: int) -> tuple[pricing.TaxRow, ...]:
    if not redeemed:
        return totals.taxes
    by_rate = {t.rate_bp: t.total_cents for t in totals.taxes}
    rates = sorted(by_rate)
    for rate, share in zip(rates, pricing.spread(redeemed, [max(0, by_rate[r]) for r in rates])):
        by_rate[rate] -= share
    rows = []
    for rate in rates:
        tax = pricing.tax_of_inclusive(by_rate[rate], rate)
        rows.append(pricing.TaxRow(rate_bp=rate, base_cents=by_rate[rate] - tax, tax_cents=tax,
                                   total_cents=by_rate[rate]))
    return tuple(rows)


def layout(report: DayReport, columns: int, money: Callable[[int], str], *, blind: bool = False) -> list[Row]:
    """The report as printed (and shown on screen), at `columns` characters.

    `blind`: a blind count (the cashier types what is in the drawer before seeing what was expected):
    an X report shows no money until the day is counted."""
    title = (f"Z REPORT #{report.number}" if report.kind == "Z" else "X REPORT (day not closed)")
    rule = "-" * columns
    rows = [Row(title, align="center", bold=True),
            Row(two_cols(f"Register {report.register}", report.printed_at.strftime("%Y-%m-%d %H:%M"), columns))]
    if report.opened_at:
        rows.append(Row(two_cols("From", report.opened_at.strftime("%Y-%m-%d %H:%M"), columns)))
    if report.user:
        rows.append(Row(two_cols("By", printable(report.user), columns)))
    rows.append(Row(rule))

    def line(label: str, cents: int) -> Row:
        return Row(two_cols(label, money(cents), columns))

    if blind and report.counted_cents is None:
        return rows + [Row(two_cols("Sales", str(report.sales_count), columns)),
                       Row(two_cols("Returns", str(report.returns_count), columns)),
                       Row(rule), Row("Blind count: the figures show", align="center"),
                       Row("once the cash is counted (F10).", align="center"), Row(rule),
                       Row("Not a closing: the day goes on.", align="center", cut=True)]   # one cut, at the end

    rows += [Row(two_cols(f"Sales ({report.sales_count})", money(report.sales_cents), columns)),
             Row(two_cols(f"Returns ({report.returns_count})", money(-report.returns_cents), columns)),
             Row(two_cols("NET", money(report.net_cents), columns), bold=True),
             line("Discounts", report.discount_cents)]
    if report.redeemed_cents:
        rows.append(line("  of which points", report.redeemed_cents))
    rows += [Row(rule), Row("BY TENDER", bold=True)]
    rows += [line(f"  {tender}", amount) for tender, amount in report.tenders]
    if report.cashiers:
        rows += [Row(rule), Row("BY CASHIER", bold=True)]
        for raw_name, count, amount, refunds in report.cashiers:
            name = printable(raw_name)   # a name another tool wrote is drawn and printed as text
            rows.append(line(f"  {name} ({count} sales)", amount))
            if refunds:
                rows.append(line(f"  {name} refunds", -refunds))
    rows += [Row(rule), Row("BY TAX RATE", bold=True)]
    for t in report.taxes:
        rows.append(Row(two_cols(f"  {percent_text(t.rate_bp)} on {money(t.base_cents)}", money(t.tax_cents), columns)))
    if not report.taxes:
        rows.append(Row("  none"))
    rows += [Row(rule), Row("BY SECTION", bold=True)]
    for name, items, amount in report.sections:
        rows.append(Row(two_cols(f"  {name or 'no section'} x{items}", money(amount), columns)))
    if not report.sections:
        rows.append(Row("  none"))
    rows += [Row(rule), Row("LOYALTY", bold=True),
             Row(two_cols("  Points issued", str(report.points_issued), columns)),
             Row(two_cols("  Points redeemed", str(report.points_redeemed), columns)),
             Row(rule), Row("CASH DRAWER", bold=True),
             line("  Opening float", report.opening_float_cents),
             line("  Expected", report.cash_expected_cents)]
    if report.counted_cents is not None:
        rows.append(line("  Counted", report.counted_cents))
        diff = report.difference_cents or 0
        label = "  Over" if diff > 0 else "  Short" if diff < 0 else "  Difference"
        rows.append(Row(two_cols(label, money(abs(diff)), columns), bold=bool(diff)))
    if report.fiscal:       # electronic invoices: what the DGI has, and what still waits (docs/fiscal.md)
        rows += [Row(rule), Row("ELECTRONIC INVOICES", bold=True)]
        rows += [Row(two_cols(f"  {state.capitalize()}", str(n), columns), bold=state in ("contingency", "rejected"))
                 for state, n in report.fiscal]
    if report.audit_hash:   # what the audit log's chain was when the day closed: docs/security.md
        rows += [Row(rule), Row(two_cols("Audit log", f"row {report.audit_row}", columns)),
                 Row(two_cols("  chain", report.audit_hash[:16], columns))]
    rows.append(Row(rule))
    rows.append(Row("Day closed." if report.kind == "Z" else "Not a closing: the day goes on.", align="center",
                    cut=True))
    return rows


def as_text(rows: list[Row]) -> str:
    return "\n".join(r.text for r in rows)
