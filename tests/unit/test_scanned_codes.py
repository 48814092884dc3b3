"""Scanned barcodes: check digits, UPC-E expansion, weighed-item EAN-13 layouts."""

import pytest

from tui_pos.domain.codes import (
    Weighed,
    bad_check_digit,
    check_weighed_layout,
    parse_weighed,
    scanned_forms,
    upce_to_upca,
)


@pytest.mark.parametrize("upce, upca", [
    ("04252614", "042100005264"),   # last digit 0-2: manufacturer keeps it
    ("01234531", "012300000451"),   # 3
    ("01234543", "012340000053"),   # 4
    ("01234558", "012345000058"),   # 5-9
])
def test_upce_expands_to_upca(upce, upca):
    assert upce_to_upca(upce) == upca
    assert scanned_forms(upce)[1:] == [upca, "0" + upca]


def test_only_8_digit_codes_of_number_system_0_or_1_are_upce():
    assert upce_to_upca("24252614") is None and upce_to_upca("0425261") is None


def test_bad_check_digits_are_told_apart_from_unknown_codes():
    assert not bad_check_digit("7451000000010")
    assert bad_check_digit("7451000000011")
    assert bad_check_digit("042100005265")
    assert not bad_check_digit("04252614")       # a valid UPC-E, not a valid EAN-8
    assert not bad_check_digit("ESP") and not bad_check_digit("12345")


def test_upca_is_also_looked_up_as_ean13():
    assert scanned_forms("042100005264") == ["042100005264", "0042100005264"]


LAYOUT = "PPIIIIIVVVVVC"


def test_weighed_price_and_weight():
    price = parse_weighed("2012345012349", ["20", "28:weight"], LAYOUT)
    assert price == Weighed("12345", 1234, "price") and price.price_cents(999) == 1234
    weight = parse_weighed("2812345003508", ["20", "28:weight"], LAYOUT)
    assert weight == Weighed("12345", 350, "weight")
    assert weight.price_cents(1290) == 452       # 0.350 kg at 12.90/kg = 4.515 -> 4.52
    assert weight.label("Gouda") == "Gouda 0.350 kg"


def test_other_layouts_and_prefixes():
    # prefix 2, four-digit PLU, a price check digit (ignored), a five-digit price
    code = "2" + "0412" + "7" + "00250" + "00"
    assert parse_weighed(code, ["2"], "PIIIIXVVVVVXC") == Weighed("0412", 250, "price")
    assert parse_weighed("7451000000010", ["20"], LAYOUT) is None
    assert parse_weighed("201234501234", ["20"], LAYOUT) is None   # 12 digits: not an EAN-13


@pytest.mark.parametrize("bad", ["PPIIIIIVVVVV", "PPIIIIIVVVVVX", "PPIIIIIIIIIIC", "IIPPPPPVVVVVC", "PPIIIIIVVVVCC"])
def test_bad_layouts_are_refused(bad):
    with pytest.raises(ValueError):
        check_weighed_layout(bad)
