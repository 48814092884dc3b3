"""X and Z reports on a real database (both backends): known answers, the day closed once, printed."""

import json

import pytest

from tests.service.test_loyalty import program  # noqa: F401 - the fixture
from tui_pos.domain import dayreport
from tui_pos.domain.errors import InputError
from tui_pos.domain.money import MoneyFormat
from tui_pos.models import AuditLog, DayClose, Note, PrintJob
from tui_pos.services import customers, dayclose, loyalty, returns
from tui_pos.services.sales import SaleService


def _refund(sales, *args, **kw):
    """A refund approved by the demo's manager: `refund` is a manager's by default ([permissions])."""
    from tui_pos.services import users
    return returns.refund(sales, *args, approver_id=users.manager_for("2222").id, **kw)



def ring(sales, *codes, tender="cash", amount=None, customer_id=None, redeem=None):
    note = sales.open_note()
    for code in codes:
        sales.add_item(note, code)
    if customer_id:
        sales.attach_customer(note, customer_id)
    if redeem:
        sales.redeem(note, redeem)
    if tender == "cash":
        return sales.pay(note, "cash", amount)
    s = sales.summary(note)
    return sales.pay(note, tender, s.due_cents)


def test_x_report_sums_the_day_by_tender_tax_and_section(sales):
    a = ring(sales, "CAPP", "CROI", "CROI", amount=1000)   # 3.25 + 2 x 1.75 = 6.75, 3.25 change
    assert a.change_cents == 325
    ring(sales, "CAPP", tender="card")                     # 3.25 by card
    rec = returns.find(a.receipt_no)
    capp = next(line for line in rec.lines if line.sku == "CAPP")
    _refund(sales, a.receipt_no, {capp.line_id: 1})  # 3.25 back in cash
    x = dayclose.x_report("R1", opening_float_cents=5000)
    assert (x.kind, x.sales_count, x.sales_cents, x.returns_count, x.returns_cents) == ("X", 2, 1000, 1, 325)
    assert x.net_cents == 675
    assert dict(x.tenders) == {"cash": 1000 - 325 - 325, "card": 325}
    assert x.cash_expected_cents == 5000 + 350
    assert {name: (items, amount) for name, items, amount in x.sections} == {
        "Coffee": (1, 325), "Bakery": (2, 350)}
    assert sum(t.total_cents for t in x.taxes) == 675
    assert x.counted_cents is None and x.difference_cents is None
    assert x.number == 1   # the next Z's number
    assert Note.select().where(Note.day_close.is_null(False)).count() == 0   # an X changes nothing


def test_points_and_money_off_are_in_the_report(sales, program):  # noqa: F811
    c = customers.create({"name": "Ana"}, region="PA")
    loyalty.opening_balance(c.id, 1000)
    # 1000 points earned make Ana Silver (10% off): 6.50 - 0.65, less 3.00 with points
    ring(sales, "CAPP", "CAPP", customer_id=c.id, redeem=300)
    x = dayclose.x_report("R1")
    assert (x.redeemed_cents, x.discount_cents, x.sales_cents) == (300, 65 + 300, 285)
    assert sum(t.total_cents for t in x.taxes) == 285
    assert x.points_redeemed == 300
    assert x.points_issued > 0
    earned = Note.get(Note.status == "paid").loyalty_earned
    assert x.points_issued == earned


def test_z_closes_the_day_once_and_is_kept(sales, manager_id):
    ring(sales, "CAPP", amount=500)
    other = SaleService("R2")
    ring(other, "CROI", amount=200)
    z = dayclose.close_day("R1", 5100, opening_float_cents=5000, user_id=manager_id)
    assert (z.kind, z.number, z.sales_count, z.sales_cents) == ("Z", 1, 1, 325)
    assert z.cash_expected_cents == 5325 and z.difference_cents == -225
    assert z.user
    # the day is closed: the next X starts empty and numbers the next Z; R2's day is untouched
    after = dayclose.x_report("R1")
    assert (after.sales_count, after.number) == (0, 2)
    assert dayclose.x_report("R2").sales_count == 1
    ring(sales, "CROI", amount=175)
    z2 = dayclose.close_day("R1", None)
    assert (z2.number, z2.sales_count, z2.sales_cents) == (2, 1, 175)
    # the first Z, read back, is what was printed
    again = dayclose.z_report("R1", 1)
    assert again.to_dict() == z.to_dict()
    assert dayclose.last_z("R1") == 2
    row = DayClose.get(DayClose.register == "R1", DayClose.number == 1)
    assert (row.counted_cents, row.expected_cents, row.user_id) == (5100, 5325, manager_id)
    audit = [json.loads(a.detail) for a in AuditLog.select().where(AuditLog.action == "day.close")]
    assert [a["z"] for a in audit] == [1, 2] and audit[0]["difference"] == -225
    with pytest.raises(InputError, match="No Z report 9"):
        dayclose.z_report("R1", 9)


def test_z_refuses_bad_input_and_changes_nothing(sales):
    ring(sales, "CAPP", amount=500)
    with pytest.raises(InputError, match="cannot be negative"):
        dayclose.close_day("R1", -1)
    with pytest.raises(InputError, match="has sold nothing"):
        dayclose.close_day("R9", 0)
    assert DayClose.select().count() == 0
    assert dayclose.x_report("R1").sales_count == 1


def test_an_empty_day_can_be_closed(sales):
    _ = sales.register_id   # the register exists (the app creates its row at start) but sold nothing
    z = dayclose.close_day("R1", 0)
    assert (z.sales_count, z.net_cents, z.cash_expected_cents, z.difference_cents) == (0, 0, 0, 0)


def test_report_is_printed_through_the_queue(sales):
    from tui_pos.bootstrap import receipt_builder
    from tui_pos.config import from_dict
    from tui_pos.services.printing import Job
    ring(sales, "CAPP", amount=500)
    z = dayclose.close_day("R1", 500)
    job_id = dayclose.queue_print("R1", z, 42, MoneyFormat().plain)
    row = PrintJob.get_by_id(job_id)
    assert (row.kind, row.receipt_no, row.state) == ("report", "Z-R1-1", "waiting")
    cfg = from_dict({"printer": {"kind": "file", "path": "/dev/null", "columns": 42}})

    class P:
        has_drawer = True
    build = receipt_builder(cfg, sales, P(), MoneyFormat())
    data = build(Job(row.id, row.receipt_no, False, False, 0, row.kind, row.body))
    assert b"Z REPORT #1" in data and b"Counted" in data and b"\x1dV" in data   # text, then the cut


def test_layout_fits_the_paper():
    import datetime as dt
    report = dayreport.build("Z", "R1", 3, notes=[dayreport.NoteFacts("sale", 1234, 2000)],
                             payments=[("cash", 2000)], lines=[], points=[5, -100],
                             opened_at=dt.datetime(2026, 11, 27, 8), printed_at=dt.datetime(2026, 11, 27, 20),
                             opening_float_cents=10000, counted_cents=10000 + 1234 - 10)
    rows = dayreport.layout(report, 32, MoneyFormat().plain)
    text = dayreport.as_text(rows)
    assert all(len(r.text) <= 32 for r in rows)
    assert "Z REPORT #3" in text and "Short" in text and "0.10" in text
    assert "Points issued" in text and text.count("-" * 32) >= 5


def test_the_x_and_z_reports_count_each_cashiers_sales(sales, cashier_id, manager_id):
    """Accountability: the close of day says who sold what (the cashier signed in when each note was paid)."""
    from tui_pos.domain import dayreport
    from tui_pos.domain.receipt import as_text
    from tui_pos.services import dayclose
    for user, code in ((cashier_id, "ESP"), (manager_id, "CAPP"), (cashier_id, "LATT")):
        note = sales.open_note(user)
        sales.add_item(note, code)
        sales.pay(note, user_id=user)
    report = dayclose.x_report("R1")
    assert report.cashiers == (("Ana", 2, 500, 0), ("Marco", 1, 325, 0))
    text = as_text(dayreport.layout(report, 48, lambda c: f"{c / 100:.2f}"))
    assert "BY CASHIER" in text and "Ana (2 sales)" in text
