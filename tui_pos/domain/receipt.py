"""The receipt as pure data, and its layout in N columns of text.

The printer backend renders `layout()` rows as ESC/POS; tests read them as text.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field

from tui_pos.domain.loyalty import Block
from tui_pos.domain.pricing import BP, Totals


@dataclass(frozen=True)
class ReceiptLine:
    """A line as printed."""

    name: str
    qty: int
    unit_price_cents: int
    gross_cents: int
    discount_cents: int
    total_cents: int
    discount_percent_bp: int = 0
    offered_qty: int = 0      # units given for points: printed as `Offered`, costing 0


@dataclass(frozen=True)
class Receipt:
    """Everything printed for one paid note or refund."""

    store_name: str
    receipt_no: str
    when: _dt.datetime
    cashier: str
    sales_mode: str
    lines: tuple[ReceiptLine, ...]
    totals: Totals
    payments: tuple[tuple[str, int], ...]
    change_cents: int = 0
    kind: str = "sale"          # sale | return
    return_of: str = ""         # the original receipt number of a return
    header: tuple[str, ...] = field(default_factory=tuple)
    footer: tuple[str, ...] = field(default_factory=tuple)
    reprint: bool = False
    loyalty: Block | None = None     # the loyalty block (SPEC: when points were used, or always)
    redeemed_points: int = 0


@dataclass(frozen=True)
class Row:
    """One printed row: text, or a barcode when `barcode` is set."""

    text: str = ""
    align: str = "left"   # left | center
    bold: bool = False
    big: bool = False
    barcode: str = ""
    cut: bool = False


def two_cols(left: str, right: str, width: int) -> str:
    """`left ....... right` in exactly `width` columns (left is cut if needed)."""
    room = width - len(right) - 1
    if room < 1:
        return (left + " " + right)[:width]
    if len(left) > room:
        left = left[: room - 1] + "~" if room > 1 else left[:room]
    return left + " " * (width - len(left) - len(right)) + right


def percent_text(bp: int) -> str:
    """Basis points as printed: 700 -> 7%, 1050 -> 10.5%."""
    whole, frac = divmod(bp, 100)
    return f"{whole}%" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0") + "%"


def layout(receipt: Receipt, columns: int, money: Callable[[int], str]) -> list[Row]:
    """The receipt, row by row, at `columns` characters."""
    rows: list[Row] = [Row(receipt.store_name, align="center", bold=True, big=columns >= 42)]
    rows += [Row(h, align="center") for h in receipt.header]
    title = "REFUND" if receipt.kind == "return" else ""
    if receipt.reprint:
        title = (title + " COPY").strip()
    if title:
        rows.append(Row(title, align="center", bold=True))
    rows.append(Row(two_cols(receipt.receipt_no, receipt.when.strftime("%Y-%m-%d %H:%M"), columns)))
    rows.append(Row(two_cols(f"Cashier: {receipt.cashier}", receipt.sales_mode, columns)))
    if receipt.return_of:
        rows.append(Row(f"Return of {receipt.return_of}"))
    rows.append(Row("-" * columns))
    for line in receipt.lines:
        if line.qty == 0 and line.offered_qty:
            rows.append(Row(two_cols(line.name if line.offered_qty == 1 else f"{line.offered_qty} x {line.name}",
                                     "Offered", columns)))
            continue
        if line.qty == 1:
            rows.append(Row(two_cols(line.name, money(line.gross_cents), columns)))
        else:
            rows.append(Row(line.name[:columns]))
            rows.append(Row(two_cols(f"  {line.qty} x {money(line.unit_price_cents)}",
                                     money(line.gross_cents), columns)))
        if line.discount_cents:
            label = "  Discount"
            if line.discount_percent_bp:
                label += " " + percent_text(line.discount_percent_bp)
            rows.append(Row(two_cols(label, money(-line.discount_cents), columns)))
        if line.offered_qty:
            rows.append(Row(two_cols(f"  {line.offered_qty} x {line.name}"[:columns - 9], "Offered", columns)))
    if receipt.totals.redeemed_cents:
        rows.append(Row(two_cols(f"Points redeemed ({receipt.redeemed_points})", money(-receipt.totals.redeemed_cents),
                                 columns)))
    rows.append(Row("-" * columns))
    t = receipt.totals
    if t.discount_cents:
        rows.append(Row(two_cols("Subtotal", money(t.gross_cents), columns)))
        rows.append(Row(two_cols("Discounts", money(-t.discount_cents), columns)))
    rows.append(Row(two_cols("TOTAL", money(t.total_cents), columns), bold=True))
    for tax in t.taxes:
        if tax.rate_bp:
            rows.append(Row(two_cols(f"Tax {percent_text(tax.rate_bp)} on {money(tax.base_cents)}",
                                     money(tax.tax_cents), columns)))
        else:
            rows.append(Row(two_cols("Tax exempt", money(tax.total_cents), columns)))
    rows.append(Row(two_cols(f"Items {t.item_count}", f"Lines {t.line_count}", columns)))
    rows.append(Row("-" * columns))
    for tender, amount in receipt.payments:
        rows.append(Row(two_cols(tender.capitalize(), money(amount), columns)))
    if receipt.change_cents:
        rows.append(Row(two_cols("Change", money(receipt.change_cents), columns), bold=True))
    if receipt.loyalty is not None:
        b = receipt.loyalty
        fmt = money if b.value_mode else str
        rows.append(Row("-" * columns))
        if b.tier:
            rows.append(Row(two_cols("Loyalty", b.tier, columns)))
        rows.append(Row(two_cols("Previous balance", fmt(b.previous), columns)))
        if receipt.kind == "return":   # a refund slip: what the returned units had earned, and had cost
            rows.append(Row(two_cols("Points taken back", fmt(b.used), columns)))
            rows.append(Row(two_cols("Points given back", fmt(b.earned), columns)))
        else:
            rows.append(Row(two_cols("Points used", fmt(b.used), columns)))
            rows.append(Row(two_cols("Points earned", fmt(b.earned), columns)))
        rows.append(Row(two_cols("New balance", fmt(b.new), columns), bold=True))
    rows.append(Row(""))
    rows.append(Row(receipt.receipt_no, align="center"))
    rows.append(Row(barcode=receipt.receipt_no, align="center"))
    rows += [Row(f, align="center") for f in receipt.footer]
    rows.append(Row(cut=True))
    return rows


def as_text(rows: list[Row]) -> str:
    """The rows as plain text (what the paper would read), for tests and previews."""
    out = []
    for row in rows:
        if row.cut:
            continue
        out.append(f"|{row.barcode}|" if row.barcode else row.text)
    return "\n".join(out)


__all__ = ["Receipt", "ReceiptLine", "Row", "layout", "as_text", "two_cols", "BP"]
