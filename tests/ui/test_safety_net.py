"""A bug never shows a traceback to the cashier: it is logged with its traceback, the register carries on."""

import logging

from tui_pos.app import PosApp
from tui_pos.screens.sale import SaleScreen


async def test_unexpected_errors_are_logged_and_the_register_goes_on(make_app, monkeypatch, caplog):
    app = make_app(demo_users=False)
    monkeypatch.setattr(PosApp, "is_headless", property(lambda self: False))   # as on a real terminal

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a service")
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#code").value = "ESP"
        await pilot.press("enter")
        await pilot.pause()
        with caplog.at_level(logging.ERROR):
            # a service call that fails: a short message on the sale screen
            with monkeypatch.context() as m:
                m.setattr(app.runtime.sales, "add_item", broken)
                app.screen.query_one("#code").value = "CAPP"
                await pilot.press("enter")
                await pilot.pause()
            message = str(app.screen.query_one("#message").render())
            assert "Something went wrong; it was logged" in message and "RuntimeError" not in message
            assert app.screen.query_one("#code").value == "CAPP"      # what was typed is kept
            # a bug anywhere else in the app: a short notification, the register stays up
            with monkeypatch.context() as m:
                m.setattr(SaleScreen, "action_keys", broken)
                await pilot.press("f1")
                await pilot.pause()
            assert app.is_running
            notes = [n.message for n in app._notifications]
            assert any("Something went wrong and was logged" in n for n in notes)
            assert not any("Traceback" in n or "RuntimeError" in n for n in notes)
        await pilot.press("enter")                                   # the kept code goes in now
        await pilot.pause()
        assert app.runtime.sales.view(app.screen.note_id).summary.totals.line_count == 2
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert len(logged) == 2
