"""Money: integer cents inside, Decimal only at the edges, one rounding rule."""

from __future__ import annotations

import functools
import re
from decimal import Decimal

from tui_pos.domain.errors import InputError

MAX_AMOUNT_CENTS = 100_000_000  # 1,000,000.00: nothing at a till costs more
MAX_PRICE_CENTS = MAX_AMOUNT_CENTS - 1   # 999,999.99: the dearest price an import takes ...
MAX_LARGE_PRICE_CENTS = 999_999_999      # ... 9,999,999.99 with --allow-large: a note of two still fits the
                                         # 32-bit integer columns (PostgreSQL) of a note's total

_MONEY_RE = re.compile(r"^\d{1,9}(?:[.,]\d{0,2})?$|^[.,]\d{1,2}$")


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero.

    The one rounding helper for money: discounts, tax and proportions all use it.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def parse_money(text: str, field: str = "amount") -> int:
    """'12.50' -> 1250. Raises InputError with a message for the cashier."""
    raw = text.strip().replace(" ", "")
    if raw.startswith("$"):
        raw = raw[1:]
    if not raw:
        raise InputError(f"The {field} is empty: type an amount such as 12.50.")
    if raw.startswith("-"):
        raise InputError(f"The {field} cannot be negative: type an amount such as 12.50.")
    if any(c.isalpha() for c in raw):
        raise InputError(f"The {field} has letters in it ({text.strip()!r}): type digits only, such as 12.50.")
    if not _MONEY_RE.match(raw):
        raise InputError(f"The {field} {text.strip()!r} is not an amount: type it like 12.50 (at most 2 decimals).")
    cents = int((Decimal(raw.replace(",", ".")) * 100).to_integral_value())
    if cents > MAX_AMOUNT_CENTS:
        raise InputError(f"The {field} {text.strip()} is too large for one entry.")
    return cents


def parse_percent_bp(text: str, field: str = "percent") -> int:
    """'12.5' -> 1250 basis points; 0 to 100 %."""
    raw = text.strip().rstrip("%").strip()
    if any(c.isalpha() for c in raw):
        raise InputError(f"The {field} has letters in it ({text.strip()!r}): type a number such as 10.")
    if not re.fullmatch(r"\d{1,3}(?:[.,]\d{0,2})?", raw):
        raise InputError(f"The {field} {text.strip()!r} is not a percentage: type a number such as 10 or 12.5.")
    bp = int((Decimal(raw.replace(",", ".")) * 100).to_integral_value())
    if bp > 10000:
        raise InputError(f"The {field} cannot be more than 100 %.")
    return bp


def cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@functools.lru_cache(maxsize=8192)
def _formatted(cents: int, currency: str, locale: str, plain: bool) -> str:
    """Babel's text for an amount, remembered: a page of 50 receipts or a day's report formats the same few
    prices again and again, and Babel takes about 60 us each (the portal's account page spent 40 % of its
    time here: docs/benchmarks.md)."""
    from babel.numbers import format_currency  # babel import is ~30 ms: keep it here
    if plain:
        return format_currency(cents_to_decimal(cents), currency, locale=locale, format="#,##0.00;-#,##0.00",
                               currency_digits=True)
    return format_currency(cents_to_decimal(cents), currency, locale=locale)


class MoneyFormat:
    """Formats cents in a currency and locale (Babel); built once per app."""

    def __init__(self, currency: str = "USD", locale: str = "en_US") -> None:
        self.currency = currency
        self.locale = locale

    def __call__(self, cents: int) -> str:
        return _formatted(cents, self.currency, self.locale, False)

    def plain(self, cents: int) -> str:
        """Without the currency symbol: for receipt columns."""
        return _formatted(cents, self.currency, self.locale, True)
