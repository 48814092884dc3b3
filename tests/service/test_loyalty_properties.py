"""Property: any sequence of sales, redemptions, offers and returns keeps every balance equal to its
ledger, and no redemption ever takes a balance below zero."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_pos.domain.errors import PosError
from tui_pos.models import Customer, LoyaltyMovement, Product
from tui_pos.services import customers, loyalty, returns


def _refund(sales, *args, **kw):
    """A refund approved by the demo's manager: `refund` is a manager's by default ([permissions])."""
    from tui_pos.services import users
    return returns.refund(sales, *args, approver_id=users.manager_for("2222").id, **kw)


ITEMS = ["ESP", "LATT", "MUG", "CROI", "BAGS"]

op = st.one_of(
    st.tuples(st.just("sale"), st.lists(st.sampled_from(ITEMS), min_size=1, max_size=4),
              st.integers(0, 8), st.booleans()),
    st.tuples(st.just("return"), st.integers(0, 20), st.integers(1, 3)),
    st.tuples(st.just("adjust"), st.integers(-300, 300)),
)


@pytest.fixture
def store(sales, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[program]\nper_visit = 2\n[redemption]\npoints = 50\nvalue = "0.50"\nminimum = 50\n'
                    '[[tiers]]\nname = "A"\nthreshold = 0\n'
                    '[[tiers]]\nname = "B"\nthreshold = 100\nmultiplier = "1.5"\n')
    loyalty.import_program(path)
    Product.update(points_cost=120).where(Product.sku.in_(["ESP", "CROI"])).execute()
    return sales


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=8), start=st.integers(0, 600))
def test_balances_equal_their_ledger(store, ops, start):
    sales = store
    c = customers.create({"name": "Prop"}, region="PA")
    if start:
        loyalty.opening_balance(c.id, start)
    receipts = []
    for action in ops:
        if action[0] == "sale":
            _, items, redeem_steps, offer = action
            note = sales.open_note()
            for sku in items:
                sales.add_item(note, sku)
            sales.attach_customer(note, c.id)
            if offer:
                for line in sales.offer_lines(note):
                    try:
                        sales.set_offers(note, {line.line_id: 1})
                    except PosError:
                        pass
            if redeem_steps:
                try:
                    sales.redeem(note, redeem_steps * 50)
                except PosError:
                    pass
            receipts.append(sales.pay(note).receipt_no)
        elif action[0] == "return" and receipts:
            number = receipts[action[1] % len(receipts)]
            found = returns.find(number)
            picks = {ln.line_id: min(action[2], ln.returnable_qty) for ln in found.lines if ln.returnable_qty}
            if picks:
                _refund(sales, number, picks)
        elif action[0] == "adjust":
            try:
                loyalty.move(c.id, action[1], "adjust")
            except loyalty.BalanceChanged:
                pass
        row = Customer.get_by_id(c.id)
        moves = list(LoyaltyMovement.select().where(LoyaltyMovement.customer == c.id).order_by(LoyaltyMovement.id))
        assert row.points_balance == sum(m.points for m in moves)
        running = 0
        for m in moves:
            assert m.balance_before == running and m.balance_after == running + m.points
            running = m.balance_after
            if m.kind in ("redeem", "offer"):
                assert m.balance_after >= 0
