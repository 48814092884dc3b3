"""Customer rules: phones, emails, birthdays, and which price and discount win."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from tui_pos.domain.errors import InputError
from tui_pos.domain.money import round_half_up
from tui_pos.domain.pricing import BP

PAYMENT_STATUS = {0: "valid", 1: "pending payments", 2: "defaulter"}
RUC_TYPES = ("individual", "corporate", "foreign")
_PHONE_CHARS = re.compile(r"^[+\d][\d\s().\-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def looks_like_phone(text: str) -> bool:
    """Digits with phone punctuation only: '6123-4567', '+507 6123 4567', '4567'."""
    return bool(_PHONE_CHARS.match(text.strip())) and len(digits_of(text)) >= 4


def normalize_phone(text: str, region: str) -> str:
    """A phone typed any way -> E.164 ('+50761234567'); InputError when it cannot be a phone."""
    import phonenumbers

    raw = text.strip()
    if not raw:
        raise InputError("The phone is empty.")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InputError(f"{raw!r} is not a phone number: type it like 6123-4567 or +507 6123 4567.") from None
    if not phonenumbers.is_valid_number(number):
        raise InputError(f"{raw!r} cannot be a phone number in {region} or abroad: check the digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_reversed(e164: str) -> str:
    """Reversed national digits, so that 'ends with 4567' is a prefix search on an index."""
    import phonenumbers
    number = phonenumbers.parse(e164, None)
    return str(number.national_number)[::-1]


def format_phone(e164: str | None) -> str:
    if not e164:
        return ""
    import phonenumbers
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def normalize_email(text: str) -> str:
    email = text.strip()
    if not _EMAIL.match(email):
        raise InputError(f"{email!r} is not an email address: it needs a name, an @ and a domain, "
                         "like ana@example.com.")
    return email.lower()


def parse_date(text: str, field: str = "date") -> _dt.date:
    raw = text.strip()
    try:
        return _dt.date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"The {field} {raw!r} is not a date that exists: write it as YYYY-MM-DD, "
                         "like 1990-05-31.") from None


OLDEST_BIRTHDAY = _dt.date(1900, 1, 1)


def check_birthday(day: _dt.date, today: _dt.date) -> _dt.date:
    """A birthday is in the past (today is one) and in the lifetime of someone alive."""
    if day > today:
        raise InputError(f"The birthday {day.isoformat()} is in the future: write it as YYYY-MM-DD, like 1990-05-31.")
    if day < OLDEST_BIRTHDAY:
        raise InputError(f"The birthday {day.isoformat()} is before {OLDEST_BIRTHDAY.year}: check the year.")
    return day


@dataclass(frozen=True)
class PriceChoice:
    """The unit price that won, and where it came from (shown on the line)."""

    price_cents: int
    source: str   # retail | rate | specific


def rate_price(retail_cents: int, price_cents: int, discount_bp: int) -> int:
    """A rate line's price: its own, or with price 0 its discount off retail (seed 003)."""
    if price_cents:
        return price_cents
    return retail_cents - round_half_up(retail_cents * discount_bp, BP)


RATE_AND_SPECIAL = ("best", "rate")


def best_price(retail_cents: int, *, rate_cents: int | None, specific_cents: int | None,
               rate_and_special: str = "best") -> PriceChoice:
    """Seed 003's price of a product for a customer.

    Seed 003 says it twice, not the same way: "In any case system use the best
    price. when retail price is lower than rate or specific prices are lower
    than rate" (rates), and "If exist a customer rate don't check for specific
    prices. Gets better than retail price or customer rate" (price flow).

    `rate_cents` is the customer's rate price for this product, None when they
    have no rate or their rate does not list the product: then the product is
    priced as for anyone, the better of retail and the specific price ("Specific
    rate also is compare with retail price to get the better one"). For a
    product the rate lists, `rate_and_special` picks the sentence: "best" (the
    lowest of retail, specific and rate: the first) or "rate" (the better of
    retail and rate, specific prices not looked at: the second). A tie keeps
    the plainer source (retail, then the rate).
    """
    if rate_and_special not in RATE_AND_SPECIAL:
        raise ValueError(f"rate_and_special {rate_and_special!r}")
    candidates = [PriceChoice(retail_cents, "retail")]
    if rate_cents is not None:
        candidates.append(PriceChoice(rate_cents, "rate"))
    if specific_cents is not None and (rate_cents is None or rate_and_special == "best"):
        candidates.append(PriceChoice(specific_cents, "specific"))
    return min(candidates, key=lambda c: c.price_cents)   # min keeps the first of equals


def group_discount_bp(discounts: list[int], stack: bool) -> int:
    """The best single group discount, or their sum (capped at 100 %) when stacking."""
    if not discounts:
        return 0
    return min(BP, sum(discounts)) if stack else max(discounts)
