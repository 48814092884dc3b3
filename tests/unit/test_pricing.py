"""Money, tax, totals and rounding: table-driven, no database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_pos.domain.errors import InputError
from tui_pos.domain.money import parse_money, parse_percent_bp, round_half_up
from tui_pos.domain.pricing import (
    PlainGroup,
    PricedLine,
    Settlement,
    check_tender,
    line_amounts,
    note_totals,
    tax_of_inclusive,
)


@pytest.mark.parametrize("num,den,expected", [
    (5, 10, 1), (4, 10, 0), (15, 10, 2), (25, 10, 3), (-5, 10, -1), (-4, 10, 0), (-15, 10, -2),
    (0, 7, 0), (1, 3, 0), (2, 3, 1), (10000, 10700, 1),
])
def test_round_half_up(num, den, expected):
    assert round_half_up(num, den) == expected


@pytest.mark.parametrize("text,cents", [
    ("12.50", 1250), ("12,5", 1250), ("0.01", 1), ("7", 700), (" 3.1 ", 310), ("$2.00", 200), (".5", 50),
    ("1000", 100000),
])
def test_parse_money(text, cents):
    assert parse_money(text) == cents


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"), ("12a", "letters"), ("-3", "negative"), ("1.234", "at most 2 decimals"),
    ("1.2.3", "not an amount"), ("99999999999", "not an amount"), ("2000000", "too large"),
])
def test_parse_money_rejects(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_money(text)


@pytest.mark.parametrize("text,bp", [("10", 1000), ("12.5%", 1250), ("100", 10000), ("0", 0)])
def test_parse_percent(text, bp):
    assert parse_percent_bp(text) == bp


@pytest.mark.parametrize("text", ["101", "ten", "-1", "5.555"])
def test_parse_percent_rejects(text):
    with pytest.raises(InputError):
        parse_percent_bp(text)


@pytest.mark.parametrize("line,gross,discount,total", [
    (PricedLine(1, 150, 700), 150, 0, 150),
    (PricedLine(3, 199, 700), 597, 0, 597),
    (PricedLine(3, 199, 700, discount_percent_bp=1000), 597, 60, 537),     # 59.7 -> 60
    (PricedLine(2, 125, 0, discount_percent_bp=5000), 250, 125, 125),
    (PricedLine(1, 500, 700, discount_cents=150), 500, 150, 350),
    (PricedLine(1, 500, 700, discount_cents=900), 500, 500, 0),            # never beyond the line
    (PricedLine(1, 1000, 700, tax_included=False), 1070, 0, 1070),         # tax added
    (PricedLine(3, 333, 700, tax_included=False), 1069, 0, 1069),          # 999 + 69.93 -> 70
    (PricedLine(-2, 150, 700), -300, 0, -300),                             # a return
    (PricedLine(-1, 500, 700, discount_cents=150), -500, -150, -350),
])
def test_line_amounts(line, gross, discount, total):
    a = line_amounts(line)
    assert (a.gross_cents, a.discount_cents, a.total_cents) == (gross, discount, total)


@pytest.mark.parametrize("total,rate,tax", [
    (107, 700, 7), (100, 700, 7), (925, 700, 61), (1000, 1000, 91), (500, 0, 0), (-107, 700, -7), (1, 700, 0),
])
def test_tax_of_inclusive(total, rate, tax):
    assert tax_of_inclusive(total, rate) == tax


def test_note_totals_groups_tax_per_rate():
    t = note_totals([PricedLine(1, 150, 700), PricedLine(2, 100, 700), PricedLine(1, 165, 0),
                     PricedLine(1, 110, 1000)])
    assert t.total_cents == 150 + 200 + 165 + 110
    assert [(r.rate_bp, r.total_cents, r.tax_cents) for r in t.taxes] == [(0, 165, 0), (700, 350, 23), (1000, 110, 10)]
    assert t.line_count == 4 and t.item_count == 5
    assert t.tax_cents == 33


def test_tax_once_per_rate_not_per_line():
    # ten 0.15 lines at 7 %: per line the tax would round to 0.01 each (0.10);
    # on the 1.50 total it is 0.10 too, but 7 lines of 0.07 show the difference
    t = note_totals([PricedLine(1, 7, 700)] * 7)
    assert t.taxes[0].tax_cents == 3  # 49 - round(49/1.07 = 45.79) = 3, not 7 x 0


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 100_000), st.sampled_from([0, 700, 1000, 1500]),
                          st.integers(0, 10000)), min_size=1, max_size=30))
def test_totals_are_sums_of_lines(raw):
    lines = [PricedLine(q, p, r, discount_percent_bp=d) for q, p, r, d in raw]
    t = note_totals(lines)
    assert t.total_cents == sum(line_amounts(line).total_cents for line in lines)
    assert t.total_cents == t.gross_cents - t.discount_cents
    assert sum(r.total_cents for r in t.taxes) == t.total_cents
    assert all(0 <= r.tax_cents <= r.total_cents for r in t.taxes)


@pytest.mark.parametrize("total,paid,amount,cash,problem", [
    (1000, 0, 500, False, None),
    (1000, 0, 2000, True, None),
    (1000, 0, 2000, False, "Only cash"),
    (1000, 0, 0, True, "more than zero"),
    (1000, 1000, 100, True, "already paid"),
])
def test_check_tender(total, paid, amount, cash, problem):
    result = check_tender(Settlement(total, paid), amount, gives_change=cash)
    assert (result is None) if problem is None else (problem in result)


def test_settlement_change():
    assert Settlement(925, 2000).change_cents == 1075
    assert Settlement(925, 925).complete and not Settlement(925, 924).complete


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 100_000), st.sampled_from([0, 700, 1000]),
                          st.sampled_from([0, 0, 1500]), st.booleans()), min_size=1, max_size=30))
def test_summed_plain_groups_equal_line_by_line(raw):
    """What the database sums (plain lines) plus the rest priced one by one gives the same totals."""
    lines = [PricedLine(q, p, r, tax_included=inc, discount_percent_bp=d) for q, p, r, d, inc in raw]
    plain = [ln for ln in lines if ln.tax_included and not ln.discount_percent_bp and not ln.discount_cents]
    rest = [ln for ln in lines if not (ln.tax_included and not ln.discount_percent_bp and not ln.discount_cents)]
    groups = {}
    for ln in plain:
        g = groups.setdefault(ln.tax_rate_bp, [0, 0, 0])
        g[0] += 1
        g[1] += ln.qty
        g[2] += ln.qty * ln.unit_price_cents
    combined = note_totals(rest, [PlainGroup(rate, *g) for rate, g in groups.items()])
    assert combined == note_totals(lines)
