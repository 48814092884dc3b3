"""Product import, schema migrations and users on a real database."""

import sqlite3

import pytest

from tui_pos.domain.errors import InputError
from tui_pos.models import Barcode, Product
from tui_pos.services import catalog, users

HEADER = "barcode,sku,name,section,price,tax_rate,points,points_cost\n"


def write(tmp_path, body, name="products.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_import_is_idempotent(database, tmp_path):
    path = write(tmp_path, "4006381333931|7451000000010,ESP,Espresso,Coffee,1.50,7,,100\n"
                           ",MUG,Store mug,Household,8.99,7,0,\n")
    r = catalog.import_products(path)
    assert (r.created, r.updated, r.unchanged) == (2, 0, 0)
    before = [(p.sku, p.name, p.price_cents, p.tax_rate_bp, p.points, p.points_cost)
              for p in Product.select().order_by(Product.sku)]
    r = catalog.import_products(path)
    assert (r.created, r.updated, r.unchanged) == (0, 0, 2)
    after = [(p.sku, p.name, p.price_cents, p.tax_rate_bp, p.points, p.points_cost)
             for p in Product.select().order_by(Product.sku)]
    assert before == after == [("ESP", "Espresso", 150, 700, None, 100), ("MUG", "Store mug", 899, 700, 0, None)]
    assert Barcode.select().count() == 2
    assert catalog.find_by_code("7451000000010").sku == "ESP"
    assert [p.sku for p in catalog.search("espr")] == ["ESP"]


@pytest.mark.parametrize("body,where", [
    ("4006381333932,X,Bad barcode,,1.00,7,,\n", ":3:1 (barcode)"),
    (",Y,Negative,,-1.00,7,,\n", ":3:5 (price)"),
    (",Y,Letters,,abc,7,,\n", ":3:5 (price)"),
    (",Y,Rate,,1.00,150,,\n", ":3:6 (tax_rate)"),
    (",Y,Points,,1.00,7,x,\n", ":3:7 (points)"),
    (",Y,,,1.00,7,,\n", ":3:3 (name)"),
    (",Y,Short,,1.00\n", ":3:6 (tax_rate)"),
    (",Y,Long,,1.00,7,,,extra\n", ":3:9"),
    (",A,Dup,,1.00,7,,\n", ":3:2 (sku)"),
])
def test_import_errors_name_line_and_column_and_write_nothing(database, tmp_path, body, where):
    path = write(tmp_path, ",A,Fine,,1.00,7,,\n" + body)
    with pytest.raises(catalog.ImportError_) as err:
        catalog.import_products(path)
    assert str(err.value).startswith(str(path) + where)
    assert Product.select().count() == 0


def test_import_missing_column(database, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sku,name,price\nA,B,1\n")
    with pytest.raises(catalog.ImportError_, match="missing column"):
        catalog.import_products(path)


def test_users_pins(database):
    person = users.add_user("Ana", "cashier", "1234")
    stored = users.User.get_by_id(person.id).pin_hash
    # no field is the PIN (the random hex salt and hash may hold "1234" by chance: a red CI run once)
    assert stored.startswith("scrypt$") and "1234" not in stored.split("$") and len(stored) > 60
    assert users.authenticate("1234") == person
    assert users.authenticate("9999") is None
    assert users.manager_for("1234") is None
    boss = users.add_user("Marco", "manager", "5678")
    assert users.manager_for("5678") == boss
    for name, role, pin, fragment in [("X", "cashier", "12", "4 to 8 digits"), ("Y", "king", "1111", "Unknown role"),
                                      ("Ana", "cashier", "4321", "already exists"),
                                      ("Z", "cashier", "1234", "already taken")]:
        with pytest.raises(InputError, match=fragment):
            users.add_user(name, role, pin)


def test_same_pin_hashes_differ():
    assert users.hash_pin("1234") != users.hash_pin("1234")
    assert users.verify_pin("1234", users.hash_pin("1234"))


def test_upgrade_from_migration_1_keeps_data(tmp_path):
    """A database made at migration 1, with data in it, upgrades intact."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import LATEST, applied_versions, migrate

    path = tmp_path / "old.db"
    database = bind(f"sqlite:///{path}")
    assert migrate(database, target=1) == [1]
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO point_of_sale (code, name) VALUES ('main', 'Old Store')")
    raw.execute("INSERT INTO register (code, point_of_sale_id, next_seq) VALUES ('R1', 1, 3)")
    raw.execute("INSERT INTO product (sku, name, price_cents, tax_rate_bp, active)"
                " VALUES ('ESP', 'Espresso Ñ', 150, 700, 1)")
    raw.execute("INSERT INTO barcode (code, product_id) VALUES ('7451000000010', 1)")
    raw.execute("INSERT INTO note (register_id, kind, status, sales_mode, label, opened_at, seq, receipt_no,"
                " total_cents)"
                " VALUES (1, 'sale', 'paid', 'counter', '', '2026-01-01 10:00:00', 1, 'R1-000001', 150)")
    raw.execute("INSERT INTO note_line (note_id, product_id, sku, name, qty, unit_price_cents, list_price_cents,"
                " tax_rate_bp, discount_percent_bp, discount_cents, created_at)"
                " VALUES (1, 1, 'ESP', 'Espresso Ñ', 1, 150, 150, 700, 0, 0, '2026-01-01')")
    raw.commit()
    raw.close()

    assert migrate(database) == list(range(2, LATEST + 1))
    assert migrate(database) == []  # idempotent
    assert applied_versions(database)[-1] == LATEST
    product = Product.get(Product.sku == "ESP")
    assert (product.name, product.price_cents, product.tax_included) == ("Espresso Ñ", 150, True)
    assert product.search_text == "espresso n esp"
    from tui_pos.services.sales import SaleService
    sales = SaleService("R1")
    assert sales.receipt("R1-000001").totals.total_cents == 150
    note = sales.open_note()
    sales.add_item(note, "7451000000010")
    assert sales.pay(note).receipt_no == "R1-000003"  # the old counter carries on
    db.close()


def test_sqlite_pragmas(sqlite_database):
    pragma = lambda name: sqlite_database.execute_sql(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 5000
