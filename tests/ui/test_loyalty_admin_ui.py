"""Pilot tests of the Loyalty screen (statistics, report, program settings) and a customer's account."""

import datetime as dt

from helpers import until
from textual.widgets import TabbedContent

from tui_pos.models import AuditLog, Customer, LoyaltyMovement
from tui_pos.screens.customers import CustomerLookup
from tui_pos.screens.loyalty_admin import CustomerLoyalty, LoyaltyAdmin
from tui_pos.screens.sale import SaleScreen
from tui_pos.services import customers, loyalty, loyalty_admin
from tui_pos.services.demo import DEMO_PROGRAM


def seeded(make_app, demo_users=True):
    from tui_pos.domain.loyalty import parse_program, program_to_toml
    app = make_app(demo_users=demo_users)
    loyalty_admin.save_program_text(program_to_toml(parse_program(DEMO_PROGRAM)))
    for name, card, points in (("Ana Núñez", "LOY-1", 820), ("Luis Batista", "LOY-2", 2400), ("Eva Ríos", "LOY-3", 60)):
        c = customers.create({"name": name, "cards": card}, region="PA")
        loyalty.opening_balance(c.id, points)
    LoyaltyMovement.update(at=dt.datetime(2026, 11, 20, 10, 30)).execute()  # fixed dates for snapshots
    return app


def text(widget):
    return str(widget.render())


async def open_admin(pilot, pin="2222"):
    await pilot.press(*"1111", "enter")        # a cashier signs in
    await until(pilot, lambda: isinstance(pilot.app.screen, SaleScreen))   # the PIN is checked in a worker
    await pilot.press("ctrl+l")
    await pilot.pause()
    await pilot.press(*pin, "enter")
    await pilot.pause()


async def test_loyalty_screen_needs_a_manager_and_shows_statistics_and_report(make_app):
    app = seeded(make_app)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_admin(pilot, pin="1111")
        assert not isinstance(app.screen, LoyaltyAdmin)
        assert "not a manager's" in text(app.screen.query_one("#message"))
        await pilot.press("ctrl+l")
        await pilot.pause()
        await pilot.press(*"2222", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LoyaltyAdmin)
        await until(pilot, lambda: "Enrolled" in text(app.screen.query_one("#stats-figures")))
        figures = text(app.screen.query_one("#stats-figures"))
        assert "Enrolled 3 of 3" in figures and "3280 points" in figures and "$32.80" in figures
        tiers = text(app.screen.query_one("#stats-tiers"))
        assert "Gold" in tiers and "█" in tiers
        table = app.screen.query_one("#report-table")
        await until(pilot, lambda: table.row_count == 3)
        app.screen.query_one(TabbedContent).active = "tab-report"
        await pilot.pause()
        app.screen.query_one("#report-from").value = "2026-12-01"
        app.screen.query_one("#report-to").value = "2026-11-01"
        app.screen.query_one("#report-from").focus()
        await pilot.press("enter")
        await until(pilot, lambda: "before --from" in text(app.screen.query_one("#report-message")))
        assert table.row_count == 3


async def test_program_settings_refuse_bad_values_and_save_good_ones(make_app):
    app = seeded(make_app)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_admin(pilot)
        await pilot.press("ctrl+t", "ctrl+t")           # Statistics -> Report -> Program
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "tab-program"
        area = app.screen.query_one("#program-text")
        original = area.text
        area.text = original.replace('value = "1.00"', 'value = "0"', 1)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Not saved: redemption.value" in text(app.screen.query_one("#program-message"))
        assert loyalty.program().redeem_value_cents == 100
        area.text = original.replace("threshold = 2000", "threshold = 100")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "below the previous tier" in text(app.screen.query_one("#program-message"))
        area.text = original.replace('value = "1.00"', 'value = "1.25"', 1)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Saved" in text(app.screen.query_one("#program-message"))
        assert loyalty.program().redeem_value_cents == 125
        assert AuditLog.select().where(AuditLog.action == "loyalty.settings").count() == 2  # seeding + this save


async def test_customer_loyalty_tab_pages_the_ledger_and_adjusts_with_a_manager(make_app):
    app = seeded(make_app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"1111", "enter")
        await pilot.pause()
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press(*"Ana")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, CustomerLookup)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, CustomerLoyalty)
        assert "Balance 820" in text(app.screen.query_one("#account-figures"))
        assert "180 more points to Silver" not in text(app.screen.query_one("#account-figures"))  # 820 is Silver
        assert "1180 more points to Gold" in text(app.screen.query_one("#account-figures"))
        assert app.screen.query_one("#ledger").row_count == 1
        await pilot.press("ctrl+a")
        await pilot.pause()
        await pilot.press(*"5000", "enter")              # beyond max_adjustment
        await pilot.pause()
        await pilot.press(*"typo", "enter")
        await pilot.pause()
        await pilot.press("enter")                       # count toward the tier? No (goodwill)
        await pilot.pause()
        await pilot.press(*"2222", "enter")
        await pilot.pause()
        assert "max_adjustment = 1000" in text(app.screen.query_one("#account-message"))
        await pilot.press("ctrl+a")
        await pilot.pause()
        await pilot.press("minus", *"20", "enter")
        await pilot.pause()
        await pilot.press(*"returned voucher", "enter")
        await pilot.pause()
        await pilot.press("down", "enter")               # Yes: it counts toward the tier
        await pilot.pause()
        await pilot.press(*"2222", "enter")
        await pilot.pause()
        assert "balance is now 800" in text(app.screen.query_one("#account-message"))
        assert app.screen.query_one("#ledger").row_count == 2
    ana = Customer.get(Customer.name == "Ana Núñez")
    assert ana.points_balance == 800 and loyalty.ledger_mismatches() == []
    assert ana.points_earned == 800                      # the -20 counted toward the tier, as the manager said
    entry = AuditLog.select().where(AuditLog.action == "loyalty.adjust").get()
    assert entry.approved_by.name == "Marco"
