"""Both imports against a few hundred generated malformed files (issue 28, item 7: "Of 86 malformed files, 8
ended in a traceback"): random bytes, random encodings, cells from a nasty alphabet (1e30, -0, NaN, huge
digits, control characters, quotes, BOMs), rows too short and too long.

Whatever the file, the import either succeeds or refuses in one line that starts with `FILE:LINE`, and a
refusal leaves the database as it was. One database per test (not per example): each example compares
the database before and after itself.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_pos.models import (
    AuditLog,
    Barcode,
    ConsentEvent,
    Customer,
    CustomerGroupMember,
    LoyaltyCard,
    LoyaltyMovement,
    Product,
    Section,
)
from tui_pos.services import catalog, customers, loyalty
from tui_pos.services.catalog import PRODUCT_COLUMNS, ImportError_

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            "derandomize": True}

NASTY = ["", " ", "0", "-0", "1", "7", "1.50", "0.001", "1e30", "1e17", "-1e17", "1e-9999", "NaN", "nan", "sNaN",
         "Infinity", "-inf", "9" * 20, "1" * 400, "-5", "--5", "²", "٣", "1_000", "1,50", "999999.99", "1000000",
         "999999999", "1000000000", "\x1b[2J", "\x1bp\x00", "Fu\x00ll", "\x85", "\t", "\r", "\n", '"', '""', "'",
         "a,b", '"x,y"', "\ufeff", "\ufeffcode", "José", "Ñandú", "🙂", "=cmd|' /C calc'!A0", "'=HYPERLINK(1)",
         "6123-4567", "+50761234567", "+507 6222-3333", "123", "ana@x.com", "nope@", "LOY-000777", "loy-000777",
         "C1|C2", "4006381333931", "4006381333932", "7451000000010", "ESP", "A1", "B7", "x" * 70, "y" * 300,
         "2999-01-01", "1990-05-31", "1850-01-01", "1990-13-01", "VIP", "Nobody", "open", "closed", "2", "7",
         "individual", "corporate", "alien", "8-274-125", "91", "90", "yes", "no", "maybe"]
NUMBERS = ["1e30", "1e17", "-1e17", "1e-9999", "1e9999", "1e99999", "NaN", "Infinity", "-0", "-0.00", "9" * 20,
           "1" * 400, "-5", "--5", "²", "٣", "1_000", "1,50", "0.001", "999999999", "1000000000", "1000000",
           "9999999.99", "10000000", "+1", ".5", "5.", "1E3", "0e99999", "-70", " 7 ", "2147483648",
           "9223372036854775808", "18446744073709551616", "12345678901234567890", "99999999999", "1e5000"]
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "cp437"]

def weighted(*choices):
    """One of the strategies, each as often as its weight says (`st.one_of` takes each branch alike)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def fresh(prefix: str, pattern: str = "{}"):
    """A value new to the store most of the time (N123), one it has now and then."""
    return st.integers(0, 9999).map(lambda n: pattern.format(f"{prefix}{n}"))


PLAUSIBLE = {   # what each column usually holds: a row of these reaches the checks deep in the import
    "code": weighted((6, fresh("N")), (1, st.sampled_from(["A1", "B7", ""]))),
    "name": ["Ana", "Bob", "Espresso", "Zoë Núñez", "Mug", "Té verde", "Café", "Ana María", ""],
    "phone": weighted((3, st.just("")), (4, st.integers(1000, 9999).map(lambda n: f"6{n % 900 + 100}-{n:04d}")),
                      (1, st.sampled_from(["6123-4567", "+507 6123 4567", "+50762223333"]))),
    "mobile": ["", "6555-1234"], "email": ["", "ana@x.com", "bob@x.com"], "ruc": ["", "", "8-274-125"],
    "dv": [""], "ruc_type": ["", "individual"], "fiscal_name": ["", "Ana SA"], "group": ["", "VIP"],
    "rate": [""], "card": weighted((4, st.just("")), (3, fresh("K")), (1, st.sampled_from(["LOY-000777", "C1|C2"]))),
    "payment_status": ["0", "", "1"], "status": ["open", "", "closed"], "birthday": ["", "1990-05-31"],
    "points": ["", "0", "70", "5", "999999999"],
    "barcode": ["", "", "", "", "", "", "4006381333931", "7451000000010|4006381333931"],
    "sku": weighted((6, fresh("S")), (1, st.sampled_from(["ESP", "MUG", ""]))),
    "section": ["", "Coffee"], "price": ["1.50", "2", "0", "999999.99", "9999999.99"],
    "tax_rate": ["7", "", "0", "12.5"], "points_cost": ["", "100"],
}

nasty = weighted((3, st.sampled_from(NASTY)), (1, st.text(max_size=8)),
                 (1, st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=6)))


NUMERIC = ("price", "tax_rate", "points", "points_cost", "payment_status")


def bad_cell(column: str):
    """A nasty cell; for a number's column mostly a nasty number."""
    return weighted((3, st.sampled_from(NUMBERS)), (1, nasty)) if column in NUMERIC else nasty


def good_row(columns: list[str]):
    return st.tuples(*[st.sampled_from(PLAUSIBLE[c]) if isinstance(PLAUSIBLE[c], list) else PLAUSIBLE[c]
                       for c in columns]).map(list).map(lambda row: with_dv(columns, row))


def with_dv(columns: list[str], row: list[str]) -> list[str]:
    if "ruc" in columns:    # a RUC with its check digit, or neither
        row[columns.index("dv")] = "91" if row[columns.index("ruc")] else ""
    return row


@st.composite
def row_of(draw, columns: list[str]) -> list[str]:
    """A row: what each column usually holds, with up to two nasty cells; now and then too short or too long."""
    if draw(st.integers(0, 24)) == 0:
        return draw(st.lists(nasty, min_size=max(0, len(columns) - 2), max_size=len(columns) + 2))
    row = draw(good_row(columns))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        at = draw(st.integers(0, len(columns) - 1))
        row[at] = draw(bad_cell(columns[at]))
    return row


@st.composite
def one_bad_cell(draw, columns: list[str]) -> bytes:
    """Good rows, UTF-8, and one nasty cell: what a careless hand does, and the way to reach the writes."""
    rows = draw(st.lists(good_row(columns), min_size=1, max_size=4))
    row, at = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(columns) - 1))
    rows[row][at] = draw(bad_cell(columns[at]))
    return csv_text(columns, rows, draw(st.booleans())).encode()


def csv_text(header: list[str], rows: list[list[str]], quote_all: bool) -> str:
    """Rows joined the way a careless hand or a spreadsheet writes them (quotes as they come, or all quoted)."""
    def out(c: str) -> str:
        return '"' + c.replace('"', '""') + '"' if quote_all else c
    return "".join(",".join(out(c) for c in row) + "\n" for row in [header, *rows])


def files(columns: list[str]):
    """A file's bytes: mostly a header and rows of nasty cells in some encoding, sometimes random bytes."""
    header = weighted((24, st.just(columns)), (1, st.permutations(columns)),
                      (1, st.lists(st.sampled_from(columns + ["extra", ""]), max_size=10)))
    text = st.builds(csv_text, header, st.lists(row_of(columns), min_size=1, max_size=5), st.booleans())
    encoded = st.builds(lambda t, enc: t.encode(enc, errors="replace"), text,
                        st.sampled_from(["utf-8"] * 14 + ENCODINGS))
    return weighted((8, one_bad_cell(columns)), (6, encoded), (1, st.binary(max_size=300)),
                    (1, st.builds(lambda t, junk: t.encode() + junk, text, st.binary(min_size=1, max_size=8))))


def snapshot():
    """What an import could change, in full."""
    return (
        [tuple(c) for c in Customer.select(Customer.code, Customer.name, Customer.phone, Customer.mobile,
                                           Customer.email, Customer.birthday, Customer.payment_status,
                                           Customer.status, Customer.points_balance, Customer.points_earned)
         .order_by(Customer.code).tuples()],
        [tuple(p) for p in Product.select(Product.sku, Product.name, Product.section, Product.price_cents,
                                          Product.tax_rate_bp, Product.points, Product.points_cost)
         .order_by(Product.sku).tuples()],
        [model.select().count() for model in (Barcode, LoyaltyCard, LoyaltyMovement, CustomerGroupMember, Section,
                                              ConsentEvent, AuditLog)],
    )


def refusal_line(text: str, path) -> None:
    assert "\n" not in text.strip() and "Traceback" not in text, text
    assert re.match(re.escape(str(path)) + r":\d+(:\d+( \([^)]*\))?)?: \S", text), text


@pytest.fixture
def seeded(sqlite_database, tmp_path):
    """A store with a customer, a group, a card and two products, for the files to collide with."""
    customers.set_group("VIP", 500)
    customers.create({"code": "A1", "name": "Ana", "phone": "6123-4567", "email": "ana@x.com",
                      "cards": "LOY-000777", "groups": "VIP"}, region="PA")
    (tmp_path / "seed.csv").write_text(",".join(PRODUCT_COLUMNS) + "\n4006381333931,ESP,Espresso,Coffee,1.50,7,,\n"
                                       "7451000000010,MUG,Mug,,8.99,7,0,100\n", encoding="utf-8")
    catalog.import_products(tmp_path / "seed.csv")
    return sqlite_database


def run_import(call, path):
    before = snapshot()
    try:
        call(path)
    except ImportError_ as exc:
        refusal_line(str(exc), path)
        assert snapshot() == before, f"a refused import changed the database: {exc}"


@settings(max_examples=500, **SETTINGS)
@given(data=files(customers.CSV_COLUMNS), update=st.booleans())
def test_customer_files(seeded, tmp_path, data, update):
    path = tmp_path / "customers.csv"
    path.write_bytes(data)
    run_import(lambda p: customers.import_customers(
        p, region="PA", update=update, opening_points=lambda cid, points, line: loyalty.opening_balance(cid, points)),
        path)


@settings(max_examples=500, **SETTINGS)
@given(data=files(PRODUCT_COLUMNS), update=st.booleans(), allow_large=st.booleans())
def test_product_files(seeded, tmp_path, data, update, allow_large):
    path = tmp_path / "products.csv"
    path.write_bytes(data)
    run_import(lambda p: catalog.import_products(p, update=update, allow_large=allow_large), path)


@settings(max_examples=100, **SETTINGS)
@given(what=st.sampled_from(["customers", "products"]), data=st.data())
def test_the_command_answers_in_one_line(tmp_path, what, data):
    """`tui-pos import` itself, in process, on a real SQLite file: exit 0, or 1 with one line naming the file."""
    from tui_pos.cli import main
    from tui_pos.models import db
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n')
        assert main(["--config", str(config), "init"]) == 0
    columns = customers.CSV_COLUMNS if what == "customers" else PRODUCT_COLUMNS
    path = tmp_path / f"{what}.csv"
    path.write_bytes(data.draw(files(columns)))
    flags = data.draw(st.lists(st.sampled_from(["--update", "--allow-large"]), unique=True))
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["--config", str(config), "import", what, str(path), *flags])
    if not db.is_closed():
        db.close()
    if code == 0:
        assert re.fullmatch(re.escape(str(path)) + r": \d+ created, \d+ updated, \d+ unchanged\n", out.getvalue())
        return
    assert code == 1 and "logged" not in err.getvalue(), err.getvalue()    # "logged": the safety net caught a bug
    prefix = f"tui-pos: import {what}: "
    assert err.getvalue().startswith(prefix) and err.getvalue().endswith("; nothing was written\n")
    refusal_line(err.getvalue()[len(prefix):], path)
