"""SVG snapshots of the sale and payment screens at 80x24 and 120x40.

Update after an intended change with `pytest tests/ui/test_snapshots.py --snapshot-update`.
"""

import pytest

SIZES = [(80, 24), (120, 40)]


async def ring_up(pilot):
    await pilot.press(*"1111", "enter")
    await pilot.pause()
    for code in ("3*ESP", "CAPP", "LATT", "2*MUFB"):
        pilot.app.screen.query_one("#code").value = code
        await pilot.press("enter")
    await pilot.pause()


class TestSaleScreen:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_sale_with_lines(self, snap_compare, make_app, size):
        assert snap_compare(make_app(), run_before=ring_up, terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_unknown_code_message(self, snap_compare, make_app, size):
        async def run_before(pilot):
            await ring_up(pilot)
            pilot.app.screen.query_one("#code").value = "NOPE"
            await pilot.press("enter")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestPaymentScreen:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_payment_after_card(self, snap_compare, make_app, size):
        async def run_before(pilot):
            await ring_up(pilot)
            await pilot.press("f10")
            await pilot.pause()
            await pilot.press("down", "5", "enter")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestCustomerScreens:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_lookup_with_results(self, snap_compare, make_app, size):
        async def run_before(pilot):
            from tui_pos.services import customers
            customers.create({"name": "Ana Núñez", "phone": "6123-4567"}, region="PA")
            customers.create({"name": "Ana Ruiz", "phone": "6123-9999", "payment_status": "2"}, region="PA",
                             approver_id=2)
            await ring_up(pilot)
            await pilot.press("f2")
            await pilot.press(*"ana")
            await pilot.app.wait_printed()
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_form_with_errors(self, snap_compare, make_app, size):
        async def run_before(pilot):
            await ring_up(pilot)
            await pilot.press("f2")
            await pilot.press(*"Maria")
            await pilot.app.wait_printed()
            await pilot.press("ctrl+n")
            await pilot.pause()
            pilot.app.screen.query_one("#f-email").value = "maria-at-home"
            await pilot.press("ctrl+s")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)


class TestLoyaltyScreens:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_offer_tab(self, snap_compare, make_app, tmp_path, size):
        async def run_before(pilot):
            from tui_pos.models import Product
            from tui_pos.services import customers, loyalty
            path = tmp_path / "p.toml"
            path.write_text('[program]\nper_visit = 0\n')
            loyalty.import_program(path)
            Product.update(points_cost=150).where(Product.sku == "ESP").execute()
            Product.update(points_cost=900).where(Product.sku == "MUG").execute()
            c = customers.create({"name": "Ana", "cards": "LOY-9"}, region="PA")
            loyalty.opening_balance(c.id, 400)
            await ring_up(pilot)
            for code in ("MUG", "LOY-9"):
                pilot.app.screen.query_one("#code").value = code
                await pilot.press("enter")
            await pilot.press("f10")
            await pilot.pause()
            await pilot.press("space")
            await pilot.pause()
        assert snap_compare(make_app(), run_before=run_before, terminal_size=size)
