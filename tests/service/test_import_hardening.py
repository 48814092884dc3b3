"""Imports that crashed on numbers and encodings, and imports that changed what they should not (issue 28,
items 7 and 8), on a real database: each refusal is one line naming the file, line and column, and writes
nothing."""

import json

import pytest

from tui_pos.domain import imports as cell_rules
from tui_pos.domain.errors import InputError
from tui_pos.models import AuditLog, Barcode, Customer, LoyaltyCard, LoyaltyMovement, Product
from tui_pos.services import catalog, customers, loyalty
from tui_pos.services.catalog import ImportError_

R = "PA"
PRODUCTS = "barcode,sku,name,section,price,tax_rate,points,points_cost\n"
CUSTOMERS = ",".join(customers.CSV_COLUMNS) + "\n"


def opening(cid, points, line):
    loyalty.opening_balance(cid, points)


def refused(call, path) -> str:
    """The refusal's text: one line that starts with the file's name."""
    with pytest.raises(ImportError_) as err:
        call(path)
    text = str(err.value)
    assert text.startswith(str(path) + ":") and "\n" not in text
    return text


def products_csv(tmp_path, body, name="p.csv"):
    path = tmp_path / name
    path.write_text(PRODUCTS + body, encoding="utf-8")
    return path


def customers_csv(tmp_path, body, name="c.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes((CUSTOMERS + body).encode(encoding))
    return path


def import_customers(path, **kw):
    return customers.import_customers(path, region=R, opening_points=opening, **kw)


def last_audit(action):
    row = AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id.desc()).first()
    return json.loads(row.detail)


# ------------------------------------------------------------------ item 7: numbers and encodings
# "Of 86 malformed files, 8 ended in a traceback: a price of `1e30` (`decimal.InvalidOperation`), `1e17` or
# 20-digit points (`OverflowError`), and customer files in UTF-16, Latin-1 or binary (`UnicodeDecodeError`)
# ... Each gets one line with file, line and column, nothing written."

@pytest.mark.parametrize("price,message", [
    ("1e30", "price 1e30 is more than 999,999.99, the dearest price an import takes "
             "(--allow-large takes up to 9,999,999.99)"),
    ("1e17", "price 1e17 is more than 999,999.99"),
    ("1000000", "price 1000000 is more than 999,999.99"),
    ("NaN", "'NaN' is not a number; expected a price such as 2.50"),
    ("Infinity", "'Infinity' is not a number"),
    ("-0", "price -0 is negative; expected 0 or more"),
    ("1e-9999", "price 1e-9999 has more than 2 decimals"),
    ("1e-99999", "'1e-99999' is not a number"),
    ("0.001", "price 0.001 has more than 2 decimals"),
    ("²", "'²' is not a number"),
    ("9" * 40, "is not a number"),
])
def test_a_price_a_store_cannot_mean_is_refused_naming_line_and_column(database, tmp_path, price, message):
    path = products_csv(tmp_path, ",OK,Fine,,1.00,7,,\n" f",BAD,Thing,,{price},7,,\n")
    text = refused(catalog.import_products, path)
    assert text.startswith(f"{path}:3:5 (price): ") and message in text
    assert Product.select().count() == 0


def test_a_price_up_to_999999_99_and_with_allow_large_up_to_9999999_99(database, tmp_path):
    catalog.import_products(products_csv(tmp_path, ",A,Dear,,999999.99,7,,\n,B,Free,,0,7,,\n,C,Sci,,1.5e2,7,,\n"))
    assert [(p.sku, p.price_cents) for p in Product.select().order_by(Product.sku)] == [
        ("A", 99_999_999), ("B", 0), ("C", 15_000)]
    large = products_csv(tmp_path, ",H,House,,9999999.99,0,,\n", "large.csv")
    refused(catalog.import_products, large)
    catalog.import_products(large, allow_large=True)
    assert Product.get(Product.sku == "H").price_cents == 999_999_999
    text = refused(lambda p: catalog.import_products(p, allow_large=True),
                   products_csv(tmp_path, ",H2,Castle,,10000000,0,,\n", "larger.csv"))
    assert "price 10000000 is more than 9,999,999.99, the dearest price an import takes" in text


@pytest.mark.parametrize("row,where,message", [
    (",Y,Thing,,1.00,7,123456789012345678901,", ":2:7 (points)", "points '123456789012345678901' is more than "
                                                                 "999,999,999, the most points a balance holds"),
    (",Y,Thing,,1.00,7,,1000000000", ":2:8 (points_cost)", "is more than 999,999,999"),
    (",Y,Thing,,1.00,7,-5,", ":2:7 (points)", "points '-5' is negative"),
    (",Y,Thing,,1.00,1e-9999,,", ":2:6 (tax_rate)", "must be a percent from 0 to 100"),
    (",Y,Thing,,1.00,NaN,,", ":2:6 (tax_rate)", "is not a number"),
    (",Y,Thing,,1.00,-0,,", ":2:6 (tax_rate)", "must be a percent from 0 to 100"),
    ("," + "S" * 65 + ",Thing,,1.00,7,,", ":2:2 (sku)", "is longer than 64 characters"),
    (",Y," + "n" * 256 + ",,1.00,7,,", ":2:3 (name)", "is longer than 255 characters"),
])
def test_products_points_rates_and_lengths(database, tmp_path, row, where, message):
    path = products_csv(tmp_path, row + "\n")
    text = refused(catalog.import_products, path)
    assert text.startswith(str(path) + where) and message in text
    assert Product.select().count() == 0


@pytest.mark.parametrize("points,message", [
    ("123456789012345678901", "points '123456789012345678901' is more than 999,999,999"),
    ("1" * 200, "is more than 999,999,999"),
    ("-70", "points '-70' is negative; expected 0 or more"),
    ("--5", "'--5' is not a whole number of points"),
    ("1e3", "'1e3' is not a whole number of points"),
    ("٣", "is not a whole number of points"),           # an Arabic-Indic three: a digit to str.isdigit
])
def test_customer_points_are_a_whole_number_within_the_balance_limit(database, tmp_path, points, message):
    path = customers_csv(tmp_path, "A1,Ana,,,,,,,,,,,0,open,,10\n" f"A2,Bob,,,,,,,,,,,0,open,,{points}\n")
    text = refused(import_customers, path)
    assert text.startswith(f"{path}:3:16 (points): ") and message in text
    assert Customer.select().count() == 0 and LoyaltyMovement.select().count() == 0


def test_an_opening_balance_at_the_limit_is_taken(database, tmp_path):
    import_customers(customers_csv(tmp_path, f"A1,Ana,,,,,,,,,,,0,open,,{cell_rules.MAX_POINTS}\n"))
    assert Customer.get(Customer.code == "A1").points_balance == 999_999_999


@pytest.mark.parametrize("birthday,message", [
    ("2999-01-01", "The birthday 2999-01-01 is in the future"),
    ("1850-06-01", "The birthday 1850-06-01 is before 1900"),
    ("1990-02-30", "is not a date that exists"),
])
def test_a_birthday_is_in_the_past(database, tmp_path, birthday, message):
    path = customers_csv(tmp_path, f"A1,Ana,,,,,,,,,,,0,open,{birthday},\n")
    text = refused(import_customers, path)
    assert text.startswith(f"{path}:2:15 (birthday): ") and message in text
    assert Customer.select().count() == 0


def test_a_code_longer_than_a_code_is_refused(database, tmp_path):
    path = customers_csv(tmp_path, "X" * 65 + ",Ana,,,,,,,,,,,0,open,,\n")
    assert refused(import_customers, path).startswith(f"{path}:2:1 (code): ")
    path = customers_csv(tmp_path, "A1,Ana,,,,,,,,,,C1|" + "K" * 65 + ",0,open,,\n", "card.csv")
    assert refused(import_customers, path).startswith(f"{path}:2:12 (card): ")


def test_a_latin1_customer_file_names_the_line_column_and_byte(database, tmp_path):
    path = customers_csv(tmp_path, "A1,Ana,,,,,,,,,,,0,open,,\nA2,José,,,,,,,,,,,0,open,,\n", encoding="latin-1")
    assert refused(import_customers, path) == (
        f"{path}:3:2 (name): byte 0xE9 at character 4 is not UTF-8 (Latin-1 or Windows-1252 text?): "
        "save the file as UTF-8 (in a spreadsheet: CSV UTF-8)")
    assert Customer.select().count() == 0        # line 2 was read and written before line 3: rolled back


def test_a_utf16_customer_file_is_refused_at_its_first_byte(database, tmp_path):
    path = customers_csv(tmp_path, "A1,Ana,,,,,,,,,,,0,open,,\n", encoding="utf-16")
    assert refused(import_customers, path) == (
        f"{path}:1:1: the file is UTF-16 text; save it as UTF-8 (in a spreadsheet: CSV UTF-8)")
    bom_less = customers_csv(tmp_path, "A1,Ana,,,,,,,,,,,0,open,,\n", "le.csv", encoding="utf-16-le")
    assert "the header holds NUL bytes: the file is UTF-16 or not text" in refused(import_customers, bom_less)
    assert Customer.select().count() == 0


def test_a_binary_file_is_refused_for_both_imports(database, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01" + bytes(range(256)) * 4)
    assert refused(import_customers, path).startswith(f"{path}:1:1: byte 0xFF at character 1 is not UTF-8")
    assert refused(catalog.import_products, path).startswith(f"{path}:1:1: byte 0xFF")


def test_a_latin1_products_file_names_its_column(database, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes((PRODUCTS + ",A,Café,Bebidas,1.00,7,,\n").encode("cp1252"))
    assert refused(catalog.import_products, path).startswith(f"{path}:2:3 (name): byte 0xE9 at character 4 ")
    assert Product.select().count() == 0


def test_the_cell_rules_never_quantize_a_number_out_of_range():
    assert cell_rules.price_cents("12.5") == 1250 and cell_rules.price_cents("0e5") == 0
    assert cell_rules.hundredths(cell_rules.decimal_cell("1.10000", "x")) == 110
    assert cell_rules.hundredths(cell_rules.decimal_cell("1.10001", "x")) is None
    assert cell_rules.tax_rate_bp("7.25") == 725
    with pytest.raises(InputError, match="is more than 999,999,999"):
        cell_rules.points("1" * 5000)          # int() of 4,300+ digits raises ValueError: never reached
    for bad in ("1e30", "1e9999", "-1e9999", "sNaN", "inf", "1_000", "1,50", " ", "+-1"):
        with pytest.raises(InputError):
            cell_rules.price_cents(bad)


# ------------------------------------------------------------------ item 8: what an import may change
# "A customer row with the phone of an existing customer and another code rewrites that customer (name
# replaced, email erased, card LOY-000777 removed; the audit says only "updated 1"); two rows with one phone
# and different codes are merged and the second row's 70 points are dropped. Both are refused, naming both
# lines (or the existing customer), unless `--update` says to merge; an empty cell never blanks a field that
# has a value."

@pytest.fixture
def ana(database):
    return customers.create({"code": "A1", "name": "Ana Pérez", "phone": "6123-4567", "email": "ana@x.com",
                             "cards": "LOY-000777", "birthday": "1990-05-31"}, region=R)


def snapshot():
    return [(c.code, c.name, c.phone, c.email, c.birthday, c.points_balance)
            for c in Customer.select().order_by(Customer.code)], sorted(k.code for k in LoyaltyCard.select())


def test_another_code_with_an_existing_phone_is_refused_naming_the_customer(ana, tmp_path):
    before = snapshot()
    path = customers_csv(tmp_path, "B7,Someone Else,+507 6123 4567,,,,,,,,,,0,open,,50\n")
    assert refused(import_customers, path) == (
        f"{path}:2:3 (phone): phone +50761234567 belongs to customer A1 (Ana Pérez); a row of another code "
        "does not change them: --update merges it into A1")
    assert snapshot() == before


def test_another_code_with_an_existing_card_is_refused_naming_the_customer(ana, tmp_path):
    before = snapshot()
    path = customers_csv(tmp_path, "B7,Someone Else,,,,,,,,,,loy-000777,0,open,,\n")
    text = refused(import_customers, path)
    assert text.startswith(f"{path}:2:12 (card): card LOY-000777 belongs to customer A1 (Ana Pérez)")
    assert snapshot() == before


def test_with_update_the_row_merges_and_an_empty_cell_blanks_nothing(ana, tmp_path):
    path = customers_csv(tmp_path, "B7,Ana P. Gómez,+507 6123 4567,,,,,,,,,LOY-000888,0,open,,50\n")
    assert import_customers(path, update=True) == (0, 1, 0)
    c = customers.view(ana.id)
    assert (c.code, c.name, c.email, c.birthday.isoformat(), c.cards) == (
        "A1", "Ana P. Gómez", "ana@x.com", "1990-05-31", ("LOY-000777", "LOY-000888"))
    assert Customer.select().count() == 1
    assert c.points_balance == 0     # a row merged into a customer who was there brings no points: listed
    detail = last_audit("import.customers")
    assert detail["updated_codes"] == ["A1"] and detail["merged"] == ["line 2 (B7) into A1"]
    assert detail["points_not_added"] == ["line 2 (B7): 50"] and detail["update"] is True
    assert import_customers(path, update=True) == (0, 0, 1)     # importing twice changes nothing


def test_two_rows_with_one_phone_are_refused_naming_both_lines(database, tmp_path):
    path = customers_csv(tmp_path, "A1,Ana,6123-4567,,,,,,,,,,0,open,,100\n"
                                   "B2,Ana Pérez,+50761234567,,ana@x.com,,,,,,,,0,open,,70\n")
    assert refused(import_customers, path) == (
        f"{path}:3:3 (phone): phone +50761234567 is also on line 2 (customer A1): two rows of one customer "
        "are merged only with --update")
    assert Customer.select().count() == 0 and LoyaltyMovement.select().count() == 0


def test_two_rows_with_one_phone_merge_with_update_and_keep_both_balances(database, tmp_path):
    path = customers_csv(tmp_path, "A1,Ana,6123-4567,,,,,,,,,C1,0,open,,100\n"
                                   "B2,Ana Pérez,+50761234567,,ana@x.com,,,,,,,C2,0,open,,70\n")
    assert import_customers(path, update=True) == (1, 0, 0)
    assert last_audit("import.customers")["merged"] == ["line 3 (B2) into A1"]
    c = customers.lookup("A1", region=R).customers[0]
    assert (c.name, c.email, c.cards, c.points_balance, c.points_earned) == (
        "Ana Pérez", "ana@x.com", ("C1", "C2"), 170, 170)
    assert Customer.select().count() == 1
    assert import_customers(path, update=True) == (0, 0, 1)     # the second time: nothing changes
    assert Customer.get(Customer.code == "A1").points_balance == 170
    assert LoyaltyMovement.select().count() == 2


def test_two_rows_with_one_card_are_refused(database, tmp_path):
    path = customers_csv(tmp_path, "A1,Ana,,,,,,,,,,C1,0,open,,\nB2,Bob,,,,,,,,,,c1,0,open,,\n")
    assert refused(import_customers, path).startswith(f"{path}:3:12 (card): card C1 is also on line 2 (customer A1)")
    assert Customer.select().count() == 0


def test_a_reimport_of_the_same_code_keeps_what_an_empty_cell_would_blank(ana, tmp_path):
    customers.set_group("VIP", 500)
    full = customers_csv(tmp_path, "A1,Ana Pérez,6123-4567,6555-1234,ana@x.com,8-274-125,91,individual,Ana Pérez SA,"
                                   "VIP,,LOY-000777,1,open,1990-05-31,\n", "full.csv")
    assert import_customers(full) == (0, 1, 0)
    before = customers.view(ana.id)
    sparse = customers_csv(tmp_path, "A1,,,,,,,,,,,,,,,\n", "sparse.csv")
    assert import_customers(sparse) == (0, 0, 1)
    assert customers.view(ana.id) == before
    assert (before.mobile, before.ruc, before.groups, before.payment_status) == ("+50765551234", "8-274-125",
                                                                                 ("VIP",), 1)
    changed = customers_csv(tmp_path, "A1,Ana María,,,,,,,,,,,,,,\n", "name.csv")
    assert import_customers(changed) == (0, 1, 0)
    after = customers.view(ana.id)
    assert after.name == "Ana María" and after.email == "ana@x.com" and after.cards == ("LOY-000777",)
    assert last_audit("import.customers")["updated_codes"] == ["A1"]


def test_a_row_without_code_is_still_matched_on_the_phone(ana, tmp_path):
    """SPEC: rows are matched on `code`, else on the normalized phone: that is no merge, no --update."""
    path = customers_csv(tmp_path, ",Ana Pérez,+507 6123-4567,,,,,,,,,,0,open,,\n")
    assert import_customers(path) == (0, 0, 1)
    assert Customer.select().count() == 1


def test_a_barcode_of_another_product_is_refused_and_moved_with_update(database, tmp_path):
    catalog.import_products(products_csv(tmp_path, "4006381333931,ESP,Espresso,Coffee,1.50,7,,\n", "one.csv"))
    path = products_csv(tmp_path, "4006381333931,ESP2,Espresso doble,Coffee,2.50,7,,\n")
    assert refused(catalog.import_products, path) == (
        f"{path}:2:1 (barcode): barcode 4006381333931 belongs to product ESP (Espresso); --update moves it to ESP2")
    assert Product.select().count() == 1
    catalog.import_products(path, update=True)
    assert catalog.find_by_code("4006381333931").sku == "ESP2" and Barcode.select().count() == 1
    assert last_audit("import.products")["moved_barcodes"] == ["4006381333931: ESP -> ESP2"]


def test_a_product_reimport_keeps_section_and_tax_rate_for_empty_cells(database, tmp_path):
    catalog.import_products(products_csv(tmp_path, ",ESP,Espresso,Coffee,1.50,7,,\n", "one.csv"))
    r = catalog.import_products(products_csv(tmp_path, ",ESP,Espresso,,1.60,,,\n"))
    assert (r.created, r.updated) == (0, 1)
    p = Product.get(Product.sku == "ESP")
    assert (p.price_cents, p.tax_rate_bp, p.section.name) == (160, 700, "Coffee")
    assert last_audit("import.products")["updated_skus"] == ["ESP"]
    r = catalog.import_products(products_csv(tmp_path, ",NEW,New,,1.00,,,\n", "new.csv"))
    assert Product.get(Product.sku == "NEW").tax_rate_bp == 0 and Product.get(Product.sku == "NEW").section is None


def test_the_command_takes_allow_large_and_update(tmp_path, capsys):
    """`tui-pos import ... --allow-large / --update`, in process on a SQLite file: exit 1 and one line, then 0."""
    from tui_pos.cli import main
    from tui_pos.models import db
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n')

    def run(*args):
        code = main(["--config", str(config), *args])
        if not db.is_closed():
            db.close()
        return code, capsys.readouterr()

    assert run("init")[0] == 0
    products = products_csv(tmp_path, ",CAR,Car,,25000000.00,7,,\n,VAN,Van,,2000000,7,,\n")
    code, out = run("import", "products", str(products))
    assert code == 1 and out.err == (f"tui-pos: import products: {products}:2:5 (price): price 25000000.00 is more "
                                     "than 999,999.99, the dearest price an import takes (--allow-large takes up "
                                     "to 9,999,999.99); nothing was written\n")
    code, out = run("import", "products", str(products), "--allow-large")
    assert code == 1 and f"{products}:2:5 (price): price 25000000.00 is more than 9,999,999.99" in out.err
    products.write_text(PRODUCTS + ",VAN,Van,,2000000,7,,\n", encoding="utf-8")
    code, out = run("import", "products", str(products), "--allow-large")
    assert code == 0 and out.out == f"{products}: 1 created, 0 updated, 0 unchanged\n"
    first = customers_csv(tmp_path, "A1,Ana,6123-4567,,,,,,,,,,0,open,,100\n", "first.csv")
    assert run("import", "customers", str(first))[0] == 0
    second = customers_csv(tmp_path, "B7,Ana Pérez,+507 6123 4567,,,,,,,,,,0,open,,70\n", "second.csv")
    code, out = run("import", "customers", str(second))
    assert code == 1 and out.err.count("\n") == 1 and "belongs to customer A1 (Ana)" in out.err
    code, out = run("import", "customers", str(second), "--update")
    assert code == 0 and out.out == f"{second}: 0 created, 1 updated, 0 unchanged\n"
