"""The user's keymap: `[keys]` rebinds any binding by its id; the key bar and F1 show the user's keys
(issue 20, item 7)."""

import pytest
from helpers import until
from screen_text import screen_text

from tui_pos import userkeys
from tui_pos.cli import main
from tui_pos.screens.payment import PaymentScreen


async def test_a_rebound_key_works_and_the_bar_and_f1_say_it(make_app):
    # issue 20: "A user keymap: `[keys]` in config.toml rebinding any binding id, with the F1 help and footer
    # showing the user's keys."
    app = make_app(demo_users=False, config={"keys": {"sale": {"pay": "ctrl+y"}}})
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#code").value = "ESP"
        await pilot.press("enter")
        await pilot.pause()
        assert "^Y Pay" in screen_text(app) and "F10 Pay" not in screen_text(app)
        await pilot.press("f10")                         # the old key does nothing now
        await pilot.pause()
        assert not isinstance(app.screen, PaymentScreen)
        await pilot.press("ctrl+y")
        await until(pilot, lambda: isinstance(app.screen, PaymentScreen))
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert "^Y    Pay" in screen_text(app)


def test_a_bad_keymap_is_refused_in_one_line_naming_the_id(tmp_path, capsys):
    bad = {
        '[keys]\nsale.payy = "f9"\n': "keys.sale.payy: no binding has that id",
        '[keys]\nsale.pay = "f2"\n': "keys.sale.pay: 'f2' is already sale.customer's key on SaleScreen",
        '[keys]\nsale.pay = "ctrl+"\n': "keys.sale.pay = 'ctrl+': 'ctrl+' is not a key",
        '[keys]\nsale.pay = 3\n': "keys.sale.pay = 3: expected a key",
        '[keys]\nsale.pay = "ctrl+k"\n': "keys.sale.pay: 'ctrl+k' is the text field's (delete all to the right)",
    }
    for text, said in bad.items():
        path = tmp_path / "config.toml"
        path.write_text(text + f'[database]\nurl = "sqlite:///{tmp_path}/pos.db"\n')
        assert main(["--config", str(path), "keys"]) != 0
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_every_binding_has_an_id_and_the_defaults_do_not_clash():
    ids = userkeys.known()
    assert {"sale.pay", "sale.customer", "day.z", "dialog.cancel", "app.quit"} <= set(ids)
    assert userkeys.check({}) == {}
    assert userkeys.check({"sale.pay": "F10, Ctrl+Y"}) == {"sale.pay": "f10,ctrl+y"}
    with pytest.raises(ValueError, match="already"):
        userkeys.check({"sale.pay": "f12"})              # F12 is Parked
