"""Pricing as pure functions over plain data: lines, discounts, tax, totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tui_pos.domain.money import round_half_up

BP = 10_000  # basis points in 100 %


@dataclass(frozen=True)
class PricedLine:
    """What pricing needs from a note line."""

    qty: int
    unit_price_cents: int
    tax_rate_bp: int = 0
    tax_included: bool = True
    discount_percent_bp: int = 0
    discount_cents: int = 0
    offered_qty: int = 0     # units given for points: they cost nothing


@dataclass(frozen=True)
class LineAmounts:
    """A priced line: gross before discount, discount, and the amount to pay."""

    gross_cents: int
    discount_cents: int
    total_cents: int  # tax-inclusive amount after discount


@dataclass(frozen=True)
class TaxRow:
    """Tax for one rate: taxable base, tax, and the tax-inclusive amount."""

    rate_bp: int
    base_cents: int
    tax_cents: int
    total_cents: int


@dataclass(frozen=True)
class Totals:
    """A whole note."""

    gross_cents: int
    discount_cents: int
    total_cents: int
    taxes: tuple[TaxRow, ...] = field(default_factory=tuple)
    line_count: int = 0
    item_count: int = 0
    redeemed_cents: int = 0   # money off paid with loyalty points (inside discount_cents)

    @property
    def tax_cents(self) -> int:
        return sum(t.tax_cents for t in self.taxes)


def line_amounts(line: PricedLine) -> LineAmounts:
    """Price one line; a percentage discount wins over an amount one if both are set.

    Tax-exclusive prices get their tax added here so every total is what is paid.
    """
    net_gross = (line.qty - line.offered_qty) * line.unit_price_cents
    if line.tax_included:
        gross = net_gross
    else:
        gross = net_gross + round_half_up(net_gross * line.tax_rate_bp, BP)
    if line.discount_percent_bp:
        discount = round_half_up(gross * line.discount_percent_bp, BP)
    else:
        # an amount discount applies to the line, never beyond it
        sign = -1 if gross < 0 else 1
        discount = sign * min(abs(line.discount_cents), abs(gross))
    return LineAmounts(gross_cents=gross, discount_cents=discount, total_cents=gross - discount)


def discount_off(gross_cents: int, percent_bp: int, cents: int) -> int:
    """The money a discount takes off a line worth `gross_cents` (a percentage wins over an amount)."""
    if percent_bp:
        return round_half_up(gross_cents * percent_bp, BP)
    return min(abs(cents), abs(gross_cents))


def tax_of_inclusive(total_cents: int, rate_bp: int) -> int:
    """The tax inside a tax-inclusive amount: total - total / (1 + rate)."""
    if rate_bp == 0:
        return 0
    base = round_half_up(total_cents * BP, BP + rate_bp)
    return total_cents - base


@dataclass(frozen=True)
class PlainGroup:
    """Lines at one tax rate with tax-inclusive prices and no discount, summed.

    Such lines cost exactly qty x price, so a database can add them up and only
    the other lines need pricing one by one: a note's totals then cost the
    same at 500 lines as at 10.
    """

    rate_bp: int
    line_count: int
    item_count: int
    amount_cents: int


def spread(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` over `weights` in proportion, exactly (largest remainders get the odd cents)."""
    total = sum(weights)
    if total <= 0 or amount == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (amount * weights[i]) % total, reverse=True)
    for i in order[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def note_totals(lines: list[PricedLine], groups: Sequence[PlainGroup] = (), redeemed_cents: int = 0) -> Totals:
    """Totals and a tax row per rate. Tax is computed once per rate, not per line.

    A money-off redemption lowers the note's total and is spread over the tax
    rates in proportion to their amounts, so the tax is on what is paid.
    """
    gross = discount = total = items = count = 0
    by_rate: dict[int, int] = {}
    for group in groups:
        gross += group.amount_cents
        total += group.amount_cents
        items += group.item_count
        count += group.line_count
        by_rate[group.rate_bp] = by_rate.get(group.rate_bp, 0) + group.amount_cents
    for line in lines:
        amounts = line_amounts(line)
        gross += amounts.gross_cents
        discount += amounts.discount_cents
        total += amounts.total_cents
        items += line.qty
        count += 1
        by_rate[line.tax_rate_bp] = by_rate.get(line.tax_rate_bp, 0) + amounts.total_cents
    if redeemed_cents:
        redeemed_cents = max(0, min(redeemed_cents, total))
        rates = sorted(by_rate)
        for rate, share in zip(rates, spread(redeemed_cents, [max(0, by_rate[r]) for r in rates])):
            by_rate[rate] -= share
        discount += redeemed_cents
        total -= redeemed_cents
    taxes = []
    for rate in sorted(by_rate):
        amount = by_rate[rate]
        tax = tax_of_inclusive(amount, rate)
        taxes.append(TaxRow(rate_bp=rate, base_cents=amount - tax, tax_cents=tax, total_cents=amount))
    return Totals(gross_cents=gross, discount_cents=discount, total_cents=total,
                  taxes=tuple(taxes), line_count=count, item_count=items, redeemed_cents=redeemed_cents)


@dataclass(frozen=True)
class Settlement:
    """Where a note stands against its payments."""

    total_cents: int
    paid_cents: int

    @property
    def due_cents(self) -> int:
        """Still to pay (for a refund: still to give back, as a negative)."""
        return self.total_cents - self.paid_cents

    @property
    def complete(self) -> bool:
        if self.total_cents >= 0:
            return self.paid_cents >= self.total_cents
        return self.paid_cents <= self.total_cents

    @property
    def change_cents(self) -> int:
        return max(0, self.paid_cents - self.total_cents) if self.total_cents >= 0 else 0


def check_tender(settlement: Settlement, amount_cents: int, gives_change: bool) -> str | None:
    """Why a payment cannot be taken, or None when it can."""
    if settlement.total_cents >= 0:
        if amount_cents <= 0:
            return "A payment must be more than zero."
        if settlement.due_cents <= 0:
            return "The note is already paid."
        if not gives_change and amount_cents > settlement.due_cents:
            return "Only cash can be more than what is due (it gives change); type the amount due or less."
    return None
