"""Returns: never more than was sold, never more money than was paid."""

import pytest

from tui_pos.domain.errors import InputError
from tui_pos.services import returns


def _refund(sales, *args, **kw):
    """A refund approved by the demo's manager: `refund` is a manager's by default ([permissions])."""
    from tui_pos.services import users
    return returns.refund(sales, *args, approver_id=users.manager_for("2222").id, **kw)



def _sale(sales, *codes):
    note = sales.open_note()
    for code in codes:
        sales.add_item(note, code)
    return sales.pay(note).receipt_no


def test_partial_returns_across_several_refunds(sales):
    number = _sale(sales, "3*CAPP", "ESP")
    found = returns.find(number)
    capp = next(ln for ln in found.lines if ln.sku == "CAPP")
    refund1 = _refund(sales, number, {capp.line_id: 2}, "cash")
    assert refund1 == "R1-000002"
    r = sales.receipt(refund1)
    assert r.kind == "return" and r.return_of == number and r.totals.total_cents == -650
    again = returns.find(number)
    capp = next(ln for ln in again.lines if ln.sku == "CAPP")
    assert capp.returned_qty == 2 and capp.returnable_qty == 1
    with pytest.raises(InputError, match="1 of 3 can still be returned"):
        _refund(sales, number, {capp.line_id: 2})
    _refund(sales, number, {capp.line_id: 1}, "card")
    assert returns.refunded_total(found.note_id) == 975


def test_rounding_never_refunds_more_than_paid(sales, manager_id):
    note = sales.open_note()
    line, _ = sales.add_item(note, "3*ESP")  # 4.50
    sales.set_discount(note, line.id, cents=100, approver_id=manager_id)  # 3.50 for 3 units
    number = sales.pay(note).receipt_no
    lid = returns.find(number).lines[0].line_id
    refunds = [_refund(sales, number, {lid: 1}) for _ in range(3)]
    totals = [sales.receipt(r).totals.total_cents for r in refunds]
    assert totals == [-117, -117, -116] and sum(totals) == -350


@pytest.mark.parametrize("text,fragment", [("R9-999999", "No receipt"), ("", "Type or scan")])
def test_unknown_receipt(sales, text, fragment):
    with pytest.raises(InputError, match=fragment):
        returns.find(text)


def test_a_refund_cannot_be_returned(sales):
    number = _sale(sales, "ESP")
    lid = returns.find(number).lines[0].line_id
    refund = _refund(sales, number, {lid: 1})
    with pytest.raises(InputError, match="itself a refund"):
        returns.find(refund)


def test_nothing_picked(sales):
    number = _sale(sales, "ESP")
    with pytest.raises(InputError, match="Pick at least one"):
        _refund(sales, number, {})
