"""Pilot tests of F4, the Offer tab and the receipt's loyalty block."""

import textwrap

import pytest

from tui_pos.models import Product
from tui_pos.screens.loyalty import OfferScreen, RedeemDialog
from tui_pos.screens.payment import PaymentScreen
from tui_pos.screens.sale import SaleScreen
from tui_pos.services import customers, loyalty

PROGRAM = textwrap.dedent('''
    [program]
    per_visit = 0
    [redemption]
    points = 100
    value = "1.00"
    minimum = 100
    presets = [{ points = 500, value = "6.00" }, { points = 150, value = "1.50" }]
''')


@pytest.fixture
def loyal_app(make_app, tmp_path):
    def make():
        app = make_app(demo_users=False)
        path = tmp_path / "p.toml"
        path.write_text(PROGRAM)
        loyalty.import_program(path)
        Product.update(points_cost=150).where(Product.sku == "ESP").execute()
        c = customers.create({"name": "Ana", "cards": "LOY-9"}, region="PA")
        loyalty.opening_balance(c.id, 820)
        return app
    return make


async def type_code(pilot, text):
    pilot.app.screen.query_one("#code").value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_f4_enter_redeems_the_most_and_presets(loyal_app, printer_file):
    app = loyal_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "MUG")        # 8.99
        await type_code(pilot, "LOY-9")
        assert "820" in str(app.screen.query_one("#customer").render())
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, RedeemDialog)
        assert "820 points, worth $8.00" in str(app.screen.query_one("#redeem-info").render())
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        assert app.runtime.sales.summary(app.screen.note_id).totals.redeemed_cents == 800
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("2")                 # preset 2: 150 points, 1.50 off
        await pilot.pause()
        assert app.runtime.sales.summary(app.screen.note_id).totals.redeemed_cents == 150
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("tab", *"900", "enter")   # more than the balance: refused, dialog stays
        await pilot.pause()
        assert isinstance(app.screen, RedeemDialog)
        assert "more than the balance" in str(app.screen.query_one("#redeem-message").render())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f10")              # MUG has no points cost: straight to payment
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_printed()
        await pilot.pause()
    data = printer_file.read_bytes()
    for label in (b"Previous balance", b"Points used", b"Points earned", b"New balance"):
        assert label in data
    assert b"820" in data and b"150" in data


async def test_offer_tab_space_toggles_and_enter_validates(loyal_app, printer_file):
    app = loyal_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "3*ESP")
        await type_code(pilot, "LOY-9")
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, OfferScreen)
        await pilot.press("space", "space")       # two units Offered
        await pilot.pause()
        assert "Points left: 520" in str(app.screen.query_one("#offer-left").render())
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        assert "$1.50" in str(app.screen.query_one("#pay-figures").render())
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_printed()
        await pilot.pause()
    data = printer_file.read_bytes()
    assert b"Offered" in data and b"Points used" in data


async def test_offer_tab_escape_leaves_without_offering(loyal_app):
    app = loyal_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        await type_code(pilot, "LOY-9")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("space", "escape")
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        assert app.runtime.sales.view(app.screen.note_id).lines[0].offered_qty == 0


async def test_f4_without_customer_says_so(loyal_app):
    app = loyal_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        assert "Attach a customer first" in str(app.screen.query_one("#message").render())


async def test_offer_tab_gives_a_stamp_reward(make_app, tmp_path, printer_file):
    from tui_pos.models import StampCard
    app = make_app(demo_users=False)
    path = tmp_path / "s.toml"
    path.write_text('[program]\nper_visit = 0\n[[offers]]\nname = "Coffee card"\nsection = "Coffee"\n'
                    'count = 10\nreward_sku = "LATT"\n')
    loyalty.import_program(path)
    c = customers.create({"name": "Stamp", "cards": "LOY-5"}, region="PA")
    StampCard.create(customer=c.id, offer="Coffee card", units=4, rewards=1)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "LATT")
        await type_code(pilot, "LOY-5")
        assert "Coffee card 4/10 +1" in str(app.screen.query_one("#customer").render())
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, OfferScreen)
        await pilot.press("space", "enter")
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_printed()
        await pilot.pause()
    card = StampCard.get(StampCard.customer == c.id)
    assert (card.units, card.rewards) == (4, 0)
    assert b"Offered" in printer_file.read_bytes()


async def test_ctrl_o_updates_what_the_note_earns_and_says_why_it_earns_nothing(make_app, tmp_path):
    """Seed 004: a program enabled "on only one or several sales mode(s)". The panel follows Ctrl+O at once."""
    from screen_text import screen_text
    app = make_app(demo_users=False)
    path = tmp_path / "p.toml"
    path.write_text(PROGRAM.replace("per_visit = 0", 'per_visit = 0\nsales_modes = ["counter"]'))
    loyalty.import_program(path)
    customers.create({"name": "Ana", "cards": "LOY-9"}, region="PA")
    async with app.run_test(size=(80, 24)) as pilot:
        await type_code(pilot, "3*CAPP")
        await type_code(pilot, "LOY-9")
        assert "This note +9" in screen_text(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("down", "enter")                    # takeaway
        await pilot.pause()
        shown = screen_text(app)
        assert "takeaway notes earn" in shown and "This note" not in shown
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("enter")                            # counter again
        await pilot.pause()
        assert "This note +9" in screen_text(app)


async def test_value_mode_shows_money_on_the_panel_and_in_f4(make_app, tmp_path):
    """Seed 002: "with value ... every 1 euro is a reward of 0.20": the balance is money, and every place that
    shows it shows money (no points, no points rate)."""
    from screen_text import screen_text
    app = make_app(demo_users=False)
    path = tmp_path / "v.toml"
    path.write_text('[program]\nmode = "value"\nvalue_percent = "20"\nper_visit = 0\n[redemption]\nminimum = 100\n')
    loyalty.import_program(path)
    c = customers.create({"name": "Ana", "cards": "LOY-9"}, region="PA")
    loyalty.opening_balance(c.id, 417)
    async with app.run_test(size=(80, 24)) as pilot:
        await type_code(pilot, "BEAN1")                       # 18.50: 20 % is 3.70
        await type_code(pilot, "LOY-9")
        shown = screen_text(app)
        assert "Balance: $4.17" in shown and "This note +$3.70" in shown, shown
        await pilot.press("f4")
        await pilot.pause()
        shown = screen_text(app)
        assert "Use the balance" in shown and "Available: $4.17" in shown and "points" not in shown.split(
            "Use the balance")[1].split("Enter")[0], shown
        await pilot.press("tab", *"2.50", "enter")
        await pilot.pause()
        assert "Using $2.50" in screen_text(app)


async def test_the_customers_offers_open_their_orders_at_80x24(make_app, tmp_path):
    """Seed 001: offers in progress and reached, and the magnifying glass: "see the detail of his orders"."""
    from screen_text import screen_text

    from tui_pos.screens.loyalty_admin import CustomerLoyalty
    from tui_pos.services.sales import SaleService
    app = make_app(demo_users=False)
    path = tmp_path / "s.toml"
    path.write_text(PROGRAM + '\n[[offers]]\nname = "5th coffee"\nsection = "Coffee"\ncount = 5\nreward_sku = "ESP"\n')
    loyalty.import_program(path)
    c = customers.create({"name": "Ana", "cards": "LOY-9"}, region="PA")
    sales = SaleService("R1")
    note = sales.open_note()
    sales.add_item(note, "6*LATT")
    sales.attach_customer(note, c.id)
    receipt = sales.pay(note, "cash", 5000).receipt_no
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(CustomerLoyalty(c.id, None, "R1", 1000, money=app.runtime.money))
        await pilot.pause()
        shown = screen_text(app)
        assert "In progress  5th coffee  1/5" in shown and "Reached      5th coffee" in shown, shown
        listing = app.screen.query_one("#account-offers")
        listing.focus()
        listing.highlighted = 1                                # the reached one
        await pilot.press("enter")
        await pilot.pause()
        shown = screen_text(app)
        assert "5th coffee: reached on" in shown and receipt in shown and "$21.00" in shown, shown
