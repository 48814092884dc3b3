"""Every screen at 80x24 (default theme) and 80x25 (the Linux console's theme): nothing the user needs is cut.

Each case opens one screen by its keys, as a cashier or a manager would, and
reads the terminal's text back (screen_text: Textual's own render). What must
be there is the keys that finish the task and the words a cut would break
(`Offered`, a help line's last key). An SVG snapshot of each screen at 80x24 is
kept beside the other snapshots (`pytest tests/ui/test_80_columns.py
--snapshot-update` after an intended change).
"""

import pytest
from screen_text import screen_text


def seed():
    """The demo's loyalty program and customers (make_app seeds products and users only)."""
    from tui_pos.domain.loyalty import parse_program, program_to_toml
    from tui_pos.models import Product
    from tui_pos.services import customers, loyalty, loyalty_admin
    from tui_pos.services.demo import DEMO_POINTS_COST, DEMO_PROGRAM
    loyalty_admin.save_program_text(program_to_toml(parse_program(DEMO_PROGRAM)))
    for sku, cost in DEMO_POINTS_COST.items():
        Product.update(points_cost=cost).where(Product.sku == sku).execute()
    ana = customers.create({"name": "Ana Núñez", "phone": "6123-4567", "cards": "LOY-0001",
                            "email": "ana@example.com", "sms_consent": True}, region="PA")
    loyalty.opening_balance(ana.id, 820)


async def code(pilot, *codes):
    for c in codes:
        pilot.app.screen.query_one("#code").value = c
        await pilot.press("enter")
        await pilot.pause()


async def keys(pilot, *k):
    await pilot.press(*k)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def signed_in(pilot, pin="1111"):
    await keys(pilot, *pin, "enter")


async def ringing(pilot):
    await signed_in(pilot)
    await code(pilot, "3*CAPP", "BEAN1", "LOY-0001")


async def sold(pilot):
    """A paid sale (R1-000001) with the customer, then a new note."""
    await ringing(pilot)
    await keys(pilot, "f10")
    await keys(pilot, "enter")


async def login(pilot):
    pass


async def sale(pilot):
    await ringing(pilot)


async def keys_list(pilot):
    await ringing(pilot)
    await keys(pilot, "f1")


async def lookup_new_phone(pilot):
    await ringing(pilot)
    await keys(pilot, "f2", *"65551234")


async def lookup_names(pilot):
    await ringing(pilot)
    await keys(pilot, "f2", *"ana")


async def customer_form(pilot):
    await ringing(pilot)
    await keys(pilot, "f2", *"ana", "ctrl+e")


async def customer_history(pilot):
    await sold(pilot)
    await keys(pilot, "f2", *"ana", "ctrl+d")


async def customer_loyalty(pilot):
    await sold(pilot)
    await keys(pilot, "f2", *"ana", "ctrl+l")


async def search(pilot):
    await ringing(pilot)
    await keys(pilot, "f3", *"capp")


async def points(pilot):
    await ringing(pilot)
    await keys(pilot, "f4")


async def offer(pilot):
    await ringing(pilot)
    await code(pilot, "ESP")
    await keys(pilot, "f10", "down", "down", "down", "space")


async def payment(pilot):
    await ringing(pilot)
    await keys(pilot, "f10")


async def refund(pilot):
    await sold(pilot)
    await keys(pilot, "f7", *"R1-000001", "enter")


async def park(pilot):
    await ringing(pilot)
    await keys(pilot, "f11")


async def resume(pilot):
    await ringing(pilot)
    await keys(pilot, "f11", *"Maria", "enter")
    await code(pilot, "ESP")
    await keys(pilot, "f11", "enter", "f12")


async def manager_pin(pilot):
    await ringing(pilot)
    await keys(pilot, "ctrl+x")


async def loyalty_admin(pilot):
    await signed_in(pilot, "2222")
    await keys(pilot, "ctrl+l")


async def messages(pilot):
    await signed_in(pilot, "2222")
    await keys(pilot, "ctrl+g")


async def day(pilot):
    await sold(pilot)
    await keys(pilot, "ctrl+e")


async def day_close(pilot):
    await sold(pilot)
    await keys(pilot, "ctrl+e", "f10")


# screen -> how to open it, what must be on screen in full
SCREENS = {
    "login": (login, ["Type your PIN and press Enter"]),
    "sale": (sale, ["F10 Pay", "F2 Customer", "F4 Points", "F7 Return", "F11 Park", "F12 Parked", "F1 Keys",
                    "Ana Núñez", "TOTAL", "Boquete geisha beans 250 g", "$18.50"]),
    "keys": (keys_list, ["F10   Pay", "^E    Close of day", "Escape: close"]),
    "customer, a new phone": (lookup_new_phone, ["Enter: create it (SMS invitation on the 2nd visit)",
                                                 "N: create, no SMS", "Escape: back"]),
    "customer, found": (lookup_names, ["Ana Núñez", "Ctrl+N new", "Ctrl+R off the note", "Escape: back"]),
    "customer form": (customer_form, ["Ctrl+S: save", "Escape: back", "Name", "Phone"]),
    "customer history": (customer_history, ["R1-000001", "Escape: close"]),
    "customer loyalty": (customer_loyalty, ["Loyalty · Ana Núñez", "Product or reason", "opening balance",
                                            "PgUp/PgDn: newer/older", "Escape: close"]),
    "search": (search, ["Cappuccino", "Enter"]),
    "points": (points, ["Enter: most allowed", "1-9: preset", "0: none", "Escape: back"]),
    "offer": (offer, ["Offered", "Space: Offer/Offered", "Enter: validate", "Escape: without offering"]),
    "payment": (payment, ["Enter: pay", "Escape: back to the note", "Cash", "Card"]),
    "return": (refund, ["Cappuccino", "F10: refund", "Escape: back"]),
    "park": (park, ["Park this note", "Enter: OK", "Escape: back"]),
    "resume": (resume, ["Maria", "Enter: choose", "Escape: back"]),
    "manager PIN": (manager_pin, ["manager", "Enter: OK", "Escape: back"]),
    "loyalty (manager)": (loyalty_admin, ["Statistics", "Escape"]),
    "messages (manager)": (messages, ["Outbox", "Campaign", "Ctrl+S send", "Esc close"]),
    "close of day": (day, ["X REPORT", "F10 close the day (Z)", "Esc back"]),
    "close of day, cash": (day_close, ["Count the cash", "Enter: OK", "Escape: back"]),
}

THEMES = {"default": ((80, 24), None), "console": ((80, 25), {"ui": {"theme": "console"}})}


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("name", SCREENS)
async def test_fits_80_columns(make_app, name, theme):
    steps, wanted = SCREENS[name]
    size, config = THEMES[theme]
    app = make_app(config=config)
    seed()
    async with app.run_test(size=size) as pilot:
        await steps(pilot)
        shown = screen_text(app)
        missing = [w for w in wanted if w not in shown]
        assert not missing, f"{name} on {theme}: {missing} not on screen:\n{shown}"


@pytest.mark.parametrize("theme", THEMES)
async def test_the_support_screen_fits_80_columns(make_app, tmp_path, theme):
    from helpers import until

    from tui_pos.app import SupportApp
    from tui_pos.bootstrap import build_support
    from tui_pos.config import from_dict
    make_app()                                             # the register's database, seeded
    size, config = THEMES[theme]
    cfg = from_dict({"database": {"url": f"sqlite:///{tmp_path / 'pos.db'}"}, **(config or {})})
    app = SupportApp(build_support(cfg), str(tmp_path / "tui-pos.log"))
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: "schema" in str(app.screen.query_one("#support-health").render()))
        shown = screen_text(app)
        for wanted in ("SUPPORT MODE", "Health", "F5 Refresh", "^R Reprint", "^T Printer test", "^N Next tab",
                       "^Q Quit"):
            assert wanted in shown, f"{wanted!r} not on screen:\n{shown}"


# the screens that show today's date or time are left out of the pictures (they would change every day);
# test_snapshots.py keeps the loyalty screens on fixed dates
CLOCK = {"customer history", "customer loyalty", "loyalty (manager)", "close of day", "close of day, cash"}


@pytest.mark.parametrize("name", [n for n in SCREENS if n not in CLOCK])
def test_snapshot_at_80x24(snap_compare, make_app, name):
    steps, _ = SCREENS[name]
    app = make_app()
    seed()
    assert snap_compare(app, run_before=steps, terminal_size=(80, 24))
