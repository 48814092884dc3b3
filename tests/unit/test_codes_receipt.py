"""Code entry parsing, barcode checks and the receipt layout."""

import datetime as dt

import pytest

from tui_pos.domain.codes import normalize_barcode, parse_entry, parse_qty
from tui_pos.domain.errors import InputError
from tui_pos.domain.money import MoneyFormat
from tui_pos.domain.pricing import PricedLine, note_totals
from tui_pos.domain.receipt import Receipt, ReceiptLine, as_text, layout, two_cols
from tui_pos.domain.text import search_key


@pytest.mark.parametrize("text,qty,code", [
    ("7451000000013", 1, "7451000000013"), ("3*ESP", 3, "ESP"), (" 12 * abc ", 12, "abc"), ("2x7451", 2, "7451"),
    ("9999*A", 9999, "A"),
])
def test_parse_entry(text, qty, code):
    e = parse_entry(text)
    assert (e.qty, e.code) == (qty, code)


@pytest.mark.parametrize("text,fragment", [
    ("", "Type or scan"), ("0*ESP", "at least 1"), ("10000*ESP", "more than 9999"), ("a b c", "not a code"),
])
def test_parse_entry_rejects(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_entry(text)


@pytest.mark.parametrize("text", ["0", "abc", "10000", "-1", "1.5"])
def test_parse_qty_rejects(text):
    with pytest.raises(InputError):
        parse_qty(text)


def test_normalize_barcode():
    assert normalize_barcode("4006381333931") == "4006381333931"
    assert normalize_barcode("ABC-1") == "ABC-1"
    with pytest.raises(InputError, match="check digit"):
        normalize_barcode("4006381333932")
    with pytest.raises(InputError):
        normalize_barcode("a b")


def test_search_key():
    assert search_key("  Café  NÚÑEZ ") == "cafe nunez"


def test_two_cols():
    assert two_cols("TOTAL", "9.25", 20) == "TOTAL           9.25"
    assert len(two_cols("A very long product name indeed", "123.45", 20)) == 20


def _receipt(**kw):
    lines = [PricedLine(4, 150, 700), PricedLine(1, 325, 700, discount_percent_bp=1000)]
    totals = note_totals(lines)
    base = {"store_name": "Demo Store", "receipt_no": "R1-000007", "when": dt.datetime(2026, 11, 23, 9, 30),
            "cashier": "Ana", "sales_mode": "counter",
            "lines": (ReceiptLine("Espresso", 4, 150, 600, 0, 600),
                      ReceiptLine("Cappuccino", 1, 325, 325, 33, 292, 1000)),
            "totals": totals, "payments": (("card", 500), ("cash", 500)), "change_cents": 108,
            "header": ("Calle 50",), "footer": ("Thank you!",)}
    base.update(kw)
    return Receipt(**base)


@pytest.mark.parametrize("columns", [48, 32])
def test_layout_fits_columns_and_reads_right(columns):
    text = as_text(layout(_receipt(), columns, MoneyFormat().plain))
    for line in text.splitlines():
        assert len(line) <= columns
    assert "TOTAL" in text and "8.92" in text
    assert "Tax 7% on" in text
    assert "Discount 10%" in text and "-0.33" in text
    assert "Change" in text and "1.08" in text
    assert "|R1-000007|" in text
    assert text.splitlines()[0] == "Demo Store" and "Thank you!" in text


def test_layout_marks_refunds_and_copies():
    text = as_text(layout(_receipt(kind="return", return_of="R1-000003", reprint=True), 48, MoneyFormat().plain))
    assert "REFUND COPY" in text and "Return of R1-000003" in text
