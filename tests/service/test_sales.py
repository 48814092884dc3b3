"""The sale workflow on a real database (SQLite file and PostgreSQL)."""

import pytest

from tui_pos.domain.errors import InputError, NeedsManager, PosError
from tui_pos.models import AuditLog, Note, NoteLine, Payment
from tui_pos.services import audit
from tui_pos.services.demo import demo_barcode


def test_scan_adds_and_raises_quantity(sales):
    note = sales.open_note()
    line, s = sales.add_item(note, demo_barcode(1))
    assert (line.sku, line.qty, line.total_cents) == ("ESP", 1, 150)
    line2, s = sales.add_item(note, "esp")  # SKU, any case
    assert line2.id == line.id and line2.qty == 2
    line3, s = sales.add_item(note, "3*CAPP")
    assert line3.qty == 3 and s.totals.line_count == 2 and s.totals.total_cents == 300 + 975


@pytest.mark.parametrize("text,fragment", [
    ("NOPE", "Unknown code NOPE"), ("0*ESP", "at least 1"), ("10000*ESP", "more than 9999"), ("", "Type or scan"),
])
def test_bad_codes_leave_the_note_as_it_was(sales, text, fragment):
    note = sales.open_note()
    sales.add_item(note, "ESP")
    with pytest.raises(InputError, match=fragment):
        sales.add_item(note, text)
    view = sales.view(note)
    assert [(ln.sku, ln.qty) for ln in view.lines] == [("ESP", 1)]


def test_line_cannot_exceed_9999(sales):
    note = sales.open_note()
    sales.add_item(note, "9999*ESP")
    with pytest.raises(InputError, match="at most 9999"):
        sales.add_item(note, "ESP")


def test_open_note_survives_restart(sales):
    """What a crash leaves: the open note with every line comes back."""
    from tui_pos.services.sales import SaleService
    note = sales.open_note()
    sales.add_item(note, "ESP")
    sales.add_item(note, "2*LATT")
    again = SaleService("R1")
    assert again.current_note() == note
    assert [(ln.sku, ln.qty) for ln in again.view(again.open_note()).lines] == [("ESP", 1), ("LATT", 2)]


def test_quantity_and_delete(sales):
    note = sales.open_note()
    line, _ = sales.add_item(note, "ESP")
    line, s = sales.set_qty(note, line.id, 5)
    assert line.qty == 5 and s.totals.total_cents == 750
    with pytest.raises(InputError):
        sales.set_qty(note, line.id, 0)
    s = sales.delete_line(note, line.id)
    assert s.totals.line_count == 0


def test_discount_within_limit_and_above_needs_manager(sales, cashier_id, manager_id):
    note = sales.open_note()
    line, _ = sales.add_item(note, "2*LATT")  # 7.00
    line, s = sales.set_discount(note, line.id, percent_bp=1000, user_id=cashier_id)
    assert line.discount_cents == 70 and s.totals.total_cents == 630
    with pytest.raises(NeedsManager):
        sales.set_discount(note, line.id, percent_bp=2000, user_id=cashier_id)
    with pytest.raises(NeedsManager):  # a cashier cannot approve
        sales.set_discount(note, line.id, percent_bp=2000, user_id=cashier_id, approver_id=cashier_id)
    with pytest.raises(NeedsManager):  # an amount above the limit counts too
        sales.set_discount(note, line.id, cents=200, user_id=cashier_id)
    line, s = sales.set_discount(note, line.id, percent_bp=2000, user_id=cashier_id, approver_id=manager_id)
    assert s.totals.total_cents == 560
    entry = audit.entries(1)[0]
    assert entry["action"] == "line.discount" and entry["approved_by"] == manager_id


def test_price_override_needs_manager_and_is_audited(sales, cashier_id, manager_id):
    note = sales.open_note()
    line, _ = sales.add_item(note, "ESP")
    with pytest.raises(NeedsManager):
        sales.override_price(note, line.id, 100, user_id=cashier_id)
    with pytest.raises(InputError):
        sales.override_price(note, line.id, -1, user_id=cashier_id, approver_id=manager_id)
    line, _ = sales.override_price(note, line.id, 100, user_id=cashier_id, approver_id=manager_id)
    assert line.unit_price_cents == 100 and line.overridden
    assert audit.entries(1)[0]["detail"] == {"from_cents": 150, "to_cents": 100, "note": note, "sku": "ESP"}


def test_void_after_payment_started_needs_manager(sales, cashier_id, manager_id):
    note = sales.open_note()
    a, _ = sales.add_item(note, "ESP")
    sales.add_item(note, "LATT")
    sales.pay(note, "card", 100)
    with pytest.raises(NeedsManager):
        sales.delete_line(note, a.id, user_id=cashier_id)
    sales.delete_line(note, a.id, user_id=cashier_id, approver_id=manager_id)
    assert AuditLog.select().where(AuditLog.action == "line.void").count() == 1


def test_cancel_needs_manager(sales, cashier_id, manager_id):
    note = sales.open_note()
    sales.add_item(note, "ESP")
    with pytest.raises(NeedsManager):
        sales.cancel(note, user_id=cashier_id)
    sales.cancel(note, user_id=cashier_id, approver_id=manager_id)
    assert Note.get_by_id(note).status == "cancelled"
    assert sales.current_note() is None


def test_park_and_resume(sales):
    first = sales.open_note()
    sales.add_item(first, "ESP")
    sales.park(first, "Table 4")
    second = sales.open_note()
    assert second != first
    sales.add_item(second, "LATT")
    parked = sales.parked()
    assert [(p.label, p.line_count, p.total_cents) for p in parked] == [("Table 4", 1, 150)]
    assert sales.resume(first, second) == first
    assert sales.current_note() == first
    assert [p.label for p in sales.parked()] == [f"Note {second}"]
    with pytest.raises(InputError, match="no longer parked"):
        sales.resume(first, first)


def test_empty_note_cannot_be_parked(sales):
    with pytest.raises(InputError, match="empty"):
        sales.park(sales.open_note())


def test_sales_mode(sales):
    note = sales.open_note()
    sales.set_sales_mode(note, "takeaway")
    assert sales.view(note).sales_mode == "takeaway"
    with pytest.raises(InputError):
        sales.set_sales_mode(note, "drive-in")


def test_split_payment_and_change(sales):
    note = sales.open_note()
    sales.add_item(note, "3*CAPP")  # 9.75
    r = sales.pay(note, "card", 500)
    assert not r.completed and r.summary.due_cents == 475
    with pytest.raises(InputError, match="Only cash"):
        sales.pay(note, "voucher", 1000)
    r = sales.pay(note, "cash", 1000)
    assert r.completed and r.change_cents == 525 and r.receipt_no == "R1-000001"
    receipt = sales.receipt(r.receipt_no)
    assert receipt.payments == (("card", 500), ("cash", 1000)) and receipt.change_cents == 525
    with pytest.raises(PosError):  # pressing pay twice never pays twice
        sales.pay(note)
    assert Payment.select().where(Payment.note == note).count() == 2


def test_enter_on_empty_amount_pays_rest_in_cash(sales):
    note = sales.open_note()
    sales.add_item(note, "ESP")
    r = sales.pay(note)
    assert r.completed and r.cash_taken and r.change_cents == 0


def test_a_note_overpaid_by_a_void_completes_with_change(sales, cashier_id, manager_id):
    """A card payment, then a line voided with a manager: the note is overpaid. Enter completes it and the
    difference is change (it could neither be paid nor parked, so the sale was stuck)."""
    note = sales.open_note()
    a, _ = sales.add_item(note, "LATT")                  # 3.50
    sales.add_item(note, "ESP")                          # 1.50
    sales.pay(note, "card", 400)
    sales.delete_line(note, a.id, user_id=cashier_id, approver_id=manager_id)
    assert sales.summary(note).due_cents == -250
    r = sales.pay(note)
    assert r.completed and r.change_cents == 250
    assert sales.receipt(r.receipt_no).payments == (("card", 400),)


def test_empty_note_cannot_be_paid(sales):
    with pytest.raises(InputError, match="empty"):
        sales.pay(sales.open_note())


def test_receipt_numbers_are_gapless_per_register(sales):
    from tui_pos.services.sales import SaleService
    other = SaleService("R2", tenders=["cash"])
    numbers = []
    for service in (sales, other, sales, sales, other):
        note = service.open_note()
        service.add_item(note, "ESP")
        numbers.append(service.pay(note).receipt_no)
    # a cancelled note takes no number
    note = sales.open_note()
    sales.add_item(note, "ESP")
    Note.update(status="cancelled").where(Note.id == note).execute()
    note = sales.open_note()
    sales.add_item(note, "ESP")
    numbers.append(sales.pay(note).receipt_no)
    assert numbers == ["R1-000001", "R2-000001", "R1-000002", "R1-000003", "R2-000002", "R1-000004"]


def test_full_discount_note_completes_without_payment(sales, manager_id):
    note = sales.open_note()
    line, _ = sales.add_item(note, "ESP")
    sales.set_discount(note, line.id, percent_bp=10000, approver_id=manager_id)
    r = sales.pay(note)
    assert r.completed and r.summary.totals.total_cents == 0


def test_nothing_half_written_when_completion_fails(sales, monkeypatch):
    """Completion is one transaction: a failure after the payment insert leaves no payment."""
    note = sales.open_note()
    sales.add_item(note, "ESP")

    def broken(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(sales, "_close", broken)
    with pytest.raises(RuntimeError):
        sales.pay(note)
    assert Payment.select().where(Payment.note == note).count() == 0
    assert Note.get_by_id(note).status == "open"
    assert NoteLine.select().where(NoteLine.note == note).count() == 1


def test_a_payment_retried_with_its_request_id_is_taken_once(sales):
    note = sales.open_note()
    sales.add_item(note, "3*CAPP")
    part = sales.pay(note, "card", 500, request_id="reg1-a")
    again = sales.pay(note, "card", 500, request_id="reg1-a")       # the answer was lost: the register retries
    assert not part.completed and not again.completed and again.summary.paid_cents == 500
    done = sales.pay(note, "cash", 1000, request_id="reg1-b")
    retried = sales.pay(note, "cash", 1000, request_id="reg1-b")     # the commit happened before the line dropped
    assert done.completed and retried == done and retried.change_cents == 1000 + 500 - 975
    assert Payment.select().where(Payment.note == note).count() == 2
    assert Note.get_by_id(note).receipt_no == done.receipt_no


def test_completing_a_sale_opens_the_next_note_in_its_transaction(sales, cashier_id):
    note = sales.open_note(cashier_id)
    sales.add_item(note, "CAPP")
    partial = sales.pay(note, "card", 100)
    assert not partial.completed and partial.next_note_id is None     # nothing opened before completion
    result = sales.pay(note)
    nxt = result.next_note_id
    opened = Note.get_by_id(nxt)
    assert (opened.status, opened.kind, opened.cashier_id, opened.register_id) == (
        "open", "sale", cashier_id, Note.get_by_id(note).register_id)
    assert sales.current_note() == nxt == sales.open_note(cashier_id)   # no second open note
    assert Note.select().where(Note.status == "open").count() == 1
    assert NoteLine.select().where(NoteLine.note == nxt).count() == 0
    with pytest.raises(InputError, match="empty"):   # a failed completion opens nothing
        sales.pay(nxt)
    assert Note.select().where(Note.status == "open").count() == 1


def test_a_scan_finds_the_notes_earlier_line_by_note_not_by_product_history(sales):
    """A scan looks up the note's earlier line of the product. With an index on product alone, PostgreSQL's
    generic plan (no statistics yet) read that product's lines in every note ever sold: each scan got slower
    with the store's history. Migration 14 indexes the lines by (note, product) instead, and by product
    alone no more."""
    from tui_pos.models import db
    from tui_pos.models.db import is_sqlite
    from tui_pos.services.store.catalog import _q_find
    indexes = [ix.columns for ix in db.get_indexes("note_line")]
    assert ["note_id", "product_id"] in indexes and ["note_id"] not in indexes and ["product_id"] not in indexes
    for _ in range(30):                      # history: many notes with the same product
        note = sales.open_note()
        sales.add_item(note, "CAPP")
        sales.pay(note)
    note = sales.open_note()
    sales.add_item(note, "CAPP")
    assert sales.add_item(note, "CAPP")[0].qty == 2     # the earlier line is found and raised
    if is_sqlite():
        return
    _, sql, order = _q_find._compile()
    values = ["x", "x", "x", "CAPP", "2026-11-27", note, sales.store_id]
    args = [values[v] if is_arg else v for is_arg, v in order]
    parts = sql.split("%s")
    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
    db.execute_sql("SET plan_cache_mode = force_generic_plan")   # what the register runs after 5 scans
    db.execute_sql(f"PREPARE find_probe AS {numbered}")
    try:
        literals = ", ".join("NULL" if a is None else "TRUE" if a is True else "FALSE" if a is False
                             else str(a) if isinstance(a, int) else "'" + str(a).replace("'", "''") + "'"
                             for a in args)
        plan = "\n".join(r[0] for r in db.execute_sql(f"EXPLAIN EXECUTE find_probe({literals})").fetchall())
    finally:
        db.execute_sql("DEALLOCATE find_probe")
        db.execute_sql("RESET plan_cache_mode")
    assert "note_line_product_id" not in plan and "note_line_note_id_product_id" in plan, plan


def test_migration_14_reindexes_the_lines_of_an_older_database(db_url, monkeypatch):
    """A version-13 database (lines indexed by note and by product) keeps its lines and gets the new index."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import audit
    monkeypatch.setattr(audit, "record", lambda *a, **k: None)   # a schema before 17 has no chained log to write
    from tui_pos.services.demo import seed_demo
    from tui_pos.services.sales import SaleService
    database = bind(db_url)
    migrate(database, target=13)
    from tui_pos.models import StorePrice
    database.create_tables([StorePrice])   # a schema before 23 has no store prices: the live scan reads them
    assert {("note_id",), ("product_id",)} <= {tuple(ix.columns) for ix in db.get_indexes("note_line")}
    seed_demo(with_loyalty=False)
    sales = SaleService("R1")
    note = sales.open_note()
    sales.add_item(note, "CAPP")
    assert migrate(database)[0] == 14
    columns = [ix.columns for ix in db.get_indexes("note_line")]
    assert ["note_id", "product_id"] in columns and ["note_id"] not in columns and ["product_id"] not in columns
    assert sales.add_item(note, "CAPP")[0].qty == 2 and NoteLine.select().count() == 1
    database.close()


def test_a_customer_closed_while_on_the_note_is_never_sold_to_silently(sales, manager_id):
    """Closed on another register (or forgotten) while on this note: paying asks a manager to keep them."""
    from tui_pos.models import Customer
    from tui_pos.services import customers
    c = customers.create({"name": "Ana"}, region="PA")
    note = sales.open_note()
    sales.add_item(note, "ESP")
    sales.attach_customer(note, c.id)
    Customer.update(status="closed").where(Customer.id == c.id).execute()
    with pytest.raises(NeedsManager, match="Ana was closed while on this note"):
        sales.pay(note)
    assert sales.pay(note, approver_id=manager_id).completed
    assert AuditLog.select().where(AuditLog.action == "sale.closed_customer_kept").count() == 1
