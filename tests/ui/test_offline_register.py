"""A register on PostgreSQL that keeps selling when the server goes (issue 24, docs/offline.md): the real app,
its replica built at start, the network cut by a TCP relay mid-note; the header says OFFLINE, the note goes on,
a sale is paid and printed offline, and when the server is back the sale is on it once."""

import time

import pytest
from helpers import until

from tui_pos.bootstrap import build
from tui_pos.config import from_dict
from tui_pos.models import Note, NoteLine, Payment, db
from tui_pos.screens.loyalty import OfferScreen
from tui_pos.screens.payment import PaymentScreen

pytestmark = pytest.mark.postgres


@pytest.fixture
def offline_app(pg_proxy_url, tmp_path):
    from tui_pos.app import PosApp
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    url, proxy = pg_proxy_url
    database = bind(url)
    migrate(database)
    import tui_pos.services.demo as demo
    saved, demo.DEMO_USERS = demo.DEMO_USERS, []   # no users: no sign-in for this test
    try:
        seed_demo(with_loyalty=True)
    finally:
        demo.DEMO_USERS = saved
    database.close()
    cfg = from_dict({"database": {"url": url}, "printer": {"kind": "file", "path": str(tmp_path / "lp0")},
                     "offline": {"replica": str(tmp_path / "replica.sqlite"), "refresh_every": 1}})
    runtime = build(cfg, allow_no_users=True)
    app = PosApp(runtime)
    yield app, proxy, runtime.sales.offline.server
    db.initialize(runtime.sales.offline.server)
    if not db.is_closed():
        db.close()


def header(app):
    return str(app.screen_stack[1].query_one("#devices").render())


def message(app):
    return str(app.screen_stack[1].query_one("#message").render())


async def test_the_register_sells_offline_mid_note_and_the_sale_reaches_the_server_once(offline_app, monkeypatch):
    """Issue 24 item 1: "When the server is unreachable ... the register switches to it within a second, says
    so in the header (`OFFLINE: 3 sales to send`), and goes on: scan, attach by card or phone, ... pay, print
    the receipt (its number from the register's own gapless sequence)"."""
    app, proxy, server = offline_app
    said = []
    async with app.run_test(size=(80, 24)) as pilot:
        sale = app.screen
        shown = sale.say

        def say(text, *, error=False):
            said.append(text)
            shown(text, error=error)
        monkeypatch.setattr(sale, "say", say)
        await until(pilot, lambda: app.offline.ready(), timeout=20)     # the replica, built at start
        sale.query_one("#code").value = "ESP"
        await pilot.press("enter")
        await until(pilot, lambda: sale.query_one("#lines").row_count == 1)
        server_note = sale.note_id
        proxy.cut()                                   # the network goes, mid-note
        cut = time.monotonic()
        app.deliver_scan("CAPP", "test")              # the call that finds it gone
        await until(pilot, lambda: "OFFLINE" in header(app), timeout=5)
        switched = time.monotonic() - cut
        await until(pilot, lambda: not app.switching and sale.query_one("#lines").row_count == 2)
        print(f"offline {switched * 1000:.0f} ms after the cut")
        assert switched < 1.0
        assert "OFFLINE: 0 sales to send" in header(app)
        assert "OFFLINE: the note goes on on this register: 1 line." in said   # then the kept CAPP
        app.deliver_scan("LOY-0001", "test")          # attach by card, from the replica
        await until(pilot, lambda: "Ana" in str(sale.query_one("#customer").render()))
        await pilot.press("f10")                      # Ana can afford an offered product: the Offer tab first
        await until(pilot, lambda: isinstance(app.screen, OfferScreen))
        await pilot.press("enter")                    # nothing offered: on to the payment
        await until(pilot, lambda: isinstance(app.screen, PaymentScreen)
                    and "TOTAL" in str(app.screen.query_one("#pay-figures").render()))
        await pilot.press("enter")                    # the rest in cash
        await until(pilot, lambda: "Paid: receipt R1-000001" in message(app))
        await until(pilot, lambda: "OFFLINE: 1 sale to send" in header(app), timeout=5)
        await app.wait_printed()
        assert app.printed and app.printed[-1] == "R1-000001"
        sale.query_one("#code").value = "LATT"        # the next note, still offline
        await pilot.press("enter")
        await until(pilot, lambda: sale.query_one("#lines").row_count == 1)
        proxy.start()                                 # the server is back
        await until(pilot, lambda: not app.selling_offline and not app.switching, timeout=10)
        await until(pilot, lambda: "OFFLINE" not in header(app))
        assert "The server is back: the note goes on there: 1 line." in said
        with db.routed(server, fresh=True):
            note = Note.get(Note.receipt_no == "R1-000001")
            assert note.uid and [ln.sku for ln in NoteLine.select().where(NoteLine.note == note)
                                 .order_by(NoteLine.id)] == ["ESP", "CAPP"]
            assert Payment.select().where(Payment.note == note).count() == 1
            assert Note.get_by_id(server_note).status == "cancelled"     # the note it went on from
            assert [ln.sku for ln in NoteLine.select().where(NoteLine.note == sale.note_id)] == ["LATT"]
        sale.query_one("#code").value = "ESP"         # and the register goes on, online
        await pilot.press("enter")
        await until(pilot, lambda: sale.query_one("#lines").row_count == 2)


async def test_a_cut_mid_pay_goes_on_offline_and_the_sale_is_made_once(offline_app, monkeypatch):
    """Issue 24's tests: "cut mid-note, mid-pay and mid-sync". The payment never reached the server: the
    payment screen closes, the note goes on offline and is paid there; the note left on the server is
    cancelled when the journal reaches it."""
    app, proxy, server = offline_app
    async with app.run_test(size=(80, 24)) as pilot:
        sale = app.screen
        await until(pilot, lambda: app.offline.ready(), timeout=20)
        sale.query_one("#code").value = "CAPP"
        await pilot.press("enter")
        await until(pilot, lambda: sale.query_one("#lines").row_count == 1)
        server_note = sale.note_id
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, PaymentScreen)
                    and "TOTAL" in str(app.screen.query_one("#pay-figures").render()))
        proxy.cut()
        await pilot.press("enter")                    # the payment's call finds the server gone
        await until(pilot, lambda: not isinstance(app.screen, PaymentScreen) and not app.switching, timeout=5)
        assert "OFFLINE" in header(app) and sale.on_replica and sale.left_on_server == server_note
        await until(pilot, lambda: sale.query_one("#lines").row_count == 1)
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, PaymentScreen)
                    and "TOTAL" in str(app.screen.query_one("#pay-figures").render()))
        await pilot.press("enter")
        await until(pilot, lambda: "Paid: receipt R1-000001" in message(app))
        proxy.start()
        await until(pilot, lambda: not app.selling_offline and not app.switching, timeout=10)
        with db.routed(server, fresh=True):
            paid = list(Note.select().where(Note.status == "paid"))
            assert [n.receipt_no for n in paid] == ["R1-000001"] and paid[0].carried_from == server_note
            assert Note.get_by_id(server_note).status == "cancelled"
            assert Payment.select().count() == 1


async def test_an_idle_register_goes_offline_by_itself_when_the_server_goes(offline_app):
    """The replica's refresh (every [offline] refresh_every s) finds the server gone: the header says OFFLINE
    before the next scan, and the note on screen is already on the replica."""
    app, proxy, server = offline_app
    async with app.run_test(size=(80, 24)) as pilot:
        sale = app.screen
        await until(pilot, lambda: app.offline.ready(), timeout=20)
        sale.query_one("#code").value = "ESP"
        await pilot.press("enter")
        await until(pilot, lambda: sale.query_one("#lines").row_count == 1)
        proxy.cut()
        await until(pilot, lambda: "OFFLINE" in header(app) and sale.on_replica and not app.switching, timeout=10)
        sale.query_one("#code").value = "CAPP"
        await pilot.press("enter")
        await until(pilot, lambda: sale.query_one("#lines").row_count == 2)
        proxy.start()
        await until(pilot, lambda: not app.selling_offline and not app.switching, timeout=10)
