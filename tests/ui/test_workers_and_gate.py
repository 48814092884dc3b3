"""A screen's database calls run in a thread worker with one error handler; every PIN prompt is one gate."""

from __future__ import annotations

import threading

from helpers import until
from peewee import InterfaceError

from tui_pos.screens.login import LoginScreen
from tui_pos.screens.loyalty_admin import LoyaltyAdmin
from tui_pos.screens.sale import SaleScreen
from tui_pos.services.demo import demo_barcode


def message(app) -> str:
    return str(app.screen.query_one("#message").render())


async def test_a_scan_is_looked_up_off_the_ui_thread_and_fast_scans_keep_their_order(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        sales = app.runtime.sales
        threads: list[int] = []
        scan = sales.scan

        def recorded(note_id, code):
            threads.append(threading.get_ident())
            return scan(note_id, code)
        sales.scan = recorded
        try:
            for n in (1, 2, 3, 4):        # four scans at once: each waits its turn
                app.deliver_scan(demo_barcode(n), "test")
            await until(pilot, lambda: app.screen.query_one("#lines").row_count == 4)
        finally:
            del sales.scan
        assert threads and threading.main_thread().ident not in threads
        view = sales.view(app.screen.note_id)
        assert [ln.sku for ln in view.lines] == ["ESP", "DESP", "AMER", "CAPP"]


async def test_a_connection_lost_during_a_scan_in_the_worker_keeps_the_code_and_says_so(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, SaleScreen)
        await pilot.pause()
        sales = app.runtime.sales
        said: list[str] = []
        say = screen.say

        def heard(text: str, *, error: bool = False) -> None:
            said.append(text)
            say(text, error=error)
        screen.say = heard
        scan = sales.scan
        calls: list[str] = []

        def lost_once(note_id, code):
            calls.append(code)
            if len(calls) == 1:
                raise InterfaceError("connection already closed")   # what peewee raises for a dead connection
            return scan(note_id, code)
        sales.scan = lost_once
        try:
            app.deliver_scan("ESP", "test")
            await until(pilot, lambda: any("codes kept" in s for s in said))
            assert any(s.startswith("The database cannot be reached: nothing was lost.") for s in said)
            assert "The database cannot be reached: 1 codes kept, added when it is back. The note is safe." in said
            # the probe finds the database, and the kept code is added, in order
            await until(pilot, lambda: not app.db_down and screen.query_one("#lines").row_count == 1)
            await until(pilot, lambda: "The database is back: 1 kept codes added." in said)
        finally:
            del sales.scan
        assert calls == ["ESP", "ESP"]


async def sign_in(app, pilot, pin: str) -> None:
    assert isinstance(app.screen, LoginScreen)
    await pilot.press(*pin, "enter")
    await until(pilot, lambda: isinstance(app.screen, SaleScreen))


async def test_the_one_gate_refuses_a_wrong_pin_locks_and_lets_the_right_one_through(make_app):
    app = make_app(config={"security": {"pin_attempts": 3}})
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(app, pilot, "1111")                 # Ana, a cashier: Loyalty needs a manager
        sale = app.screen
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.screen.query_one("#answer") is not None
        await pilot.press(*"1111", "enter")               # a cashier's PIN: refused
        await until(pilot, lambda: "That PIN is not a manager's" in message(app))
        assert app.screen is sale
        await pilot.press("ctrl+l")
        await pilot.pause()
        await pilot.press(*"2222", "enter")               # Marco, a manager: the screen opens as his
        await until(pilot, lambda: isinstance(app.screen, LoyaltyAdmin))
        assert app.screen.user.name == "Marco"
        app.pop_screen()
        await pilot.pause()
        for _ in range(3):                                # wrong PINs: the prompts lock
            await pilot.press("ctrl+l")
            await pilot.pause()
            await pilot.press(*"4444", "enter")
            await until(pilot, lambda: app.screen is sale)
            await pilot.pause(0.2)
        await pilot.press("ctrl+l")
        await pilot.pause()
        await pilot.press(*"2222", "enter")               # even the right PIN waits now
        await until(pilot, lambda: "Too many wrong PINs" in message(app))
        assert app.screen is sale


async def test_a_refused_scan_gives_back_the_quantity_typed_before_it(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        field = app.screen.query_one("#code")
        field.value = "3*"
        app.deliver_scan("NOSUCHCODE", "test")
        await until(pilot, lambda: field.value == "3*" and "NOSUCHCODE" in message(app))
        assert app.screen.query_one("#lines").row_count == 0
