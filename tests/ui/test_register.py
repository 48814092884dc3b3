"""Pilot tests: the real app, driven by keys."""


from helpers import until

from tui_pos.screens.login import LoginScreen
from tui_pos.screens.payment import PaymentScreen
from tui_pos.screens.sale import SaleScreen
from tui_pos.services.demo import demo_barcode


async def type_code(pilot, text):
    """Type into the focused code field the way a scanner does, then Enter."""
    pilot.app.screen.query_one("#code").value = text
    await pilot.press("enter")
    await pilot.pause()


async def sign_in(pilot, pin="1111"):
    await pilot.press(*pin, "enter")
    await pilot.pause()
    # the PIN is checked in the login screen's worker: wait for its answer (a wrong PIN stays on the login)
    await until(pilot, lambda: not isinstance(pilot.app.screen, LoginScreen)
                or "not known" in str(pilot.app.screen.query_one("#login-message").render())
                or "Too many" in str(pilot.app.screen.query_one("#login-message").render()), timeout=5)


def message(app):
    return str(app.screen.query_one("#message").render())


async def test_login_scan_pay_prints_receipt(make_app, printer_file):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, LoginScreen)
        await sign_in(pilot, "0000")
        assert isinstance(app.screen, LoginScreen)
        await sign_in(pilot)
        assert isinstance(app.screen, SaleScreen)
        await type_code(pilot, demo_barcode(1))
        await type_code(pilot, "2*CAPP")
        await type_code(pilot, demo_barcode(1))
        table = app.screen.query_one("#lines")
        assert table.row_count == 2
        assert "TOTAL" in str(app.screen.query_one("#totals").render())
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        await pilot.press(*"20", "enter")
        await pilot.pause()
        await app.wait_printed()
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        assert "R1-000001" in message(app) and "Change $10.50" in message(app)
        assert app.screen.query_one("#lines").row_count == 0
    data = printer_file.read_bytes()
    assert data.startswith(b"\x1b@")
    assert b"Espresso" in data and b"Cappuccino" in data and b"TOTAL" in data
    assert b"Change" in data and b"10.50" in data
    assert b"\x1dkI\x0b{BR1-000001" in data       # the receipt number as a CODE128 barcode
    assert b"\x1bp\x0022" in data                  # cash: the drawer kicks
    assert data.endswith(b"\x1bd\x06\x1dV\x00") or b"\x1dV\x00" in data


async def test_bad_input_keeps_the_note(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        for bad, fragment in [("NOPE", "Unknown code NOPE"), ("0*ESP", "at least 1"),
                              ("10000*ESP", "more than 9999")]:
            await type_code(pilot, bad)
            assert fragment in message(app)
            assert app.screen.query_one("#code").value == bad  # what was typed stays, to fix it
            assert app.screen.query_one("#lines").row_count == 1
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press(*"1x", "enter")
        await pilot.pause()
        assert "letters" in str(app.screen.query_one("#pay-message").render())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)


async def test_split_payment_by_card_then_cash(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "3*CAPP")  # 9.75
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("down")  # card
        await pilot.press(*"5", "enter")
        await pilot.pause()
        assert isinstance(app.screen, PaymentScreen)
        assert "$4.75" in str(app.screen.query_one("#pay-figures").render())
        await pilot.press("enter")  # empty: the rest in cash
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        receipt = app.runtime.sales.receipt("R1-000001")
        assert receipt.payments == (("card", 500), ("cash", 475))


async def test_quantity_discount_delete_and_manager_pin(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot)
        await type_code(pilot, "LATT")
        await pilot.press("f5")
        await pilot.pause()
        await pilot.press("4", "enter")  # the current 1 is selected: typing replaces it
        await pilot.pause()
        sales = app.runtime.sales
        note = app.screen.note_id
        assert sales.view(note).lines[0].qty == 4
        # 50 % is over the cashier's 10 %: the manager PIN dialog opens
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*"50%", "enter")
        await pilot.pause()
        assert "Manager approval" in str(app.screen.query_one(".dialog-title").render())
        await pilot.press(*"1111", "enter")  # a cashier's PIN does not approve
        await pilot.pause()
        assert sales.view(note).lines[0].discount_percent_bp == 0
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*"50%", "enter")
        await pilot.pause()
        await pilot.press(*"2222", "enter")
        await pilot.pause()
        assert sales.view(note).lines[0].discount_percent_bp == 5000
        assert sales.view(note).summary.totals.total_cents == 700
        await pilot.press("f9")
        await pilot.pause()
        assert sales.view(note).lines == ()


async def test_park_resume_and_search(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        await pilot.press("f11")
        await pilot.pause()
        await pilot.press(*"Table 4", "enter")
        await pilot.pause()
        assert app.screen.query_one("#lines").row_count == 0
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press(*"croiss")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert [ln.sku for ln in app.runtime.sales.view(app.screen.note_id).lines] == ["CROI"]
        await pilot.press("f12")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert [ln.sku for ln in app.runtime.sales.view(app.screen.note_id).lines] == ["ESP"]
        assert app.screen.query_one("#lines").row_count == 1


async def test_reopens_on_the_open_note(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        await type_code(pilot, "2*LATT")
    again = make_app(demo_users=False)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert again.screen.query_one("#lines").row_count == 2


async def test_return_by_receipt_number(make_app, printer_file):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "3*ESP")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f7")
        await pilot.pause()
        app.screen.query_one("#receipt").value = "R1-000001"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("plus", "plus")
        await pilot.press("f10")
        await pilot.pause()
        await app.wait_printed()
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        assert "R1-000002" in message(app)
        assert app.runtime.sales.receipt("R1-000002").totals.total_cents == -300
    assert b"REFUND" in printer_file.read_bytes()


async def test_printer_failure_never_undoes_the_sale(make_app, tmp_path):
    app = make_app(demo_users=False, kind="network", host="127.0.0.1", port=9, timeout=1)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        for _ in range(200):
            if app.printer_state is not None and app.printer_state.failed is not None:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        assert "Printer problem" in message(app) and "prints when the printer is back" in message(app)
        assert app.runtime.sales.receipt("R1-000001").totals.total_cents == 150
        assert "Printer OFFLINE, 1 waiting" in str(app.screen.query_one("#devices").render())


async def test_quit_needs_a_manager_pin(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press(*"1111", "enter")
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press(*"2222", "enter")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_a_function_key_pressed_right_after_enter_waits_for_the_code_typed_before_it(make_app):
    """ESP, Enter and F2 in one burst: Espresso is added first, then the customer dialog opens empty
    (a priority F2 used to jump ahead of the Enter and carry "ESP" into the lookup)."""
    from tui_pos.screens.customers import CustomerLookup
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        from textual import events
        # all five in the app's queue at once, as a fast scanner and hand put them (Pilot.press would wait
        # for each key to be handled before sending the next)
        for key, char in (("E", "E"), ("S", "S"), ("P", "P"), ("enter", "\r"), ("f2", None)):
            app.post_message(events.Key(key, char))
        await pilot.pause(0.3)
        assert isinstance(app.screen, CustomerLookup)
        assert app.screen.query_one("#query").value == ""
        await pilot.press("escape")
        await pilot.pause()
        view = app.runtime.sales.view(app.screen.note_id)
        assert [line.name for line in view.lines] == ["Espresso"]


async def test_two_cashiers_in_turn_each_get_their_own_sales(make_app):
    """Ana sells, Ctrl+U, Marco signs in and sells: each receipt and note carries who was signed in (the
    second used to say Ana). A restart shows the last sale completed."""
    from screen_text import screen_text

    from tui_pos.models import AuditLog, Note
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "1111")
        await type_code(pilot, "ESP")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+u")
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        await sign_in(pilot, "2222")
        assert "Last sale: R1-000001, $1.50, cash, Ana." in screen_text(app)
        await type_code(pilot, "CAPP")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
    first, second = app.runtime.sales.receipt("R1-000001"), app.runtime.sales.receipt("R1-000002")
    assert (first.cashier, second.cashier) == ("Ana", "Marco")
    assert [n.cashier.name for n in Note.select().where(Note.status == "paid").order_by(Note.id)] == ["Ana", "Marco"]
    assert AuditLog.select().where(AuditLog.action == "user.sign_out").count() == 1


async def test_a_name_with_terminal_codes_is_drawn_as_text(make_app):
    """Issue 28: `ESC [ 2 J` in a product name (written to the database by another tool) wiped the register's
    screen when the product was scanned. What comes from data is drawn as text."""
    from tui_pos.models import Product
    app = make_app()
    Product.update(name="Fu\x1b[2J\x1bp\x00ll").where(Product.sku == "ESP").execute()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await type_code(pilot, "ESP")
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "Fu?[2J?p?ll" in svg.replace("&#160;", " ")


async def test_a_cashiers_refund_asks_for_a_manager_pin_worded_as_the_action(make_app, printer_file):
    # issue 28: "Today a cashier refunds with F7 with no approval (`approved_by` empty) ... refunds are a
    # permission (manager by default)"; "The PIN prompt names the action in words"
    from tui_pos.models import AuditLog
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot)                                  # Ana, a cashier
        await type_code(pilot, "ESP")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f7")
        await pilot.pause()
        app.screen.query_one("#receipt").value = "R1-000001"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("plus", "f10")
        await pilot.pause()
        assert str(app.screen.query_one(".dialog-title").render()) == "Manager approval"
        assert "A refund needs a manager PIN." in str(app.screen.query_one(".dialog-prompt").render())
        await pilot.press(*"1111", "enter")                   # her own PIN: refused, nothing refunded
        await pilot.pause()
        assert "not a manager's" in str(app.screen.query_one("#return-info").render())
        assert app.runtime.sales.last_receipt_no() == "R1-000001"
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press(*"2222", "enter")                   # the manager
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen) and "R1-000002" in message(app)
    entry = AuditLog.select().where(AuditLog.action == "note.refund").get()
    assert entry.user.name == "Ana" and entry.approved_by.name == "Marco"


async def test_f1_lists_what_the_signed_in_user_may_do(make_app):
    # issue 28: "F1 lists what the signed-in user may do."
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot)
        await pilot.press("f1")
        await pilot.pause()
        text = str(app.screen.query_one(".info-body Label").render())
        assert "Ana (cashier):" in text and "Yours alone: selling" in text
        assert "Needs a manager PIN:" in text and "a refund" in text
