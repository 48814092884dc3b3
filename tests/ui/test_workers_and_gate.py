"""A screen's database calls run in a thread worker with one error handler; every PIN prompt is one gate."""

from __future__ import annotations

import threading

from helpers import until
from peewee import InterfaceError

from tui_pos.screens.gate import ask_approval
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


def off_the_ui_thread(monkeypatch, owner, name: str) -> list[int]:
    """Wrap `owner.name` so that each call notes the thread it runs on."""
    threads: list[int] = []
    real = getattr(owner, name)

    def noted(*args, **kwargs):
        threads.append(threading.get_ident())
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, noted)
    return threads


def says(app, selector: str, words: str) -> bool:
    """The screen on top has the widget, and it says `words`."""
    found = app.screen.query(selector)
    return bool(found) and words in str(found.first().render())


def all_off_the_ui_thread(threads: list[int]) -> bool:
    return bool(threads) and threading.main_thread().ident not in threads


async def test_the_gate_and_the_apps_own_calls_run_off_the_ui_thread(make_app, monkeypatch):
    from tui_pos.services import audit, loyalty_admin, printing, users
    app = make_app()
    exist = off_the_ui_thread(monkeypatch, users, "users_exist")
    audited = off_the_ui_thread(monkeypatch, audit, "record")
    drawer = off_the_ui_thread(monkeypatch, printing, "record_drawer_open")
    program = off_the_ui_thread(monkeypatch, loyalty_admin, "program_text")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(app, pilot, "2222")                 # Marco, a manager: the sign-in is audited in a worker
        await until(pilot, lambda: all_off_the_ui_thread(audited))
        await pilot.press("ctrl+l")                       # the program is read in the screen's worker
        await until(pilot, lambda: isinstance(app.screen, LoyaltyAdmin) and all_off_the_ui_thread(program))
        app.pop_screen()
        await pilot.pause()
        exist.clear()
        sale = app.screen                                 # nobody named: the gate asks whether there are users
        ask_approval(sale, "close_day", lambda person: None, say=lambda text, error: None, user=None)
        await until(pilot, lambda: all_off_the_ui_thread(exist) and app.screen.query("#answer"))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is sale)
        app.open_drawer(None)                             # the drawer's record
        await until(pilot, lambda: all_off_the_ui_thread(drawer))
        audited.clear()
        app.sign_out()                                    # the sign-out's record
        await until(pilot, lambda: isinstance(app.screen, LoginScreen) and all_off_the_ui_thread(audited))
        exist.clear()
        app.action_request_quit()                         # nobody signed in: quitting asks whether there are users
        await until(pilot, lambda: all_off_the_ui_thread(exist) and app.screen.query("#answer"))


async def test_a_customers_history_and_loyalty_account_are_read_off_the_ui_thread(make_app, monkeypatch):
    from tui_pos.screens.customers import CustomerDetail
    from tui_pos.screens.loyalty_admin import CustomerLoyalty
    from tui_pos.services import customers, loyalty_admin, messaging
    app = make_app(demo_users=False)
    ana = customers.create({"name": "Ana", "mobile": "6123-4567"}, region="PA")
    detail = off_the_ui_thread(monkeypatch, customers, "detail")
    outbox = off_the_ui_thread(monkeypatch, messaging, "outbox")
    account = off_the_ui_thread(monkeypatch, loyalty_admin, "account")
    ledger = off_the_ui_thread(monkeypatch, loyalty_admin, "ledger_page")
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(CustomerDetail(ana.id, app.runtime.money, lambda number: number))
        await until(pilot, lambda: says(app, "#detail-figures", "Total spent"))
        assert all_off_the_ui_thread(detail) and all_off_the_ui_thread(outbox)
        assert "Ana" in str(app.screen.query_one("#detail-title").render())
        app.pop_screen()
        app.push_screen(CustomerLoyalty(ana.id, None, "R1", 500))
        await until(pilot, lambda: isinstance(app.screen, CustomerLoyalty)
                    and says(app, "#account-message", "Page 1 of 1"))
        assert all_off_the_ui_thread(account) and all_off_the_ui_thread(ledger)


async def test_the_loyalty_program_messages_and_day_report_calls_run_off_the_ui_thread(make_app, monkeypatch):
    from textual.widgets import TabbedContent, TextArea

    from tui_pos.domain.loyalty import parse_program, program_to_toml
    from tui_pos.screens.day import DayScreen
    from tui_pos.screens.messages import MessagesScreen
    from tui_pos.services import customers, loyalty_admin, messaging
    from tui_pos.services.dayclose import DayPlan
    from tui_pos.services.demo import DEMO_PROGRAM
    app = make_app(demo_users=False)
    loyalty_admin.save_program_text(program_to_toml(parse_program(DEMO_PROGRAM)))
    ana = customers.create({"name": "Ana", "mobile": "6123-4567", "sms_consent": True}, region="PA")
    messaging.queue(ana.id, "sms", "tier", "tier:ana", {"tier": "Gold"})
    saved = off_the_ui_thread(monkeypatch, loyalty_admin, "save_program_text")
    preview = off_the_ui_thread(monkeypatch, messaging, "preview")
    send = off_the_ui_thread(monkeypatch, messaging, "send_campaign")
    retry = off_the_ui_thread(monkeypatch, messaging, "retry")
    queued = off_the_ui_thread(monkeypatch, DayPlan, "queue_print")
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(LoyaltyAdmin(app.runtime.money, None, "R1"))
        await until(pilot, lambda: isinstance(app.screen, LoyaltyAdmin) and app.screen.query("#program-text")
                    and app.screen.query_one("#program-text", TextArea).text)
        app.screen.query_one(TabbedContent).active = "tab-program"
        await pilot.pause()
        app.screen.action_save()
        await until(pilot, lambda: "Saved" in str(app.screen.query_one("#program-message").render()))
        assert all_off_the_ui_thread(saved)
        app.pop_screen()
        app.push_screen(MessagesScreen(app.runtime.messages.settings, None))
        await until(pilot, lambda: isinstance(app.screen, MessagesScreen) and app.screen.query("#outbox")
                    and app.screen.query_one("#outbox").row_count == 1)
        screen = app.screen
        screen.action_retry()                             # queued, not failed: said as the service says it
        await until(pilot, lambda: all_off_the_ui_thread(retry))
        screen.query_one("#campaign-text", TextArea).text = "Hello {name}"
        screen.action_preview()
        await until(pilot, lambda: screen.previewed is not None)
        assert all_off_the_ui_thread(preview)
        screen.action_send()
        await pilot.pause()
        app.screen.dismiss("send")
        await until(pilot, lambda: "Campaign" in str(screen.query_one("#messages-message").render()))
        assert all_off_the_ui_thread(send)
        app.pop_screen()
        app.push_screen(DayScreen(app.runtime.money, None, app.runtime.day))
        await until(pilot, lambda: isinstance(app.screen, DayScreen) and app.screen.report is not None)
        app.screen.action_print()
        await until(pilot, lambda: says(app, "#day-message", "Sent to the printer."))
        assert all_off_the_ui_thread(queued)


async def test_the_product_search_runs_off_the_ui_thread_and_shows_only_the_latest_answer(make_app, monkeypatch):
    from tui_pos.screens.search import ProductSearch
    from tui_pos.services import catalog
    app = make_app(demo_users=False)
    searched = off_the_ui_thread(monkeypatch, catalog, "search")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ProductSearch))
        await pilot.press(*"cappu")                     # five searches asked in a row: the last one is shown
        await until(pilot, lambda: app.screen.query_one("#results").option_count == 1)
        assert all_off_the_ui_thread(searched)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ProductSearch))
        await until(pilot, lambda: [ln.sku for ln in app.runtime.sales.view(app.screen.note_id).lines] == ["CAPP"])


async def test_enter_on_a_payment_screen_still_reading_its_figures_pays_once(make_app):
    """A stuck CI run: Enter pressed while the payment screen's figures were still being read was dropped,
    and the cashier saw "Enter: pay" do nothing. Now it waits its turn; Enter three times pays once."""
    from tui_pos.screens.payment import PaymentScreen
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        sales = app.runtime.sales
        app.deliver_scan("ESP", "test")
        await until(pilot, lambda: app.screen.query_one("#lines").row_count == 1)
        note_id = app.screen.note_id
        release = threading.Event()
        summary = sales.summary

        def slow(nid):
            release.wait(5)          # the figures are slow to come: the cashier does not wait for them
            return summary(nid)
        sales.summary = slow
        try:
            await pilot.press("f10")
            await until(pilot, lambda: isinstance(app.screen, PaymentScreen))
            await pilot.press("enter", "enter", "enter")
            release.set()
            await until(pilot, lambda: not isinstance(app.screen, PaymentScreen))
        finally:
            del sales.summary
        assert "Paid: receipt R1-000001" in message(app)
        payments = sales.summary(note_id)
        assert payments.paid_cents == payments.totals.total_cents == 150
