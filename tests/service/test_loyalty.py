"""Loyalty at the register on a real database: the ledger never loses a point."""

import textwrap

import pytest

from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.loyalty import ProgramError
from tui_pos.domain.receipt import as_text, layout
from tui_pos.models import LoyaltyMovement, Note, NoteLine, Product
from tui_pos.services import customers, loyalty, returns
from tui_pos.services.loyalty import BalanceChanged


def _refund(sales, *args, **kw):
    """A refund approved by the demo's manager: `refund` is a manager's by default ([permissions])."""
    from tui_pos.services import users
    return returns.refund(sales, *args, approver_id=users.manager_for("2222").id, **kw)


PROGRAM = textwrap.dedent('''
    [program]
    mode = "points"
    earn_points = 1
    per_amount = "1.00"
    per_visit = 0
    exclude_discounted = true

    [redemption]
    points = 100
    value = "1.00"
    minimum = 100
    presets = [{ points = 500, value = "6.00" }, { points = 150, value = "1.50" }]

    [[tiers]]
    name = "Bronze"
    threshold = 0
    multiplier = "1"

    [[tiers]]
    name = "Silver"
    threshold = 500
    multiplier = "2"
    discount_percent = "10"

    [[sections]]
    name = "Coffee"
    earn_points = 2
    per_amount = "1.00"
''')


@pytest.fixture
def program(demo, tmp_path):
    path = tmp_path / "loyalty.toml"
    path.write_text(PROGRAM)
    Product.update(points_cost=150).where(Product.sku == "ESP").execute()
    Product.update(points=7).where(Product.sku == "MUG").execute()
    return loyalty.import_program(path)


def customer(points=0, **kw):
    c = customers.create({"name": kw.pop("name", "Ana"), **kw}, region="PA")
    if points:
        loyalty.opening_balance(c.id, points)
    return customers.view(c.id)


def balance(cid):
    return customers.view(cid).points_balance


def ledger_sum(cid):
    return sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid))


def test_bad_program_changes_nothing(program, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(PROGRAM.replace('threshold = 500', 'threshold = 0'))
    with pytest.raises(ProgramError, match="two tiers at threshold 0"):
        loyalty.import_program(bad)
    assert loyalty.program() == program


def test_sale_earns_in_its_transaction_and_prints_the_block(sales, program):
    c = customer()
    note = sales.open_note()
    sales.add_item(note, "2*ESP")   # Coffee: 2 points per 1.00 -> 6
    sales.add_item(note, "MUG")     # 7 points per unit -> 7
    sales.add_item(note, "BAGS")    # 0.99 -> 0.99 points
    sales.attach_customer(note, c.id)
    assert sales.loyalty(note).will_earn == 13   # floor(6 + 7 + 0.99)
    result = sales.pay(note)
    assert balance(c.id) == 13 == ledger_sum(c.id)
    moves = list(LoyaltyMovement.select().where(LoyaltyMovement.receipt_no == result.receipt_no))
    assert [(m.kind, m.points, m.balance_before, m.balance_after) for m in moves] == [("earn", 13, 0, 13)]
    sales.loyalty_block = "always"
    text = as_text(layout(sales.receipt(result.receipt_no), 48, str))
    assert "Previous balance" in text and "Points earned" in text and "New balance" in text
    sales.loyalty_block = "used"
    assert "Previous balance" not in as_text(layout(sales.receipt(result.receipt_no), 48, str))


def test_tier_held_when_the_note_was_opened(sales, program):
    c = customer(points=499)
    note = sales.open_note()
    sales.add_item(note, "LATT")
    sales.attach_customer(note, c.id)          # Bronze now
    loyalty.move(c.id, 10, "adjust", counts_as_earned=True)   # Silver before this note completes
    sales.pay(note)
    assert Note.get_by_id(note).loyalty_earned == 7  # 3.50 Coffee x2, multiplier 1 (Bronze)
    note2 = sales.open_note()
    sales.add_item(note2, "LATT")
    view = sales.attach_customer(note2, c.id)     # Silver: x2 and its 10 % discount
    assert view.lines[0].discount_percent_bp == 1000
    assert sales.loyalty(note2).tier == "Silver"


def test_redeem_most_preset_and_refusals(sales, program):
    c = customer(points=820)
    note = sales.open_note()
    sales.add_item(note, "MUG")  # 8.99
    sales.attach_customer(note, c.id)
    assert sales.redeem(note).totals.redeemed_cents == 800
    assert sales.redeem(note, preset=1).totals.redeemed_cents == 600
    assert sales.redeem(note, 200).totals.redeemed_cents == 200
    for points, fragment in [(900, "more than the balance"), (50, "At least 100"), (150, "steps of 100")]:
        with pytest.raises(InputError, match=fragment):
            sales.redeem(note, points)
    with pytest.raises(InputError, match="no preset 3"):
        sales.redeem(note, preset=3)
    assert sales.redeem(note, 0).totals.redeemed_cents == 0
    sales.redeem(note, 300)
    result = sales.pay(note)
    assert balance(c.id) == 820 - 300 + Note.get_by_id(note).loyalty_earned == ledger_sum(c.id)
    assert result.summary.totals.total_cents == 899 - 90 - 300   # Silver's 10 % off, then the points


def test_redemption_never_more_than_the_note(sales, program):
    c = customer(points=5000)
    note = sales.open_note()
    sales.add_item(note, "ESP")  # 1.50
    sales.attach_customer(note, c.id)
    assert sales.redeem(note).totals.redeemed_cents == 100
    with pytest.raises(InputError, match="worth more than the note"):
        sales.redeem(note, 200)


def test_no_customer_no_redemption(sales, program):
    note = sales.open_note()
    sales.add_item(note, "ESP")
    with pytest.raises(InputError, match="Attach a customer"):
        sales.redeem(note)
    with pytest.raises(InputError, match="Attach a customer"):
        sales.set_offers(note, {})


def test_offer_units_cost_zero_and_points(sales, program):
    c = customer(points=400)
    note = sales.open_note()
    sales.add_item(note, "3*ESP")
    sales.attach_customer(note, c.id)
    assert sales.can_offer(note)
    line = sales.offer_lines(note)[0]
    with pytest.raises(InputError, match="costs 450 points"):
        sales.set_offers(note, {line.line_id: 3})
    summary = sales.set_offers(note, {line.line_id: 2})
    assert summary.totals.total_cents == 150
    result = sales.pay(note)
    moves = [(m.kind, m.points, m.product_sku) for m in
             LoyaltyMovement.select().where(LoyaltyMovement.receipt_no == result.receipt_no)]
    assert moves == [("offer", -300, "ESP"), ("earn", 3, None)]   # the paid unit: 1.50 Coffee x2
    text = as_text(layout(sales.receipt(result.receipt_no), 48, str))
    assert "Offered" in text and "Points used" in text and "Previous balance" in text
    assert balance(c.id) == 103 == ledger_sum(c.id)


def test_no_offer_tab_once_payment_has_started(sales, program):
    """After a card payment F10 goes straight to the payment: the Offer tab could change nothing."""
    c = customer(points=400)
    note = sales.open_note()
    sales.add_item(note, "3*ESP")
    sales.attach_customer(note, c.id)
    assert sales.can_offer(note)
    sales.pay(note, "card", 100)
    assert not sales.can_offer(note)


def test_offers_count_every_line_of_the_note(sales, program):
    """Found by the property test: offering line B must count what line A already offers."""
    Product.update(points_cost=150).where(Product.sku == "CROI").execute()
    c = customer(points=200)
    note = sales.open_note()
    sales.add_item(note, "ESP")
    sales.add_item(note, "CROI")
    sales.attach_customer(note, c.id)
    esp, croi = sales.offer_lines(note)
    sales.set_offers(note, {esp.line_id: 1})
    with pytest.raises(InputError, match="costs 300 points"):
        sales.set_offers(note, {croi.line_id: 1})


def test_completion_is_all_or_nothing_when_the_balance_changed(sales, program):
    c = customer(points=500)
    note = sales.open_note()
    sales.add_item(note, "MUG")
    sales.attach_customer(note, c.id)
    sales.redeem(note, 500)
    loyalty.move(c.id, -100, "adjust")            # another register spent some meanwhile
    with pytest.raises(BalanceChanged):
        sales.pay(note)
    assert Note.get_by_id(note).status == "open" and Note.get_by_id(note).receipt_no is None
    assert balance(c.id) == 400 == ledger_sum(c.id)
    assert not sales.view(note).payments


def test_pay_twice_writes_movements_once(sales, program):
    c = customer()
    note = sales.open_note()
    sales.add_item(note, "LATT")
    sales.attach_customer(note, c.id)
    sales.pay(note)
    with pytest.raises(PosError, match="This note is paid"):
        sales.pay(note)
    assert LoyaltyMovement.select().where(LoyaltyMovement.customer == c.id).count() == 1


def test_returns_reverse_earned_and_give_back_spent(sales, program):
    c = customer(points=1000)
    note = sales.open_note()
    sales.add_item(note, "4*LATT")   # 14.00 Coffee
    sales.add_item(note, "2*ESP")
    sales.attach_customer(note, c.id)
    esp = next(ln for ln in sales.offer_lines(note))
    sales.set_offers(note, {esp.line_id: 2})        # -300
    sales.redeem(note, 200)                           # -200, 2.00 off
    number = sales.pay(note).receipt_no
    sold = Note.get_by_id(note)
    after_sale = balance(c.id)
    assert after_sale == 1000 - 500 + sold.loyalty_earned
    found = {ln.sku: ln for ln in returns.find(number).lines}
    _refund(sales, number, {found["LATT"].line_id: 2})
    _refund(sales, number, {found["LATT"].line_id: 2, found["ESP"].line_id: 2})
    # everything came back: earned points taken back, offered and redeemed points given back
    assert balance(c.id) == 1000 == ledger_sum(c.id)


def test_return_may_take_the_balance_below_zero(sales, program):
    c = customer()
    note = sales.open_note()
    sales.add_item(note, "4*LATT")
    sales.attach_customer(note, c.id)
    number = sales.pay(note).receipt_no
    earned = balance(c.id)
    loyalty.move(c.id, -earned, "adjust")   # spent elsewhere
    line = returns.find(number).lines[0]
    _refund(sales, number, {line.line_id: 4})
    assert balance(c.id) == -earned == ledger_sum(c.id)
    assert Note.get_by_id(note).customer_id == c.id


def test_refund_money_excludes_what_points_paid(sales, program):
    c = customer(points=1000)
    note = sales.open_note()
    sales.add_item(note, "MUG")   # 8.99, 10 % off for Silver: 8.09
    sales.attach_customer(note, c.id)
    sales.redeem(note, 300)
    number = sales.pay(note).receipt_no
    line = returns.find(number).lines[0]
    refund = _refund(sales, number, {line.line_id: 1})
    assert sales.receipt(refund).totals.total_cents == -(809 - 300)


def test_report_and_doctor(sales, program):
    c = customer(points=600, code="R1C")
    rows = loyalty.report()
    assert rows[0][:6] == ["R1C", "Ana", "", "Silver", "600", "600"]
    assert loyalty.ledger_mismatches() == []
    from tui_pos.models import Customer
    Customer.update(points_balance=601).where(Customer.id == c.id).execute()
    assert loyalty.ledger_mismatches() == [("R1C", 601, 600)]
    assert NoteLine.select().count() == 0


def test_points_expire_soonest_first(sales, program, tmp_path):
    import datetime as dt
    path = tmp_path / "exp.toml"
    path.write_text(PROGRAM.replace("per_visit = 0", "per_visit = 0\nexpire_months = 6"))
    loyalty.import_program(path)
    c = customer(points=300)
    LoyaltyMovement.update(at=dt.datetime(2026, 1, 10)).where(LoyaltyMovement.customer == c.id).execute()
    loyalty.move(c.id, 100, "adjust", counts_as_earned=True)          # today: expires in 6 months
    assert loyalty.expiring_soon(c.id, 30, today=dt.date(2026, 6, 20)) == (300, dt.date(2026, 7, 10))
    assert loyalty.expire_points(c.id, today=dt.date(2026, 7, 10)) == 300
    assert balance(c.id) == 100 == ledger_sum(c.id)
    assert loyalty.expire_points(c.id, today=dt.date(2026, 7, 10)) == 0   # once only
    last = LoyaltyMovement.select().order_by(LoyaltyMovement.id.desc()).first()
    assert (last.kind, last.points) == ("expire", -300)


def test_customer_list_filters_by_tier(program):
    customer(points=600, name="Silvia")
    customer(points=10, name="Bruno")
    assert [c.name for c in customers.lookup("tier:silver", region="PA").customers] == ["Silvia"]
    assert [c.name for c in customers.lookup("tier:Bronze", region="PA").customers] == ["Bruno"]


def test_stamp_offer_progress_reward_and_return(sales, demo, tmp_path):
    from tui_pos.models import StampCard, StampEvent
    path = tmp_path / "stamps.toml"
    path.write_text(PROGRAM + textwrap.dedent('''
        [[offers]]
        name = "10th coffee free"
        section = "Coffee"
        count = 10
        reward_sku = "ESP"
    '''))
    loyalty.import_program(path)
    c = customer()
    note = sales.open_note()
    sales.add_item(note, "7*LATT")
    sales.add_item(note, "5*AMER")
    sales.attach_customer(note, c.id)
    first = sales.pay(note).receipt_no
    card = StampCard.get(StampCard.customer == c.id)
    assert (card.units, card.rewards) == (2, 1)          # 12 coffees: one reward reached, 2 towards the next
    assert StampEvent.select().where(StampEvent.kind == "reached").count() == 1
    note = sales.open_note()
    sales.add_item(note, "2*ESP")
    sales.attach_customer(note, c.id)
    assert sales.can_offer(note)
    line = sales.reward_lines(note)[0]
    with pytest.raises(InputError, match="holds 1 reward"):
        sales.set_offers(note, {}, {line.line_id: 2})
    summary = sales.set_offers(note, {}, {line.line_id: 1})
    assert summary.totals.total_cents == 150
    second = sales.pay(note).receipt_no
    text = as_text(layout(sales.receipt(second), 48, str))
    assert "Offered" in text
    card = StampCard.get(StampCard.customer == c.id)
    assert (card.units, card.rewards) == (3, 0)          # the paid espresso counts, the reward one not
    # returning the espressos gives the reward back and takes the paid unit off the progress
    _refund(sales, second, {returns.find(second).lines[0].line_id: 2})
    card = StampCard.get(StampCard.customer == c.id)
    assert (card.units, card.rewards) == (2, 1)
    # returning 3 coffees of the first sale takes back the reward they reached
    latt = next(ln for ln in returns.find(first).lines if ln.sku == "LATT")
    _refund(sales, first, {latt.line_id: 3})
    card = StampCard.get(StampCard.customer == c.id)
    assert (card.units, card.rewards) == (9, 0)


def test_a_sale_on_sqlite_without_returning(sqlite_database, tmp_path, monkeypatch):
    """SQLite before 3.35 (Debian 11) has no RETURNING: the receipt number, the visit and the one
    UPDATE that moves a sale's points are read back by a SELECT in the same transaction."""
    import importlib

    from tui_pos.services.demo import seed_demo
    from tui_pos.services.sales import SaleService
    for name in ("tui_pos.models.db", "tui_pos.models.prepared", "tui_pos.services.store.ledger",
                 "tui_pos.services.store.notes"):   # (tui_pos.models.db is also the name of the proxy)
        monkeypatch.setattr(importlib.import_module(name), "SQLITE_RETURNING", False)
    seed_demo(with_loyalty=False)
    path = tmp_path / "loyalty.toml"
    path.write_text(PROGRAM)
    loyalty.import_program(path)
    sales = SaleService("R1")
    c = customer(points=300)
    note = sales.open_note()
    line, _ = sales.add_item(note, "2*LATT")     # 7.00 of Coffee: 14 points
    assert line.id
    sales.attach_customer(note, c.id)
    sales.redeem(note, 100)
    result = sales.pay(note)
    assert result.completed and result.receipt_no == "R1-000001"
    moves = [(m.kind, m.points, m.balance_before, m.balance_after) for m in LoyaltyMovement.select()
             .where(LoyaltyMovement.receipt_no == result.receipt_no).order_by(LoyaltyMovement.id)]
    assert moves[0] == ("redeem", -100, 300, 200)
    assert moves[1][0] == "earn" and moves[1][2] == 200 and moves[1][3] == 200 + moves[1][1]
    assert balance(c.id) == ledger_sum(c.id) == moves[1][3]
    from tui_pos.models import Customer
    assert Customer.get_by_id(c.id).visits == 1
    with pytest.raises(BalanceChanged):           # the one UPDATE still refuses points spent elsewhere
        note2 = sales.open_note()
        sales.add_item(note2, "LATT")
        sales.attach_customer(note2, c.id)
        sales.redeem(note2, 200)
        loyalty.move(c.id, -150, "adjust")
        sales.pay(note2)
    assert balance(c.id) == ledger_sum(c.id)


def test_a_program_changed_on_another_register_is_read_again_by_the_completion(sales, program):
    """Completing a sale reads the program's version with the note, for the note it opens: a change saved
    elsewhere (no forget_program in this process) is seen at once, without waiting for the recheck."""
    import datetime as dt
    import json

    from tui_pos.models import LoyaltyProgram
    c = customer()
    note = sales.open_note()
    sales.add_item(note, "MUG")
    sales.attach_customer(note, c.id)
    assert str(loyalty.program().tiers[0].multiplier) == "1"
    row = LoyaltyProgram.select().order_by(LoyaltyProgram.id.desc()).first()
    document = json.loads(row.document)
    document["tiers"][0]["multiplier"] = "3"        # what another register's manager saved meanwhile
    (LoyaltyProgram.update(document=json.dumps(document), updated_at=row.updated_at + dt.timedelta(seconds=1))
     .where(LoyaltyProgram.id == row.id).execute())
    assert str(loyalty.program().tiers[0].multiplier) == "1"   # within the recheck time: the cached one
    assert sales.pay(note).completed
    assert str(loyalty.program().tiers[0].multiplier) == "3"   # the completion read it again


def test_a_stamp_offer_and_a_section_rate_count_only_in_their_sales_modes(sales, demo, tmp_path):
    """Seed 004: "it's also possible to enable this offer on only one or several sales mode(s) and / or point(s)
    of sale", "more attractive loyalty offers" on "a specific sales mode such as your Webshop"."""
    from tui_pos.models import StampCard
    path = tmp_path / "web.toml"
    path.write_text(PROGRAM + textwrap.dedent('''
        [[offers]]
        name = "web stamps"
        section = "Coffee"
        count = 10
        reward_sku = "ESP"
        sales_modes = ["takeaway"]
    '''))
    bad = path.with_name("bad.toml")
    bad.write_text(path.read_text().replace('["takeaway"]', '["webshop"]'))
    with pytest.raises(ProgramError, match="'webshop' is not a sales mode of this store"):
        loyalty.import_program(bad, sales_modes=["counter", "takeaway"])
    loyalty.import_program(path, sales_modes=["counter", "takeaway"])
    c = customer()
    counter = sales.open_note()
    sales.add_item(counter, "3*LATT")
    sales.attach_customer(counter, c.id)
    first = sales.pay(counter).receipt_no
    assert not StampCard.select().where(StampCard.customer == c.id).exists()   # a counter sale: no stamps
    web = sales.open_note()
    sales.set_sales_mode(web, "takeaway")
    sales.add_item(web, "2*LATT")
    sales.attach_customer(web, c.id)
    sales.pay(web)
    assert StampCard.get(StampCard.customer == c.id).units == 2
    latt = next(ln for ln in returns.find(first).lines if ln.sku == "LATT")
    _refund(sales, first, {latt.line_id: 3})                          # never counted: nothing comes off
    assert StampCard.get(StampCard.customer == c.id).units == 2


def test_a_return_takes_back_the_tier_progress_of_what_it_returns(sales, program, manager_id):
    """Seed 000: tiers by points earned; a purchase returned was never earned. Bought to reach Silver (500) and
    returned: Bronze again, with Bronze's multiplier and no 10 % on the next note."""
    from tui_pos.services import loyalty_admin
    c = customer(points=400)                       # Bronze: 400 earned (an imported opening balance counts)
    note = sales.open_note()
    sales.add_item(note, "BEAN1")                  # 18.50 (Coffee: 2 points a dollar): +37
    sales.add_item(note, "5*BEAN2")                # 60.00: +120
    sales.attach_customer(note, c.id)
    sold = sales.pay(note, "cash", 10000).receipt_no
    assert customers.view(c.id).points_earned == 557 and loyalty.tier_of(557).name == "Silver"
    _refund(sales, sold, {ln.line_id: ln.sold_qty for ln in returns.find(sold).lines})
    after = customers.view(c.id)
    assert (after.points_balance, after.points_earned) == (400, 400)
    assert loyalty.tier_of(after.points_earned).name == "Bronze"
    again = sales.open_note()
    sales.add_item(again, "MUFB")
    sales.attach_customer(again, c.id)
    assert sales.view(again).lines[0].discount_percent_bp == 0           # no Silver 10 % any more
    # goodwill is not purchases: it moves the balance, not the tier, unless the manager says so
    loyalty_admin.adjust(c.id, 200, "sorry for the wait", manager_id=manager_id, max_points=1000)
    assert (customers.view(c.id).points_balance, customers.view(c.id).points_earned) == (600, 400)
    loyalty_admin.adjust(c.id, 150, "receipts the register missed", manager_id=manager_id, max_points=1000,
                         counts_toward_tier=True)
    assert customers.view(c.id).points_earned == 550 and loyalty.ledger_mismatches() == []


def test_doctor_tells_a_return_below_zero_from_a_broken_ledger(sales, program, db_url):
    """SPEC: "a return may take a balance below zero, a redemption never". Doctor says so (WARN), and FAILs a
    balance below zero that no return explains."""
    from tui_pos.config import from_dict
    from tui_pos.models import Customer
    from tui_pos.services import health
    c = customer()
    note = sales.open_note()
    sales.add_item(note, "5*BEAN2")                      # 60.00 of coffee: +120
    sales.attach_customer(note, c.id)
    sold = sales.pay(note, "cash", 6000).receipt_no
    spend = sales.open_note()
    sales.add_item(spend, "BEAN1")
    sales.attach_customer(spend, c.id)
    sales.redeem(spend, 100)
    sales.pay(spend, "cash", 5000)
    _refund(sales, sold, {ln.line_id: ln.sold_qty for ln in returns.find(sold).lines})
    assert balance(c.id) < 0 and loyalty.ledger_mismatches() == []
    checks = {ch.name: ch for ch in health.database_checks(from_dict({}), db_url)}
    assert checks["balances below 0 after returns"].level == "WARN" and "negative balances" not in checks
    assert checks["loyalty balances"].level == "OK"
    other = customer(name="Bea")
    Customer.update(points_balance=-5).where(Customer.id == other.id).execute()
    checks = {ch.name: ch for ch in health.database_checks(from_dict({}), db_url)}
    assert checks["negative balances"].level == "FAIL" and "without a return" in checks["negative balances"].detail


def test_the_refund_slip_prints_the_loyalty_block_by_the_receipts_rule(sales, program):
    """Seed 001: the receipt shows the balances "only when your client uses his points and not at each client's
    visit"; the refund slip follows the same rule, with what the return took back and gave back."""
    c = customer(points=300)
    note = sales.open_note()
    sales.add_item(note, "5*BEAN2")                      # 60.00 of coffee
    sales.attach_customer(note, c.id)
    sales.redeem(note, 200)                              # 2.00 off: points used
    sold = sales.pay(note, "cash", 6000).receipt_no
    earned = customers.view(c.id).points_balance - 100
    refund_no = _refund(sales, sold, {ln.line_id: ln.sold_qty for ln in returns.find(sold).lines})
    text = as_text(layout(sales.receipt(refund_no), 48, str))
    assert "REFUND" in text and "Points taken back" in text and "Points given back" in text
    block = sales.receipt(refund_no).loyalty
    assert (block.previous, block.used, block.earned, block.new) == (100 + earned, earned, 200, 300)
    plain = sales.open_note()                            # no points used: no block on either paper
    sales.add_item(plain, "BEAN2")
    sales.attach_customer(plain, c.id)
    second = sales.pay(plain, "cash", 2000).receipt_no
    refund_two = _refund(sales, second, {returns.find(second).lines[0].line_id: 1})
    assert sales.receipt(second).loyalty is None and sales.receipt(refund_two).loyalty is None


VALUE = textwrap.dedent('''
    [program]
    mode = "value"
    value_percent = "20"
    per_visit = 0
    [redemption]
    minimum = 100
    [[tiers]]
    name = "Bronze"
    threshold = "0.00"
    [[tiers]]
    name = "Gold"
    threshold = "50.00"
''')


def test_switching_to_value_mode_converts_balances_only_when_told_how(program, tmp_path):
    """Seed 002: points, "or ... an amount in pounds credited on the client's loyalty account". 417 points
    are not 4.17 unless the store says so: refused without --convert, converted with it, one movement each."""
    from tui_pos.models import AuditLog
    a = customer(points=417)
    b = customer(points=1000, name="Bea")
    path = tmp_path / "value.toml"
    path.write_text(VALUE)
    with pytest.raises(ProgramError, match="while 2 customers hold balances: say how they convert"):
        loyalty.import_program(path)
    assert loyalty.program().mode == "points" and balance(a.id) == 417          # nothing changed
    loyalty.import_program(path, convert=200)                                    # 200 points = 1.00
    assert loyalty.program().mode == "value"
    assert (balance(a.id), balance(b.id)) == (208, 500)                          # cents, rounded down
    assert (customers.view(a.id).points_earned, customers.view(b.id).points_earned) == (208, 500)
    assert loyalty.ledger_mismatches() == []
    moves = LoyaltyMovement.select().where(LoyaltyMovement.reason.contains("points to value mode"))
    assert sorted(m.points for m in moves) == [-500, -209]
    assert AuditLog.select().where(AuditLog.action == "loyalty.convert").count() == 1
    assert loyalty.tier_of(5000).name == "Gold" and loyalty.tier_of(4999).name == "Bronze"   # 50.00 is 5000 cents


def test_a_value_mode_tier_threshold_is_money(program):
    import tomllib

    from tui_pos.domain.loyalty import parse_program
    with pytest.raises(ProgramError, match='in value mode a threshold is money, like "20.00"'):
        parse_program(tomllib.loads(VALUE.replace('threshold = "50.00"', "threshold = 2000")))


def test_offers_in_progress_and_reached_with_their_orders(sales, demo, tmp_path):
    """Seed 001: "select the offers in progress of your client ... click on the magnifying glass to the right of
    your offer to see the detail of his orders", and "the offers your client has already received"."""
    from tui_pos.services import loyalty_admin
    path = tmp_path / "stamps.toml"
    path.write_text(PROGRAM + textwrap.dedent('''
        [[offers]]
        name = "10th coffee free"
        section = "Coffee"
        count = 10
        reward_sku = "ESP"
    '''))
    loyalty.import_program(path)
    c = customer()
    receipts = []
    for codes in (("4*LATT",), ("4*AMER",), ("4*CAPP",)):           # 12 coffees over three visits
        note = sales.open_note()
        for code in codes:
            sales.add_item(note, code)
        sales.attach_customer(note, c.id)
        receipts.append(sales.pay(note, "cash", 5000).receipt_no)
    progress, reached = loyalty_admin.offers(c.id)
    assert [(p.offer, p.units, p.count, p.receipts) for p in progress] == [("10th coffee free", 2, 10, (receipts[2],))]
    assert [(r.receipt_no, r.orders, r.taken_on) for r in reached] == [(receipts[2], tuple(receipts), "")]
    note = sales.open_note()
    sales.add_item(note, "ESP")
    sales.attach_customer(note, c.id)
    sales.set_offers(note, {}, {sales.reward_lines(note)[0].line_id: 1})
    taken = sales.pay(note).receipt_no
    progress, reached = loyalty_admin.offers(c.id)
    assert reached[0].taken_on == taken and progress[0].units == 2
    orders = loyalty_admin.offer_orders(reached[0].orders)
    assert [o.receipt_no for o in orders] == receipts and all(o.total_cents > 0 for o in orders)
