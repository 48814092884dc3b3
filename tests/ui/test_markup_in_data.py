"""Text from data is drawn as text, never as markup (issue 28 items 6 and 11; found by a fresh-eye audit:
a product "Tea [/i] pot" emptied the return screen's table, a parked note "Table [/b] 4" kept F12 from
opening, a customer "Bob [/b] Jones" kept Ctrl+L and Ctrl+D shut, each with "Something went wrong")."""

from helpers import until
from screen_text import screen_text

from tui_pos.screens.customers import CustomerDetail
from tui_pos.screens.dialogs import ChoiceDialog
from tui_pos.screens.returns import ReturnScreen
from tui_pos.services import catalog, customers


async def type_code(pilot, text):
    pilot.app.screen.query_one("#code").value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_names_with_markup_brackets_show_as_typed(make_app, tmp_path):
    app = make_app(demo_users=False)
    csv = tmp_path / "p.csv"
    csv.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n,MK1,Tea [/i] pot,Tea [/b],2.00,7,,\n")
    async with app.run_test(size=(100, 30)) as pilot:
        catalog.import_products(csv)
        await type_code(pilot, "MK1")
        assert "Tea [/i] pot" in screen_text(app)
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: "R1-000001" in screen_text(app))
        await pilot.press("f7")
        await pilot.pause()
        app.screen.query_one("#receipt").value = "R1-000001"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReturnScreen) and "Tea [/i] pot" in screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        await type_code(pilot, "ESP")
        await pilot.press("f11")
        await pilot.pause()
        await pilot.press(*"Table [/b] 4", "enter")
        await until(pilot, lambda: "parked" in screen_text(app).lower())
        await pilot.press("f12")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog) and "Table [/b] 4" in screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        bob = customers.create({"name": "Bob [/b] Jones", "phone": "6123-9911"}, region="PA")
        app.push_screen(CustomerDetail(bob.id, app.runtime.money, lambda number: number))
        await until(pilot, lambda: isinstance(app.screen, CustomerDetail) and "Bob [/b] Jones" in screen_text(app))
