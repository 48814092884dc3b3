"""`import products` in bulk (issue 23): set-based reads and writes in one transaction, on both databases, with
every rule of the row-at-a-time import kept."""

import json
import random

import pytest
from stdnum import ean

from tui_pos.domain.text import search_key
from tui_pos.models import AuditLog, Barcode, Product, Section
from tui_pos.services import catalog
from tui_pos.services.catalog import ImportError_

HEADER = "barcode,sku,name,section,price,tax_rate,points,points_cost\n"
N = 20_000


def code(i: int, prefix: str = "29") -> str:
    body = f"{prefix}{i:010d}"
    return body + ean.calc_check_digit(body)


def write(tmp_path, rows, name="bulk.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def bulk_rows(n=N, price="1.50", name="Bulk item"):
    return [f"{code(i)},B{i:06d},{name} {i:06d} Café,Aisle {i % 7},{price},7,,\n" for i in range(n)]


def table():
    return [tuple(p) for p in Product.select(Product.sku, Product.name, Product.section, Product.price_cents,
                                             Product.tax_rate_bp, Product.points, Product.points_cost,
                                             Product.search_text).order_by(Product.sku).tuples()]


def last_audit():
    row = AuditLog.select().where(AuditLog.action == "import.products").order_by(AuditLog.id.desc()).first()
    return json.loads(row.detail)


def test_a_20000_row_file_imports_and_a_reimport_changes_nothing(demo, tmp_path):
    before = Product.select().count()
    path = write(tmp_path, bulk_rows())
    r = catalog.import_products(path)
    assert (r.created, r.updated, r.unchanged) == (N, 0, 0)
    assert Product.select().count() == before + N and Barcode.select().count() >= N
    p = catalog.find_by_code(code(12_345))
    assert (p.sku, p.name, p.price_cents, p.tax_rate_bp) == ("B012345", "Bulk item 012345 Café", 150, 700)
    assert Product.get(Product.sku == "B012345").search_text == search_key("Bulk item 012345 Café B012345")
    assert Section.get_by_id(p.section_id).name == "Aisle 4"
    assert [v.sku for v in catalog.search("bulk 01234", limit=50)] == [f"B01234{d}" for d in range(10)]
    snapshot, audits = table(), AuditLog.select().count()
    r = catalog.import_products(path)
    assert (r.created, r.updated, r.unchanged) == (0, 0, N)
    assert table() == snapshot and AuditLog.select().count() == audits + 1


def test_an_error_on_the_last_line_of_a_big_file_writes_nothing(database, tmp_path):
    rows = bulk_rows()
    rows.append(f"{code(N)[:-1]}0,LAST,Last,,1.00,7,,\n" if not code(N).endswith("0") else
                f"{code(N)[:-1]}1,LAST,Last,,1.00,7,,\n")
    path = write(tmp_path, rows)
    with pytest.raises(ImportError_) as err:
        catalog.import_products(path)
    assert str(err.value).startswith(f"{path}:{N + 2}:1 (barcode): barcode ") and "wrong check digit" in str(err.value)
    assert Product.select().count() == 0 and Barcode.select().count() == 0 and Section.select().count() == 0
    # a conflict found against the database, also on the last line: nothing of the file is written either
    catalog.import_products(write(tmp_path, [f"{code(9, '28')},OLD,Old thing,,1.00,7,,\n"], "one.csv"))
    path = write(tmp_path, bulk_rows()[:-1] + [f"{code(9, '28')},NEW,New thing,,1.00,7,,\n"], "conflict.csv")
    with pytest.raises(ImportError_) as err:
        catalog.import_products(path)
    assert str(err.value) == (f"{path}:{N + 1}:1 (barcode): barcode {code(9, '28')} belongs to product OLD "
                              "(Old thing); --update moves it to NEW")
    assert Product.select().count() == 1 and Barcode.select().count() == 1


def test_update_of_existing_rows_in_bulk(database, tmp_path):
    catalog.import_products(write(tmp_path, bulk_rows(), "first.csv"))
    changed = [row if i % 2 else row.replace(",1.50,7,,", ",2.25,,5,100") for i, row in enumerate(bulk_rows())]
    changed = [row.replace(f",Aisle {i % 7},", ",,") if i % 4 == 0 else row for i, row in enumerate(changed)]
    r = catalog.import_products(write(tmp_path, changed, "second.csv"), update=True)
    assert (r.created, r.updated, r.unchanged) == (0, N // 2, N // 2)
    p0, p1 = Product.get(Product.sku == "B000000"), Product.get(Product.sku == "B000001")
    assert (p0.price_cents, p0.tax_rate_bp, p0.points, p0.points_cost) == (225, 700, 5, 100)   # empty rate kept
    assert p0.section.name == "Aisle 0"                                                        # empty section kept
    assert (p1.price_cents, p1.points, p1.points_cost) == (150, None, None)
    detail = last_audit()
    assert detail["updated"] == N // 2 and detail["updated_skus"][:2] == ["B000000", "B000002"]
    assert detail["updated_skus"][-1] == f"... and {N // 2 - 50} more"


def test_barcodes_move_in_bulk_with_update(database, tmp_path):
    catalog.import_products(write(tmp_path, bulk_rows(5000), "first.csv"))
    # the same barcodes on new SKUs: refused naming the first, then moved with --update
    moved = [f"{code(i)},M{i:06d},Moved {i},,3.00,7,,\n" for i in range(5000)]
    path = write(tmp_path, moved, "moved.csv")
    with pytest.raises(ImportError_, match=f"{path}:2:1 \\(barcode\\): barcode {code(0)} belongs to product "
                                           "B000000 \\(Bulk item 000000 Café\\); --update moves it to M000000"):
        catalog.import_products(path)
    assert Product.select().count() == 5000
    r = catalog.import_products(path, update=True)
    assert (r.created, r.updated, r.unchanged) == (5000, 0, 0)
    assert Barcode.select().count() == 5000
    assert {catalog.find_by_code(code(i)).sku for i in random.Random(1).sample(range(5000), 50)} == {
        f"M{i:06d}" for i in random.Random(1).sample(range(5000), 50)}
    assert last_audit()["moved_barcodes"][0] == f"{code(0)}: B000000 -> M000000"
    assert catalog.import_products(path, update=True).unchanged == 5000      # the second time: nothing to move


def test_progress_is_called_with_growing_counts(database, tmp_path):
    calls = []
    catalog.import_products(write(tmp_path, bulk_rows()), progress=lambda done, total, what: calls.append(
        (done, total, what)))
    checking = [c for c in calls if c[2] == "checking"]
    writing = [c for c in calls if c[2] == "writing"]
    assert len(checking) >= N // catalog.PROGRESS_EVERY and checking[-1] == (N + 1, N + 1, "checking")
    assert writing and writing[-1][0] == writing[-1][1] == 2 * N       # products and barcodes
    assert [c[0] for c in writing] == sorted(c[0] for c in writing)


def test_the_fast_paths_read_cells_as_the_rules_do(database, tmp_path):
    """A cell the fast path reads and one only the rules read: the same values, accents and all."""
    rows = [",A1,Ñandú  Café,,0001.5,07,0,1\n", ",A2,ÅNGSTRÖM ǅ ﬁ,,12,12.5,999999999,\n",
            f"{code(1)}|{code(2)[:-1] + code(2)[-1]},A3,Plain,,1.5e1,1e1,,\n"]
    catalog.import_products(write(tmp_path, rows))
    got = {p.sku: (p.price_cents, p.tax_rate_bp, p.points, p.points_cost, p.search_text) for p in Product.select()}
    assert got == {"A1": (150, 700, 0, 1, search_key("Ñandú  Café A1")),
                   "A2": (1200, 1250, 999_999_999, None, search_key("ÅNGSTRÖM ǅ ﬁ A2")),
                   "A3": (1500, 1000, None, None, "plain a3")}
    rng = random.Random(7)
    for _ in range(3000):       # the check digit of the fast path is stdnum's
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([8, 12, 13, 14])))
        assert catalog._check_digit_ok(digits) == ean.is_valid(digits)
