"""Pilot tests of F2 lookup, on-the-spot creation, card scans, repricing and warnings."""

from tui_pos.screens.customers import CustomerForm, CustomerLookup
from tui_pos.screens.sale import SaleScreen
from tui_pos.services import customers, prices


async def type_code(pilot, text):
    pilot.app.screen.query_one("#code").value = text
    await pilot.press("enter")
    await pilot.pause()


async def lookup(pilot, text):
    await pilot.press("f2")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CustomerLookup)
    await pilot.press(*text)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def panel(app):
    return str(app.screen.query_one("#customer").render())


async def test_unknown_phone_creates_and_attaches(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_code(pilot, "ESP")
        await lookup(pilot, "6123-4567")
        shown = str(app.screen.query_one("#lookup-message").render())
        assert "Enter: create it (SMS invitation on the 2nd visit)" in shown and "N: create, no SMS" in shown
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        assert "+507 6123-4567" in panel(app)
        view = app.runtime.sales.view(app.screen.note_id)
        assert view.customer.phone == "+50761234567"
        assert not view.customer.invite_declined


async def test_n_creates_the_customer_without_the_invitation(make_app):
    """Seed 004's invitation, declined at the counter with one key; N is typed as usual everywhere else."""
    app = make_app(demo_users=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "Nn")                     # a name search: N is a letter here
        assert app.screen.query_one("#query").value == "Nn"
        await pilot.press("escape")
        await lookup(pilot, "6123-4567")
        await pilot.press("N")
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        view = app.runtime.sales.view(app.screen.note_id)
        assert view.customer.phone == "+50761234567" and view.customer.invite_declined
        assert "no SMS" in str(app.screen.query_one("#message").render())


async def test_lookup_by_suffix_and_name_attaches_single_match(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        ana = customers.create({"name": "Ana Núñez", "phone": "6123-4567"}, region="PA")
        customers.create({"name": "Bob", "phone": "6999-1111"}, region="PA")
        await lookup(pilot, "nunez")
        assert app.screen.query_one("#found").option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.runtime.sales.view(app.screen.note_id).customer.id == ana.id
        assert "Ana Núñez" in panel(app)
        # Ctrl+R in the lookup takes the customer off the note again
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.runtime.sales.view(app.screen.note_id).customer is None


async def test_card_scan_attaches_and_rate_reprices(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        prices.set_rate("VIPR", "VIP prices")
        prices.set_rate_line("VIPR", "LATT", "3.00")
        customers.create({"name": "Card Holder", "cards": "LOY-1", "rate": "VIPR"}, region="PA")
        await type_code(pilot, "LATT")
        assert "$3.50" in str(app.screen.query_one("#totals").render())
        await type_code(pilot, "LOY-1")
        assert "Card Holder" in panel(app)
        assert "Card Holder attached" in str(app.screen.query_one("#message").render())
        assert "$3.00" in str(app.screen.query_one("#totals").render())
        lines = app.screen.query_one("#lines")
        assert lines.cells[lines.keys[0]][2] == "$3.00R"  # the line shows that the rate won


async def test_defaulter_and_pending_warnings(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        late = customers.create({"name": "Late Payer", "phone": "6123-0001", "payment_status": "2"}, region="PA")
        customers.create({"name": "Slow Payer", "phone": "6123-0002", "payment_status": "1"}, region="PA")
        await lookup(pilot, "payer")
        listing = [str(app.screen.query_one("#found").get_option_at_index(i).prompt) for i in range(2)]
        assert any("DEFAULTER" in t for t in listing) and any("PENDING PAYMENTS" in t for t in listing)
        await pilot.press("escape")
        await pilot.pause()
        app.runtime.sales.attach_customer(app.screen.note_id, late.id)
        app.screen.load_note()
        await pilot.pause()
        assert "DEFAULTER" in panel(app)


async def test_form_keeps_what_was_typed_and_names_the_field(make_app):
    app = make_app(demo_users=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "Maria")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, CustomerForm)
        assert app.screen.query_one("#f-name").value == "Maria"
        app.screen.query_one("#f-email").value = "maria-at-home"
        app.screen.query_one("#f-phone").value = "123"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, CustomerForm)
        assert "not an email" in str(app.screen.query_one("#e-email").render())
        assert "not a phone" in str(app.screen.query_one("#e-phone").render()) or \
            "cannot be a phone" in str(app.screen.query_one("#e-phone").render())
        assert app.screen.query_one("#f-email").value == "maria-at-home"
        app.screen.query_one("#f-email").value = "maria@home.pa"
        app.screen.query_one("#f-phone").value = "6777-8888"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, CustomerLookup)
        assert customers.lookup("6777-8888", region="PA").customers[0].email == "maria@home.pa"


async def test_attaching_a_customer_keeps_every_line_on_screen(make_app):
    """Six lines fit at 80x24: attaching (which repaints the note) used to scroll line 1 off."""
    from screen_text import screen_text
    app = make_app(demo_users=False)
    customers.create({"name": "Card Holder", "cards": "LOY-1"}, region="PA")
    async with app.run_test(size=(80, 24)) as pilot:
        for code in ("ESP", "CAPP", "LATT", "MOCH", "CROI", "MUFB"):
            await type_code(pilot, code)
        await type_code(pilot, "LOY-1")
        shown = screen_text(app)
        assert "Card Holder" in shown and "Espresso" in shown and "Blueberry muffin" in shown, shown


async def test_n_typed_right_after_the_digits_still_declines(make_app):
    """The digits and the N in the app's queue at once (a fast hand): N still means "create, no SMS"."""
    from textual import events
    app = make_app(demo_users=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, CustomerLookup)
        for ch in "61234567N":
            app.post_message(events.Key(ch, ch))
        await pilot.pause(0.3)
        assert isinstance(app.screen, SaleScreen)
        assert app.runtime.sales.view(app.screen.note_id).customer.invite_declined
