"""Phones, emails, dates, and which price wins (seed 003), without a database."""

import datetime as dt

import pytest

from tui_pos.domain.customer import (
    best_price,
    group_discount_bp,
    looks_like_phone,
    national_reversed,
    normalize_email,
    normalize_phone,
    parse_date,
    rate_price,
)
from tui_pos.domain.errors import InputError


@pytest.mark.parametrize("text", ["6123-4567", "+507 6123 4567", "61234567", "(507) 6123-4567", "+50761234567"])
def test_phone_typed_any_way(text):
    assert normalize_phone(text, "PA") == "+50761234567"


@pytest.mark.parametrize("text", ["123", "6123-456", "abc", "+1 555", ""])
def test_not_a_phone(text):
    with pytest.raises(InputError):
        normalize_phone(text, "PA")


def test_foreign_phone_with_plus():
    assert normalize_phone("+44 20 7946 0958", "PA") == "+442079460958"


def test_reversed_national_digits():
    assert national_reversed("+50761234567") == "76543216"


@pytest.mark.parametrize("text,expected", [("4567", True), ("6123-4567", True), ("ana", False), ("12", False),
                                           ("8-274-125", True), ("ana@x.com", False)])
def test_looks_like_phone(text, expected):
    assert looks_like_phone(text) is expected


def test_email():
    assert normalize_email(" Ana@Example.COM ") == "ana@example.com"
    for bad in ("ana", "ana@", "@x.com", "a b@x.com", "ana@x"):
        with pytest.raises(InputError, match="not an email"):
            normalize_email(bad)


def test_dates():
    assert parse_date("1990-05-31") == dt.date(1990, 5, 31)
    for bad in ("1990-02-30", "31/05/1990", "yesterday"):
        with pytest.raises(InputError, match="not a date that exists"):
            parse_date(bad)


@pytest.mark.parametrize("retail,price,bp,expected", [(1000, 800, 0, 800), (1000, 0, 1000, 900), (999, 0, 1500, 849)])
def test_rate_price(retail, price, bp, expected):
    assert rate_price(retail, price, bp) == expected


@pytest.mark.parametrize("retail,rate,specific,mode,expected", [
    # "In any case system use the best price. when retail price is lower than rate or specific prices are lower
    # than rate" (seed 003, rates): the default, "best"
    (1000, 800, 500, "best", (500, "specific")),
    (1000, 800, 900, "best", (800, "rate")),
    (1000, 1200, None, "best", (1000, "retail")),     # retail lower than the rate
    (1000, 800, 800, "best", (800, "rate")),          # a tie keeps the rate
    # "If exist a customer rate don't check for specific prices. Gets better than retail price or customer rate"
    # (seed 003, price flow): "rate"
    (1000, 800, 500, "rate", (800, "rate")),
    (1000, 1200, 500, "rate", (1000, "retail")),
    # a product the rate does not list is priced as for anyone, whatever the setting: "Speceific rate also is
    # compare with retail price to get the better one"
    (1000, None, 700, "best", (700, "specific")),
    (1000, None, 700, "rate", (700, "specific")),
    (1000, None, 1100, "rate", (1000, "retail")),
    (1000, None, None, "best", (1000, "retail")),
])
def test_best_price_follows_seed_003(retail, rate, specific, mode, expected):
    choice = best_price(retail, rate_cents=rate, specific_cents=specific, rate_and_special=mode)
    assert (choice.price_cents, choice.source) == expected


@pytest.mark.parametrize("discounts,stack,expected", [([], False, 0), ([500, 1000], False, 1000),
                                                      ([500, 1000], True, 1500), ([6000, 6000], True, 10000)])
def test_group_discounts(discounts, stack, expected):
    assert group_discount_bp(discounts, stack) == expected
