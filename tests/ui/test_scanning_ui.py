"""Pilot tests of scanning: evdev codes and keyboard-wedge bursts reach the right screen whole."""


from helpers import until
from textual import events
from textual.keys import _character_to_key

from tui_pos.hardware.evpipe import PipeBackend, PipeScanner
from tui_pos.screens.customers import CustomerLookup
from tui_pos.screens.returns import ReturnScreen
from tui_pos.services import customers
from tui_pos.services.demo import demo_barcode


def lines(app):
    return app.screen.query_one("#lines")


def message(app):
    return str(app.screen.query_one("#message").render())


def burst(app, text, enter=True):
    """Keys as a keyboard-wedge scanner sends them: all at once, then Enter."""
    for char in text:
        key = char if char.isalnum() else _character_to_key(char)
        app.post_message(events.Key(key, char))
    if enter:
        app.post_message(events.Key("enter", "\r"))


async def test_a_scan_message_adds_a_line_and_a_typed_quantity_multiplies_it(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.deliver_scan(demo_barcode(1), "test scanner")
        await pilot.pause()
        assert lines(app).row_count == 1
        app.screen.query_one("#code").value = "3*"
        app.deliver_scan(demo_barcode(4), "test scanner")
        await pilot.pause()
        view = app.runtime.sales.view(app.screen.note_id)
        assert [(ln.sku, ln.qty) for ln in view.lines] == [("ESP", 1), ("CAPP", 3)]
        assert app.screen.query_one("#code").value == ""


async def test_a_misread_scan_says_so_and_keeps_the_note(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.deliver_scan("ESP", "test scanner")
        good = demo_barcode(2)
        app.deliver_scan(good[:-1] + str((int(good[-1]) + 1) % 10), "test scanner")
        await pilot.pause()
        assert "wrong check digit" in message(app) and lines(app).row_count == 1


async def test_a_card_scan_attaches_the_customer(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        customers.create({"name": "Card Holder", "cards": "LOY-77"}, region="PA")
        app.deliver_scan("LOY-77", "test scanner")
        await pilot.pause()
        assert "Card Holder" in str(app.screen.query_one("#customer").render())


async def test_a_wedge_burst_in_the_sale_screen_is_one_scan(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        burst(app, demo_barcode(1))
        await until(pilot, lambda: lines(app).row_count == 1)
        assert app.scans == [(demo_barcode(1), "keyboard")]
        # typing at a person's pace is not a scan, and still works
        await pilot.press(*"CAPP", "enter")
        await pilot.pause()
        assert lines(app).row_count == 2 and len(app.scans) == 1


async def test_a_wedge_burst_in_the_f2_field_is_handled_as_a_scan(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        customers.create({"name": "Card Holder", "cards": "LOY-77"}, region="PA")
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, CustomerLookup)
        await pilot.press(*"Ca")                  # the cashier had started typing a name
        await pilot.pause(0.1)
        burst(app, "LOY-77")                       # then scans the card: it attaches, whole
        await until(pilot, lambda: not isinstance(app.screen, CustomerLookup))
        # attached in the sale screen's worker, then painted
        await until(pilot, lambda: "Card Holder" in str(app.screen.query_one("#customer").render()))
        assert app.scans == [("LOY-77", "keyboard")]


async def test_a_wedge_burst_of_an_unknown_code_fills_the_f2_search_whole(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        burst(app, "61234567")
        await until(pilot, lambda: app.scans)
        await pilot.pause()
        assert app.screen.query_one("#query").value == "61234567"


async def test_scanning_a_receipt_barcode_on_the_return_screen_loads_it(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.deliver_scan("ESP", "test")
        await pilot.pause()
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f7")
        await pilot.pause()
        assert isinstance(app.screen, ReturnScreen)
        app.screen.query_one("#return-lines").focus()
        app.deliver_scan("R1-000001", "test")
        await pilot.pause()
        assert app.screen.receipt is not None and app.screen.receipt.receipt_no == "R1-000001"


async def test_evdev_scanner_codes_unplug_and_replug(make_app):
    scanner = PipeScanner(name="Datalogic QD2430")
    backend = PipeBackend(scanner)
    app = make_app(demo_users=False, scanner={"devices": ["name:datalogic"]}, scanner_backend=backend)
    async with app.run_test(size=(100, 30)) as pilot:
        def status():
            return str(app.screen.query_one("#devices").render())
        await until(pilot, lambda: "Scanner ready" in status())
        scanner.scan(demo_barcode(1))
        await until(pilot, lambda: lines(app).row_count == 1)
        assert app.scans == [(demo_barcode(1), "Datalogic QD2430")]
        backend.unplug(scanner.path)
        await until(pilot, lambda: "Scanner GONE" in status(), timeout=1.0)
        # the keyboard still sells
        await pilot.press(*"CAPP", "enter")
        await pilot.pause()
        assert lines(app).row_count == 2
        again = PipeScanner(name="Datalogic QD2430", path="/dev/input/event12")
        backend.plug(again)
        await until(pilot, lambda: "Scanner ready" in status(), timeout=3.0)
        again.scan("LATT")
        await until(pilot, lambda: lines(app).row_count == 3)


async def test_a_scanner_path_that_does_not_exist_is_shown_and_the_register_sells(make_app):
    app = make_app(demo_users=False, scanner={"devices": ["/dev/input/by-id/usb-no-such-scanner-event-kbd"]})
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "Scanner NOT FOUND" in str(app.screen.query_one("#devices").render()))
        app.screen.query_one("#code").value = "ESP"
        await pilot.press("enter")
        await pilot.pause()
        assert lines(app).row_count == 1
