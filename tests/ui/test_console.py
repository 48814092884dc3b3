"""The Linux console theme: picked on TERM=linux, overridable, and every screen drawn with glyphs its fonts have."""

import html
import re

import pytest

from tui_pos.widgets.console import theme_for, unsupported


def drawn(app) -> str:
    """The characters on screen, from the app's own screenshot."""
    return "".join(html.unescape(t) for t in re.findall(r">([^<]*)</text>", app.export_screenshot()))


@pytest.mark.parametrize("setting,term,expected", [
    ("auto", "linux", "console"), ("auto", "xterm-256color", "textual-dark"), ("auto", "", "textual-dark"),
    ("console", "xterm-256color", "console"), ("textual-light", "linux", "textual-light"),
])
def test_theme_is_picked_from_the_terminal_unless_configured(setting, term, expected):
    assert theme_for(setting, term) == expected


async def test_every_screen_on_the_console_uses_console_glyphs(make_app, monkeypatch):
    monkeypatch.setenv("TERM", "linux")
    app = make_app()
    async with app.run_test(size=(80, 25)) as pilot:
        assert app.theme == "console"
        await pilot.press(*"1111", "enter")
        await pilot.pause()
        for code in ("3*ESP", "CAPP"):
            app.screen.query_one("#code").value = code
            await pilot.press("enter")
        await pilot.pause()
        seen = {}
        for keys in [(), ("f1",), ("escape", "f2"), ("escape", "f3"), ("escape", "f10"), ("escape", "ctrl+e"),
                     ("escape", "ctrl+l", *"2222", "enter"), ("escape", "ctrl+g", *"2222", "enter"),
                     ("ctrl+t",)]:
            await pilot.press(*keys)
            await pilot.pause(0.3)
            seen[type(app.screen).__name__] = unsupported(drawn(app))
        assert set(seen) >= {"SaleScreen", "InfoDialog", "CustomerLookup", "ProductSearch", "PaymentScreen",
                             "DayScreen", "LoyaltyAdmin", "MessagesScreen"}
        assert all(not bad for bad in seen.values()), seen


async def test_the_default_theme_would_not_do_on_the_console(make_app, monkeypatch):
    """The check above can fail: Textual's default borders use glyphs the console lacks."""
    monkeypatch.setenv("TERM", "xterm-256color")
    app = make_app()
    async with app.run_test(size=(80, 25)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press(*"1111", "enter")
        await pilot.pause()
        assert unsupported(drawn(app)) & {"▔", "▁", "▊", "▎"}


def test_an_unknown_theme_is_refused_naming_the_key_and_the_themes(make_app):
    # issue 28 item 10: "an unknown `[ui] theme` [was] accepted silently (check [it] with ... the theme list)"
    from tui_pos.config import ConfigError
    with pytest.raises(ConfigError, match=r"ui\.theme = 'no-such-theme': expected .*textual-dark"):
        make_app(config={"ui": {"theme": "no-such-theme"}})
