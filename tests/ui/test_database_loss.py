"""A register on PostgreSQL that loses its connection: keeps the note, says so, retries, pays once."""

import pytest

from tui_pos.bootstrap import build
from tui_pos.config import from_dict
from tui_pos.models import Note, NoteLine, Payment
from tui_pos.screens.payment import PaymentScreen

from helpers import until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(pg_proxy_url, tmp_path):
    from tui_pos.app import PosApp
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    url, proxy = pg_proxy_url
    database = bind(url)
    migrate(database)
    import tui_pos.services.demo as demo
    saved, demo.DEMO_USERS = demo.DEMO_USERS, []   # no users: no sign-in for this test
    try:
        seed_demo(with_loyalty=False)
    finally:
        demo.DEMO_USERS = saved
    database.close()
    cfg = from_dict({"database": {"url": url}, "printer": {"kind": "file", "path": str(tmp_path / "lp0")}})
    app = PosApp(build(cfg, allow_no_users=True))
    yield app, proxy
    if not db.is_closed():
        db.close()


def status(app):
    return str(app.screen_stack[1].query_one("#devices").render())


async def test_lost_connection_keeps_scans_and_completes_the_sale_once(pg_app):
    app, proxy = pg_app
    async with app.run_test(size=(100, 30)) as pilot:
        sale = app.screen
        sale.query_one("#code").value = "ESP"
        await pilot.press("enter")
        await pilot.pause()
        proxy.cut()                                         # the network to the server goes
        app.deliver_scan("CAPP", "test")                    # a scan: kept, not lost
        await pilot.pause()
        assert app.db_down and "DATABASE UNREACHABLE" in status(app)
        assert "codes kept" in str(sale.query_one("#message").render())
        app.deliver_scan("LATT", "test")
        await pilot.pause()
        assert sale.kept_codes == ["CAPP", "LATT"]
        proxy.start()                                       # back
        await until(pilot, lambda: not app.db_down)
        await until(pilot, lambda: sale.query_one("#lines").row_count == 3)
        assert "DATABASE UNREACHABLE" not in status(app)

        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        proxy.cut()
        await pilot.press("enter")                          # pay the rest in cash: the line is down
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen) and app.screen.pending is not None
        assert "taken when it is back, once" in str(app.screen.query_one("#pay-message").render())
        await pilot.press("enter")                          # pressing again does not pay twice
        await pilot.pause()
        proxy.start()
        await until(pilot, lambda: not isinstance(app.screen, PaymentScreen))
        assert "Paid: receipt R1-000001" in str(app.screen.query_one("#message").render())
        note = Note.get(Note.receipt_no == "R1-000001")
        assert [line.sku for line in NoteLine.select().where(NoteLine.note == note).order_by(NoteLine.id)] == [
            "ESP", "CAPP", "LATT"]
        assert Payment.select().where(Payment.note == note).count() == 1
        await app.wait_printed()
