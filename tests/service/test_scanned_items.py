"""Scanned codes at the register: weighed items, UPC-E, misreads (SQLite and PostgreSQL)."""

import pytest
from stdnum import ean

from tui_pos.domain.errors import InputError
from tui_pos.models import Barcode, Product, Section
from tui_pos.services import customers
from tui_pos.services.sales import SaleService


def with_check(digits12: str) -> str:
    return digits12 + ean.calc_check_digit(digits12)


@pytest.fixture
def weighed_sales(demo):
    deli = Section.create(name="Deli")
    Product.create(sku="GOUDA", name="Gouda", section=deli, price_cents=1290, tax_rate_bp=0,
                   search_text="gouda")
    ham = Product.create(sku="HAM", name="Ham", section=deli, price_cents=1500, tax_rate_bp=0, search_text="ham")
    Barcode.create(code="00412", product=ham)  # the scale's PLU as a barcode
    return SaleService("R1", weighed_prefixes=["20", "21", "28:weight"], weighed_layout="PPIIIIIVVVVVC")


def test_weight_embedded_label_prices_by_the_kilo(weighed_sales):
    sales = weighed_sales
    Product.update(sku="12345").where(Product.sku == "GOUDA").execute()
    note = sales.open_note()
    line, summary = sales.add_item(note, with_check("281234500350"))
    assert (line.name, line.qty, line.unit_price_cents, line.price_source) == ("Gouda 0.350 kg", 1, 452, "weighed")
    # a second label is its own line, never merged
    line2, summary = sales.add_item(note, with_check("281234501000"))
    assert line2.id != line.id and line2.unit_price_cents == 1290
    assert summary.totals.total_cents == 452 + 1290


def test_price_embedded_label_keeps_its_price_whatever_the_customer(weighed_sales):
    sales = weighed_sales
    note = sales.open_note()
    line, _ = sales.add_item(note, with_check("200041200799"))
    assert (line.sku, line.unit_price_cents) == ("HAM", 799)
    vip = customers.create_with_phone("6123-9999", region="PA")
    view = sales.attach_customer(note, vip.id)  # repricing leaves a label's price alone
    assert [ln.unit_price_cents for ln in view.lines] == [799]


def test_unknown_plu_and_misread_labels_say_so(weighed_sales):
    sales = weighed_sales
    note = sales.open_note()
    with pytest.raises(InputError, match="Unknown weighed item 99999"):
        sales.add_item(note, with_check("209999900100"))
    good = with_check("200041200799")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InputError, match="misread"):
        sales.add_item(note, bad)
    assert sales.view(note).lines == ()


def test_misread_product_barcode_is_not_called_unknown(sales):
    from tui_pos.services.demo import demo_barcode
    note = sales.open_note()
    good = demo_barcode(1)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InputError, match="wrong check digit"):
        sales.add_item(note, bad)


def test_upce_finds_the_product_stored_as_ean13(sales):
    milk = Product.get(Product.sku == "MILK")
    Barcode.create(code="0042100005264", product=milk)
    note = sales.open_note()
    line, _ = sales.add_item(note, "04252614")
    assert line.sku == "MILK"
    line, _ = sales.add_item(note, "042100005264")  # the UPC-A
    assert line.sku == "MILK" and line.qty == 2
