"""What the sale services return: plain data the screens show."""

from __future__ import annotations

from dataclasses import dataclass

from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError
from tui_pos.services.customers import CustomerView
from tui_pos.services.store.notes import LineRecord, NoteRecord, TenderPaid


class UnknownCode(InputError):
    """No product has the code scanned (it may still be a loyalty card)."""


@dataclass(frozen=True)
class LineView:
    """A note line as shown on the sale screen."""

    id: int
    sku: str
    name: str
    qty: int
    unit_price_cents: int
    list_price_cents: int
    discount_percent_bp: int
    discount_cents: int      # the discount actually applied to the line
    total_cents: int
    price_source: str = "retail"   # retail | rate | specific | manual | weighed: which price won
    discount_source: str = ""      # "" | manual | group
    offered_qty: int = 0           # units given for points

    @property
    def overridden(self) -> bool:
        return self.price_source == "manual"


def line_view(line: LineRecord) -> LineView:
    amounts = pricing.line_amounts(line.priced())
    return LineView(id=line.id, sku=line.sku, name=line.name, qty=line.qty, unit_price_cents=line.unit_price_cents,
                    list_price_cents=line.list_price_cents, discount_percent_bp=line.discount_percent_bp,
                    discount_cents=amounts.discount_cents, total_cents=amounts.total_cents,
                    price_source=line.price_source, discount_source=line.discount_source,
                    offered_qty=line.offered_qty + line.reward_qty)


@dataclass(frozen=True)
class Summary:
    """A note's totals against what has been paid."""

    note_id: int
    totals: pricing.Totals
    paid_cents: int

    @property
    def due_cents(self) -> int:
        return self.totals.total_cents - self.paid_cents


@dataclass(frozen=True)
class NoteView:
    """A whole note."""

    id: int
    status: str
    kind: str
    sales_mode: str
    label: str
    lines: tuple[LineView, ...]
    summary: Summary
    payments: tuple[tuple[str, int], ...]   # (tender, cents)
    customer: CustomerView | None = None


def note_view(note: NoteRecord, lines: list[LineRecord], payments: list[TenderPaid],
              customer: CustomerView | None) -> NoteView:
    """The note as shown, from its lines as they are now (money off with points as on `note`)."""
    totals = pricing.note_totals([ln.priced() for ln in lines], (), note.redeem_cents)
    return NoteView(note.id, note.status, note.kind, note.sales_mode, note.label,
                    tuple(line_view(ln) for ln in lines),
                    Summary(note.id, totals, sum(p.amount_cents for p in payments)),
                    tuple((p.tender, p.amount_cents) for p in payments), customer)


@dataclass(frozen=True)
class ScanResult:
    """What a scan did: a line added or changed, or a customer attached by card."""

    line: LineView | None
    summary: Summary
    customer: CustomerView | None = None


@dataclass(frozen=True)
class ParkedNote:
    id: int
    label: str
    opened_at: object
    line_count: int
    total_cents: int


@dataclass(frozen=True)
class LastSale:
    receipt_no: str
    total_cents: int
    tenders: str
    cashier: str
    kind: str


@dataclass(frozen=True)
class PayResult:
    """After a payment: whether the sale completed, the change, the receipt."""

    summary: Summary
    completed: bool
    change_cents: int = 0
    receipt_no: str = ""
    cash_taken: bool = False
    next_note_id: int | None = None   # completing a sale opens the register's next note in its transaction
