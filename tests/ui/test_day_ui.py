"""Close of day on the register: the X report on screen, the Z with a manager, printed, backed up."""

import os

from helpers import until
from test_printing_ui import sell

from tui_pos.models import AuditLog, DayClose


def report_text(app):
    return str(app.screen.query_one("#day-report").render())


def message(app):
    return str(app.screen.query_one("#day-message").render())


async def test_x_then_z_with_a_manager_prints_and_backs_up(make_app, printer_file, tmp_path):
    app = make_app(config={"sale": {"opening_float": "20.00"}, "backup": {"dir": str(tmp_path / "daily")}})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"1111", "enter")                 # a cashier
        await pilot.pause()
        await sell(pilot, "CAPP")                           # 3.25 in cash
        await pilot.press("ctrl+e")
        await until(pilot, lambda: "X REPORT" in report_text(app))
        text = report_text(app)
        # issue 28: "the close of day is a blind count by default (the cashier types what is in the drawer
        # before seeing what was expected)"
        assert "Blind count" in text and "3.25" not in text and "23.25" not in text
        assert "Not a closing" in message(app) and "Count the drawer first" in message(app)
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press(*"23.00", "enter")                # cash counted
        await pilot.pause()
        await pilot.press(*"1111", "enter")                 # a cashier's PIN: refused, day still open
        await pilot.pause()
        assert "not a manager's" in message(app) and DayClose.select().count() == 0
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press(*"abc", "enter")                  # not an amount: said, nothing closed
        await pilot.pause()
        assert "letters" in message(app)
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press(*"23.00", "enter")
        await pilot.pause()
        await pilot.press(*"2222", "enter")                 # the manager
        await until(pilot, lambda: "Day closed" in message(app))
        text = report_text(app)
        assert "Z REPORT #1" in text and "Counted" in text and "Short" in text and "0.25" in text
        assert "daily backup written to" in message(app)
        await app.wait_printed()
        await pilot.press("f5")                             # the next day starts empty
        await until(pilot, lambda: "X REPORT" in report_text(app) and "Blind count" in report_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "SaleScreen"
    z = DayClose.get()
    assert (z.number, z.counted_cents, z.expected_cents) == (1, 2300, 2325)
    assert AuditLog.select().where(AuditLog.action == "day.close").count() == 1
    assert b"Z REPORT #1" in printer_file.read_bytes()
    assert len(os.listdir(tmp_path / "daily")) == 1


async def test_a_manager_sees_the_expected_cash_and_the_table_can_show_it_to_cashiers(make_app):
    app = make_app(config={"sale": {"opening_float": "20.00"}})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"2222", "enter")                 # the manager
        await pilot.pause()
        await sell(pilot, "CAPP")
        await pilot.press("ctrl+e")
        await until(pilot, lambda: "X REPORT" in report_text(app))
        assert "Sales (1)" in report_text(app) and "23.25" in report_text(app)
    app = make_app(config={"sale": {"opening_float": "20.00"}, "permissions": {"expected_cash": "cashier"}})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"1111", "enter")                 # a cashier, with [permissions] expected_cash
        await pilot.pause()
        await pilot.press("ctrl+e")
        await until(pilot, lambda: "X REPORT" in report_text(app))
        assert "23.25" in report_text(app) and "Blind count" not in report_text(app)
