"""Customers on a real database: create, edit with a manager, find, price, import."""

import datetime as dt
import io

import pytest

from tui_pos.domain.errors import InputError, NeedsManager
from tui_pos.models import AuditLog, Customer, LoyaltyMovement
from tui_pos.services import customers, prices
from tui_pos.services.catalog import ImportError_
from tui_pos.services.customers import FormError

R = "PA"


def test_create_and_find_every_way(demo):
    c = customers.create({"name": "José Núñez", "phone": "6123-4567", "email": "Jose@Example.com",
                          "cards": "CARD-001"}, region=R)
    assert c.code == f"C{c.id:06d}" and c.phone == "+50761234567"
    for text in ("6123-4567", "+507 6123 4567", "61234567", "4567", "234567", "nunez", "jo", "JOSÉ NÚ",
                 c.code, "jose@example.com", "CARD-001"):
        assert [x.id for x in customers.lookup(text, region=R).customers] == [c.id], text
    assert customers.lookup("Maria", region=R).customers == ()


def test_unknown_full_phone_offers_creation(demo):
    result = customers.lookup("6999-0000", region=R)
    assert result.customers == () and result.new_phone == "+50769990000"
    c = customers.create_with_phone(result.new_phone, region=R)
    assert customers.lookup("6999-0000", region=R).customers[0].id == c.id


def test_ruc_and_dv_checked_and_found(demo, manager_id):
    with pytest.raises(FormError) as err:
        customers.create({"name": "Acme", "ruc": "155587169-2-2014", "dv": "10"}, region=R, approver_id=manager_id)
    assert "dv" in err.value.errors
    c = customers.create({"name": "Acme", "ruc": "155587169-2-2014", "dv": "9", "ruc_type": "corporate"},
                         region=R, approver_id=manager_id)
    assert (c.ruc, c.dv) == ("155587169-2-2014", "09")
    assert customers.lookup("155587169-2-2014", region=R).customers[0].id == c.id


def test_form_errors_name_each_field_and_save_nothing(demo):
    with pytest.raises(FormError) as err:
        customers.create({"name": "X", "phone": "123", "email": "nope", "birthday": "1990-02-30"}, region=R)
    assert set(err.value.errors) == {"phone", "email", "birthday"}
    assert Customer.select().count() == 0


def test_duplicates_are_refused_naming_the_owner(demo, manager_id):
    a = customers.create({"name": "Ana", "phone": "6123-4567"}, region=R)
    with pytest.raises(FormError, match=f"already belongs to Ana \\({a.code}\\)"):
        customers.create({"name": "Other", "phone": "+507 6123 4567"}, region=R)
    customers.update(a.id, {"ruc": "8-274-125", "dv": "91"}, region=R, approver_id=manager_id)
    with pytest.raises(FormError, match="already belongs to Ana"):
        customers.create({"name": "Other", "ruc": "8-274-125", "dv": "91"}, region=R, approver_id=manager_id)


def test_cashier_edits_contact_manager_edits_tax_data(demo, cashier_id, manager_id):
    c = customers.create({"name": "Ana"}, region=R, user_id=cashier_id)
    customers.update(c.id, {"email": "ana@x.com", "mobile": "6555-1234"}, region=R, user_id=cashier_id)
    for change in ({"payment_status": "2"}, {"status": "closed"}, {"groups": "VIP"},
                   {"ruc": "8-274-125", "dv": "91"}, {"fiscal_name": "Ana SA"}):
        with pytest.raises(NeedsManager):
            customers.update(c.id, change, region=R, user_id=cashier_id)
        with pytest.raises(NeedsManager):
            customers.update(c.id, change, region=R, user_id=cashier_id, approver_id=cashier_id)
    with pytest.raises(NeedsManager, match=r"^Changing the payment status needs a manager PIN\.$"):
        customers.update(c.id, {"payment_status": "1"}, region=R, user_id=cashier_id)   # words, not field names
    after = customers.update(c.id, {"payment_status": "1", "groups": "VIP"}, region=R, user_id=cashier_id,
                             approver_id=manager_id)
    assert after.payment_status == 1 and after.groups == ("VIP",)
    entry = AuditLog.select().where(AuditLog.action == "customer.update").order_by(AuditLog.id.desc()).first()
    assert entry.approved_by_id == manager_id and "payment_status" in entry.detail


def test_a_rate_never_raises_a_price_a_walk_in_would_pay(sales, manager_id):
    """Seed 003: "In any case system use the best price. when retail price is lower than rate or specific prices
    are lower than rate". A product the customer's rate does not list is priced as for anyone; attaching a
    wholesale customer never raises a price."""
    prices.set_rate("whole", "Wholesale")
    prices.set_rate_line("WHOLE", "LATT", "2.80")
    prices.set_rate_line("WHOLE", "CAPP", "10%")
    prices.set_rate_line("WHOLE", "AMER", "2.00")
    prices.add_specific_price("ESP", "1.00")   # everyone, no dates; not in the rate
    prices.add_specific_price("AMER", "1.80")  # in the rate at 2.00
    c = customers.create({"name": "Shop", "rate": "whole"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    for code in ("LATT", "CAPP", "ESP", "AMER"):
        sales.add_item(note, code)
    before = {ln.sku: (ln.unit_price_cents, ln.price_source) for ln in sales.view(note).lines}
    assert before == {"LATT": (350, "retail"), "CAPP": (325, "retail"), "ESP": (100, "specific"),
                      "AMER": (180, "specific")}
    view = sales.attach_customer(note, c.id)
    assert {ln.sku: (ln.unit_price_cents, ln.price_source) for ln in view.lines} == {
        "LATT": (280, "rate"), "CAPP": (292, "rate"), "ESP": (100, "specific"), "AMER": (180, "specific")}
    sales.add_item(note, "LATT")  # a new scan is priced for the customer too
    assert sales.view(note).lines[0].qty == 2
    view = sales.detach_customer(note)
    assert {ln.sku: ln.unit_price_cents for ln in view.lines} == {"LATT": 350, "CAPP": 325, "ESP": 100, "AMER": 180}


def test_rate_and_special_rate_reads_the_price_flow(demo, manager_id):
    """Seed 003's price flow: "If exist a customer rate don't check for specific prices. Gets better than retail
    price or customer rate" (`[pricing] rate_and_special = "rate"`), for the products the rate lists only."""
    from tui_pos.services.sales import SaleService
    sales = SaleService("R1", rate_and_special="rate")
    prices.set_rate("whole", "Wholesale")
    prices.set_rate_line("WHOLE", "AMER", "1.90")
    prices.add_specific_price("AMER", "1.80")
    prices.add_specific_price("ESP", "1.00")
    c = customers.create({"name": "Shop", "rate": "whole"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    sales.attach_customer(note, c.id)
    sales.add_item(note, "AMER")
    sales.add_item(note, "ESP")
    assert {ln.sku: (ln.unit_price_cents, ln.price_source) for ln in sales.view(note).lines} == {
        "AMER": (190, "rate"), "ESP": (100, "specific")}


def test_expired_rate_is_ignored(sales, manager_id):
    prices.set_rate("OLD", "Old", start="2020-01-01", end="2020-12-31")
    prices.set_rate_line("OLD", "LATT", "1.00")
    c = customers.create({"name": "Old", "rate": "OLD"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    sales.add_item(note, "LATT")
    assert sales.attach_customer(note, c.id).lines[0].unit_price_cents == 350


def test_group_discount_best_single(sales, manager_id):
    customers.set_group("VIP", 500)
    customers.set_group("Employees", 1500)
    c = customers.create({"name": "Eve", "groups": "VIP|Employees"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    sales.add_item(note, "LATT")
    view = sales.attach_customer(note, c.id)
    assert view.lines[0].discount_percent_bp == 1500 and view.lines[0].discount_source == "group"
    stacking = type(sales)("R1", stack_discounts=True)
    assert stacking.attach_customer(note, c.id).lines[0].discount_percent_bp == 2000


def test_group_filter_in_lookup(demo, manager_id):
    customers.create({"name": "Vera", "groups": "VIP"}, region=R, approver_id=manager_id)
    customers.create({"name": "Walt"}, region=R)
    assert [c.name for c in customers.lookup("group:vip", region=R).customers] == ["Vera"]
    assert "No customer in group" in customers.lookup("group:Nobody", region=R).message


def test_closed_customer_cannot_be_attached(sales, manager_id):
    c = customers.create({"name": "Gone", "status": "closed"}, region=R, approver_id=manager_id)
    with pytest.raises(InputError, match="closed"):
        sales.attach_customer(sales.open_note(), c.id)


def test_card_scan_attaches(sales):
    c = customers.create({"name": "Card holder", "cards": "LOY-77"}, region=R)
    note = sales.open_note()
    result = sales.scan(note, "LOY-77")
    assert result.customer.id == c.id and result.line is None
    assert sales.view(note).customer.id == c.id
    with pytest.raises(InputError, match="Unknown code"):
        sales.scan(note, "LOY-78")


def test_defaulter_payment_needs_manager_when_configured(demo, manager_id):
    from tui_pos.services.sales import SaleService
    strict = SaleService("R1", block_defaulters=True)
    c = customers.create({"name": "Late", "payment_status": "2"}, region=R, approver_id=manager_id)
    note = strict.open_note()
    strict.add_item(note, "ESP")
    strict.attach_customer(note, c.id)
    with pytest.raises(NeedsManager, match="defaulter"):
        strict.pay(note)
    result = strict.pay(note, approver_id=manager_id)
    assert result.completed
    assert customers.view(c.id).last_visit_at is not None
    d = customers.detail(c.id)
    assert (d.total_spent_cents, d.visits, d.average_ticket_cents) == (150, 1, 150)
    assert d.recent[0][0] == result.receipt_no


CSV_HEAD = ("code,name,phone,mobile,email,ruc,dv,ruc_type,fiscal_name,group,rate,card,payment_status,status,birthday,"
            "points\n")


def test_import_twice_changes_nothing_and_export_round_trips(demo, tmp_path):
    from tui_pos.services import loyalty
    path = tmp_path / "customers.csv"
    path.write_text(CSV_HEAD
                    + "A1,Ana Pérez,6123-4567,,ana@x.com,8-274-125,91,individual,Ana Pérez,VIP,,CARD1,0,open,"
                      "1990-05-31,250\n"
                    + ",Bob,+507 6222-3333,,,,,,,,,,1,open,,\n", encoding="utf-8")
    opening = lambda cid, points, line: loyalty.opening_balance(cid, points)  # noqa: E731
    assert customers.import_customers(path, region=R, opening_points=opening) == (2, 0, 0)
    assert customers.import_customers(path, region=R, opening_points=opening) == (0, 0, 2)
    ana = customers.lookup("A1", region=R).customers[0]
    assert (ana.points_balance, ana.points_earned, ana.groups, ana.cards) == (250, 250, ("VIP",), ("CARD1",))
    assert LoyaltyMovement.select().count() == 1
    out = io.StringIO()
    assert customers.export_customers(out) == 2
    again = tmp_path / "again.csv"
    again.write_text(out.getvalue(), encoding="utf-8")
    assert customers.import_customers(again, region=R, opening_points=opening) == (0, 0, 2)


@pytest.mark.parametrize("row,where", [
    ("X1,Ana,123,,,,,,,,,,0,open,,", ":2:3 (phone)"),
    ("X1,Ana,,,nope,,,,,,,,0,open,,", ":2:5 (email)"),
    ("X1,Ana,,,,8-274-125,90,,,,,,0,open,,", ":2:7 (dv)"),
    ("X1,Ana,,,,,,,,,,,7,open,,", ":2:13 (payment_status)"),
    ("X1,Ana,,,,,,,,,,,0,open,1990-13-01,", ":2:15 (birthday)"),
    ("X1,Ana,,,,,,,,Nobody,,,0,open,,", ":2:10 (group)"),
    ("X1,Ana,,,,,,,,,,,0,open,,lots", ":2:16 (points)"),
])
def test_import_errors_and_nothing_written(demo, tmp_path, row, where):
    path = tmp_path / "c.csv"
    path.write_text(CSV_HEAD + row + "\n", encoding="utf-8")
    with pytest.raises(ImportError_) as err:
        customers.import_customers(path, region=R)
    assert where in str(err.value)
    assert Customer.select().count() == 0


def test_birthday_and_consent(demo):
    c = customers.create({"name": "B", "birthday": "2000-02-29", "sms_consent": True}, region=R)
    assert c.birthday == dt.date(2000, 2, 29) and c.sms_consent


def test_attaching_a_discounted_customer_updates_all_the_lines_in_one_statement(sales, manager_id):
    """F2 on a long note: the lines whose price stays and that only take the group's discount are one
    UPDATE, not one each; a line the cashier discounted keeps its discount. (A line whose price changes,
    by a rate, is written on its own: test_rate_prices_the_note...)"""
    import logging
    customers.set_group("VIP", 1000)
    prices.add_specific_price("ESP", "1.00")
    c = customers.create({"name": "Eve", "groups": "VIP"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    codes = ("LATT", "CAPP", "CROI", "MUG", "ESP")
    for code in codes:
        sales.add_item(note, code)
    by_sku = {ln.sku: ln for ln in sales.view(note).lines}
    sales.set_discount(note, by_sku["MUG"].id, percent_bp=500, user_id=manager_id)
    seen = []

    class Statements(logging.Handler):
        def emit(self, record):
            seen.append(record.msg[0] if isinstance(record.msg, tuple) else str(record.msg))

    handler, logger = Statements(level=logging.DEBUG), logging.getLogger("peewee")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        view = sales.attach_customer(note, c.id)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = {ln.sku: (ln.unit_price_cents, ln.discount_percent_bp, ln.discount_source) for ln in view.lines}
    croi, mug = by_sku["CROI"].unit_price_cents, by_sku["MUG"].unit_price_cents
    assert lines == {"LATT": (350, 1000, "group"), "CAPP": (325, 1000, "group"), "CROI": (croi, 1000, "group"),
                     "MUG": (mug, 500, "manual"), "ESP": (100, 1000, "group")}
    assert lines == {ln.sku: (ln.unit_price_cents, ln.discount_percent_bp, ln.discount_source)
                     for ln in sales.view(note).lines}   # as stored
    updates = [sql for sql in seen if sql.startswith('UPDATE "note_line"')]
    assert len(updates) == 1, updates
    detached = sales.detach_customer(note)
    assert {ln.sku: (ln.discount_percent_bp, ln.discount_source) for ln in detached.lines} == {
        "LATT": (0, ""), "CAPP": (0, ""), "CROI": (0, ""), "MUG": (500, "manual"), "ESP": (0, "")}


def test_attaching_to_a_note_of_many_lines_discounts_every_one(sales, manager_id):
    """The one UPDATE goes in parts of 512 lines (the last padded to a power of two with its last id): every
    line is discounted, however many."""
    from tui_pos.models import NoteLine, Product
    customers.set_group("VIP", 1000)
    c = customers.create({"name": "Eve", "groups": "VIP"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    sales.add_item(note, "LATT")
    product = Product.get(Product.sku == "CAPP")
    NoteLine.insert_many([{"note": note, "product": product.id, "sku": "CAPP", "name": "Cappuccino", "qty": 1,
                           "unit_price_cents": product.price_cents, "list_price_cents": product.price_cents,
                           "tax_rate_bp": product.tax_rate_bp} for _ in range(1100)]).execute()
    view = sales.attach_customer(note, c.id)
    assert len(view.lines) == 1101
    stored = [ln.discount_percent_bp for ln in sales.view(note).lines]
    assert len(stored) == 1101 and set(stored) == {1000}


def test_a_cashier_discount_never_raises_the_price_the_customer_had(sales, cashier_id, manager_id):
    """A Platinum customer's 10 % (or a group's) is theirs: a cashier's F6 5 % would raise what they pay (4.75
    instead of 4.50). The better of the two stays unless a manager replaces it."""
    customers.set_group("VIP", 1000)
    c = customers.create({"name": "Eve", "groups": "VIP"}, region=R, approver_id=manager_id)
    note = sales.open_note()
    line, _ = sales.add_item(note, "MUFB")                         # 2.50
    sales.attach_customer(note, c.id)
    assert sales.line_view(line.id).discount_percent_bp == 1000
    with pytest.raises(NeedsManager, match="The customer's 10 % is better than that: it stays"):
        sales.set_discount(note, line.id, percent_bp=500, user_id=cashier_id)
    assert sales.line_view(line.id).discount_percent_bp == 1000   # nothing changed
    with pytest.raises(NeedsManager):
        sales.set_discount(note, line.id, cents=10, user_id=cashier_id)
    view, _ = sales.set_discount(note, line.id, percent_bp=500, user_id=cashier_id, approver_id=manager_id)
    assert view.discount_percent_bp == 500                          # a manager may lower it: audited
    assert AuditLog.select().where(AuditLog.action == "line.discount").count() == 1
    other, _ = sales.add_item(note, "CROI")
    view, _ = sales.set_discount(note, other.id, percent_bp=1000 + 500, user_id=cashier_id, approver_id=manager_id)
    assert view.discount_percent_bp == 1500                         # more off than theirs: no question of that


def test_cards_match_in_any_case_and_a_ruc_by_its_leading_part(demo, manager_id):
    c = customers.create({"name": "Ana", "cards": "LOY-0777", "ruc": "8-274-125", "dv": "91"}, region=R,
                         approver_id=manager_id)
    assert customers.by_card("loy-0777").id == c.id
    assert [x.id for x in customers.lookup("loy-0777", region=R).customers] == [c.id]
    assert [x.id for x in customers.lookup("8-274", region=R).customers] == [c.id]
    with pytest.raises(FormError, match="already belongs"):
        customers.create({"name": "Bea", "cards": "loy-0777"}, region=R)    # the same card in another case


def test_migration_15_adds_consent_to_an_older_database(db_url):
    """An older database gets the consent log and `invite_declined`, and migrating again changes nothing."""
    from tui_pos.models import ConsentEvent
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(db_url)
    database.connect(reuse_if_open=True)
    migrate(database, target=14)
    assert "consent_event" not in database.get_tables()
    assert migrate(database)[0] == 15 and migrate(database) == []
    assert "invite_declined" in {c.name for c in database.get_columns("customer")}
    assert ConsentEvent.select().count() == 0
    database.close()
