"""The PIN prompt takes PINs as `[security] pin_length` and users.PIN_MAX define them (issue 28 item 4:
"PINs of 4 to 8 digits, `[security] pin_length`"): digits only, at most 8, whatever is typed or pasted."""

from tui_pos.screens.login import LoginScreen
from tui_pos.screens.sale import SaleScreen
from tui_pos.services import users


async def test_the_pin_prompt_takes_at_most_8_digits_and_nothing_else(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, LoginScreen)
        pin = app.screen.query_one("#pin")
        assert pin.max_length == users.PIN_MAX == 8
        await pilot.press(*"12ab34;5678901234")
        await pilot.pause()
        assert pin.value == "12345678"                 # letters dropped, the burst cut at 8
        pin.value = ""
        await pilot.press(*"1111", "enter")           # a demo cashier's PIN: 4 digits still sign in
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
