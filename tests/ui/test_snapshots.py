"""SVG snapshots of the sale and payment screens at 80x24 and 120x40.

Update after an intended change with `pytest tests/ui/test_snapshots.py --snapshot-update`.
"""

import pytest

SIZES = [(80, 24), (120, 40)]


async def signed_in(pilot):
    """The PIN is checked in the login screen's worker: wait for the sale screen."""
    from helpers import until

    from tui_pos.screens.sale import SaleScreen
    await until(pilot, lambda: isinstance(pilot.app.screen, SaleScreen))


async def settled(pilot):
    """Until the screen on top has no database call running or waiting (each runs in its worker: on a loaded
    CI machine one pause was not always enough), then a pause for the paint."""
    for _ in range(250):
        screen = pilot.app.screen
        if not getattr(screen, "db_busy", False) and not (hasattr(screen, "db_queue") and screen.db_queue()):
            break
        await pilot.pause(0.02)
    await pilot.pause()


async def ring_up(pilot):
    await pilot.press(*"1111", "enter")
    await signed_in(pilot)
    for code in ("3*ESP", "CAPP", "LATT", "2*MUFB"):
        pilot.app.screen.query_one("#code").value = code
        await pilot.press("enter")
    await settled(pilot)


class TestSaleScreen:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_sale_with_lines(self, snap_compare, make_app, size):
        assert snap_compare(make_app(), run_before=ring_up, terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_unknown_code_message(self, snap_compare, make_app, size):
        async def run_before(pilot):
            await ring_up(pilot)
            pilot.app.screen.query_one("#code").value = "NOPE"
            await pilot.press("enter")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestPaymentScreen:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_payment_after_card(self, snap_compare, make_app, size):
        async def run_before(pilot):
            await ring_up(pilot)
            await pilot.press("f10")
            await settled(pilot)
            await pilot.press("down", "5", "enter")
            await settled(pilot)
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestCustomerScreens:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_lookup_with_results(self, snap_compare, make_app, size):
        async def run_before(pilot):
            from tui_pos.services import customers
            customers.create({"name": "Ana Núñez", "phone": "6123-4567"}, region="PA")
            customers.create({"name": "Ana Ruiz", "phone": "6123-9999", "payment_status": "2"}, region="PA",
                             approver_id=2)
            await ring_up(pilot)
            await pilot.press("f2")
            await pilot.press(*"ana")
            await pilot.app.wait_printed()
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_form_with_errors(self, snap_compare, make_app, size):
        async def run_before(pilot):
            await ring_up(pilot)
            await pilot.press("f2")
            await pilot.press(*"Maria")
            await pilot.app.wait_printed()
            await pilot.press("ctrl+n")
            await pilot.pause()
            pilot.app.screen.query_one("#f-email").value = "maria-at-home"
            await pilot.press("ctrl+s")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestLoyaltyScreens:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_offer_tab(self, snap_compare, make_app, tmp_path, size):
        async def run_before(pilot):
            from tui_pos.models import Product
            from tui_pos.services import customers, loyalty
            path = tmp_path / "p.toml"
            path.write_text('[program]\nper_visit = 0\n')
            loyalty.import_program(path)
            Product.update(points_cost=150).where(Product.sku == "ESP").execute()
            Product.update(points_cost=900).where(Product.sku == "MUG").execute()
            c = customers.create({"name": "Ana", "cards": "LOY-9"}, region="PA")
            loyalty.opening_balance(c.id, 400)
            await ring_up(pilot)
            for code in ("MUG", "LOY-9"):
                pilot.app.screen.query_one("#code").value = code
                await pilot.press("enter")
            await pilot.press("f10")
            await settled(pilot)
            await pilot.press("space")
            await settled(pilot)
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestLoyaltyManagement:
    """The Loyalty screen's tabs and a customer's loyalty account, on fixed dates."""

    @staticmethod
    def seeded(make_app):
        import datetime as dt

        from tui_pos.domain.loyalty import parse_program, program_to_toml
        from tui_pos.models import LoyaltyMonth, LoyaltyMovement
        from tui_pos.services import customers, loyalty, loyalty_admin
        from tui_pos.services.demo import DEMO_PROGRAM
        app = make_app(demo_users=False)
        loyalty_admin.save_program_text(program_to_toml(parse_program(DEMO_PROGRAM)))
        for name, card, points in (("Ana Núñez", "LOY-1", 820), ("Luis Batista", "LOY-2", 2400),
                                   ("Eva Ríos", "LOY-3", 60)):
            c = customers.create({"name": name, "cards": card}, region="PA")
            loyalty.opening_balance(c.id, points)
        LoyaltyMovement.update(at=dt.datetime(2026, 11, 20, 10, 30)).execute()
        LoyaltyMonth.update(month="2026-11").execute()
        return app

    @staticmethod
    async def admin(pilot, tab):
        import datetime as dt

        from textual.widgets import TabbedContent

        from tui_pos.screens.loyalty_admin import LoyaltyAdmin
        app = pilot.app
        app.push_screen(LoyaltyAdmin(app.runtime.money, None, "R1", today=dt.date(2026, 11, 27)))
        await pilot.pause()
        for _ in range(100):
            if ("Enrolled" in str(app.screen.query_one("#stats-figures").render())
                    and app.screen.query_one("#program-text").text):   # the program is read in a worker too
                break
            await pilot.pause(0.02)
        app.screen.query_one(TabbedContent).active = tab
        await pilot.pause()

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_statistics(self, snap_compare, make_app, size):
        assert snap_compare(self.seeded(make_app), run_before=lambda p: self.admin(p, "tab-stats"), terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_program_settings(self, snap_compare, make_app, size):
        assert snap_compare(self.seeded(make_app), run_before=lambda p: self.admin(p, "tab-program"),
                            terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_customer_loyalty_tab(self, snap_compare, make_app, size):
        async def run_before(pilot):
            from tui_pos.models import Customer
            from tui_pos.screens.loyalty_admin import CustomerLoyalty
            ana = Customer.get(Customer.name == "Ana Núñez")
            pilot.app.push_screen(CustomerLoyalty(ana.id, None, "R1", 1000, money=pilot.app.runtime.money))
            await pilot.pause()
            for _ in range(250):     # the account is read in the screen's worker: a loaded CI was slower once
                if "Balance" in str(pilot.app.screen.query_one("#account-figures").render()) \
                        and not pilot.app.screen.db_busy:
                    break
                await pilot.pause(0.02)
            await pilot.pause()
        assert snap_compare(self.seeded(make_app), run_before=run_before, terminal_size=size)


class TestLinuxConsole:
    """The `console` theme (picked on TERM=linux) at the console's 80x25: 16 colours, single-line borders."""

    def test_sale(self, snap_compare, make_app):
        app = make_app(config={"ui": {"theme": "console"}})
        assert snap_compare(app, run_before=ring_up, terminal_size=(80, 25))

    def test_payment(self, snap_compare, make_app):
        async def run_before(pilot):
            await ring_up(pilot)
            await pilot.press("f10")
            await settled(pilot)
        app = make_app(config={"ui": {"theme": "console"}})
        assert snap_compare(app, run_before=run_before, terminal_size=(80, 25))

    def test_keys(self, snap_compare, make_app):
        async def run_before(pilot):
            await ring_up(pilot)
            await pilot.press("f1")
            await pilot.pause()
        app = make_app(config={"ui": {"theme": "console"}})
        assert snap_compare(app, run_before=run_before, terminal_size=(80, 25))


class TestMessagesScreen:
    def test_campaign_preview_at_80x24(self, snap_compare, make_app):
        async def run_before(pilot):
            from textual.widgets import Select, TextArea

            from tui_pos.services import customers
            customers.create({"name": "Ana", "mobile": "6123-4567", "sms_consent": True}, region="PA")
            await pilot.press(*"2222", "enter")
            await signed_in(pilot)
            await pilot.press("ctrl+g")
            await pilot.pause()
            await pilot.press("ctrl+t")
            await pilot.pause()
            pilot.app.screen.query_one("#campaign-channel", Select).value = "sms"
            pilot.app.screen.query_one("#campaign-text", TextArea).text = "Hola {name}: 2x1 today at {store}"
            await pilot.press("ctrl+p")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=(80, 24))
