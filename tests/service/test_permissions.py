"""Permissions on the real database: every gate reads `[permissions]` (issue 28, item 2)."""

import json

import pytest

from tui_pos.domain import dayreport
from tui_pos.domain.errors import NeedsManager
from tui_pos.domain.permissions import DEFAULT, Permissions
from tui_pos.models import AuditLog
from tui_pos.services import customers, dayclose, loyalty_admin, returns, users

R = "PA"


@pytest.fixture
def table():
    """Set a `[permissions]` table for one test; the defaults come back after it."""
    def use(**least):
        users.configure_permissions(Permissions.from_table(least))
    yield use
    users.configure_permissions(DEFAULT)


def _sold(sales, *codes):
    note = sales.open_note()
    for code in codes:
        sales.add_item(note, code)
    return sales.pay(note).receipt_no


def _last(action):
    return AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id.desc()).first()


def test_a_refund_needs_a_manager_by_default(sales, cashier_id, manager_id):
    # issue 28: "Today a cashier refunds with F7 with no approval (`approved_by` empty) ... refunds are a
    # permission (manager by default)"
    number = _sold(sales, "ESP")
    lid = returns.find(number).lines[0].line_id
    with pytest.raises(NeedsManager, match=r"^A refund needs a manager PIN\.$"):
        returns.refund(sales, number, {lid: 1}, user_id=cashier_id)
    with pytest.raises(NeedsManager, match="That PIN is not a manager's"):
        returns.refund(sales, number, {lid: 1}, user_id=cashier_id, approver_id=cashier_id)
    assert returns.find(number).lines[0].returned_qty == 0           # nothing written on refusal
    returns.refund(sales, number, {lid: 1}, user_id=cashier_id, approver_id=manager_id)
    entry = _last("note.refund")
    assert entry.user_id == cashier_id and entry.approved_by_id == manager_id


def test_a_manager_signed_in_refunds_without_a_second_pin(sales, manager_id):
    number = _sold(sales, "ESP")
    returns.refund(sales, number, {returns.find(number).lines[0].line_id: 1}, user_id=manager_id)
    assert _last("note.refund").approved_by_id == manager_id


def test_the_table_lets_a_cashier_refund_alone(sales, cashier_id, table):
    table(refund="cashier")
    number = _sold(sales, "ESP")
    returns.refund(sales, number, {returns.find(number).lines[0].line_id: 1}, user_id=cashier_id)
    assert _last("note.refund").approved_by_id is None


def test_a_gate_moved_up_to_admin_refuses_a_manager(sales, cashier_id, manager_id, table):
    table(price_override="admin")
    note = sales.open_note()
    line, _ = sales.add_item(note, "ESP")
    with pytest.raises(NeedsManager, match=r"^Changing a price needs an admin PIN\.$"):
        sales.override_price(note, line.id, 100, user_id=cashier_id)
    with pytest.raises(NeedsManager, match="That PIN is not an admin's"):
        sales.override_price(note, line.id, 100, user_id=cashier_id, approver_id=manager_id)


def test_editing_a_customers_record_needs_customer_edit(demo, cashier_id, manager_id, table):
    # seed 003: "The employee must have an specific role to do that."; seed 001: a cashier creates a customer
    # from a phone at the counter, and details can follow
    c = customers.create_with_phone("6555-1234", region=R, user_id=cashier_id)
    customers.update(c.id, {"name": "Ana", "email": "ana@x.com"}, region=R, user_id=cashier_id)  # filling in
    customers.update(c.id, {"sms_consent": "yes"}, region=R, user_id=cashier_id)   # the customer's own say
    with pytest.raises(NeedsManager, match=r"^Changing the name needs a manager PIN\.$"):
        customers.update(c.id, {"name": "Eva"}, region=R, user_id=cashier_id)
    with pytest.raises(NeedsManager, match="Changing the email"):
        customers.update(c.id, {"email": ""}, region=R, user_id=cashier_id)      # blanking is changing
    assert customers.view(c.id).name == "Ana"
    after = customers.update(c.id, {"name": "Eva"}, region=R, user_id=cashier_id, approver_id=manager_id)
    assert after.name == "Eva" and _last("customer.update").approved_by_id == manager_id
    table(customer_edit="cashier")
    assert customers.update(c.id, {"name": "Eve"}, region=R, user_id=cashier_id).name == "Eve"


def test_line_deletions_and_small_discounts_are_written_down(sales, cashier_id):
    # issue 28: "Line deletions before payment and discounts under the cashier's limit are written to the
    # audit log too (who, what, when), as voids are where till theft hides."
    note = sales.open_note()
    line, _ = sales.add_item(note, "ESP")
    sales.set_discount(note, line.id, percent_bp=500, user_id=cashier_id)          # 5 %: under the limit
    entry = _last("line.discount")
    assert entry.user_id == cashier_id and json.loads(entry.detail)["percent_bp"] == 500
    sales.delete_line(note, line.id, user_id=cashier_id)
    entry = _last("line.delete")
    assert entry.user_id == cashier_id and json.loads(entry.detail)["sku"] == "ESP" and entry.at is not None


def test_a_cashier_cannot_adjust_points_through_the_service(demo, cashier_id, manager_id):
    c = customers.create({"name": "Ana"}, region=R, user_id=cashier_id)
    with pytest.raises(NeedsManager, match="That PIN is not a manager's"):
        loyalty_admin.adjust(c.id, 50, "goodwill", manager_id=cashier_id, max_points=1000)
    loyalty_admin.adjust(c.id, 50, "goodwill", manager_id=manager_id, max_points=1000)


def test_the_close_of_day_is_a_blind_count(sales):
    # issue 28: "the close of day is a blind count by default (the cashier types what is in the drawer
    # before seeing what was expected)"
    _sold(sales, "ESP", "CAPP")
    x = dayclose.x_report("R1", opening_float_cents=5000)
    shown = dayreport.as_text(dayreport.layout(x, 48, lambda c: f"{c / 100:.2f}", blind=True))
    full = dayreport.as_text(dayreport.layout(x, 48, lambda c: f"{c / 100:.2f}"))
    assert "Expected" in full and f"{x.cash_expected_cents / 100:.2f}" in full
    assert "Expected" not in shown and f"{x.cash_expected_cents / 100:.2f}" not in shown
    assert f"{x.sales_cents / 100:.2f}" not in shown and "Blind count" in shown
    rows = dayreport.layout(x, 48, lambda c: f"{c / 100:.2f}", blind=True)
    assert [r.cut for r in rows].count(True) == 1 and rows[-1].cut        # the paper is cut once, at the end
    assert users.permissions().allows("manager", "expected_cash")
    assert not users.permissions().allows("cashier", "expected_cash")
