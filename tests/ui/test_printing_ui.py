"""Pilot tests of the print queue against a real TCP printer, and of the drawer key."""

from helpers import until

from tui_pos.hardware.netprinter_sim import SimulatedPrinter
from tui_pos.models import AuditLog


async def sell(pilot, code="ESP"):
    app = pilot.app
    app.screen.query_one("#code").value = code
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("f10")
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


def status(app):
    return str(app.screen.query_one("#devices").render())


async def test_printer_off_mid_queue_every_receipt_arrives_once_in_order(make_app):
    sim = SimulatedPrinter().start()
    app = make_app(demo_users=False, kind="network", host="127.0.0.1", port=sim.port, timeout=1)
    async with app.run_test(size=(100, 30)) as pilot:
        await sell(pilot, "ESP")
        await app.wait_printed()
        assert sim.wait_for(1)
        sim.stop()                                         # switched off mid-queue
        await sell(pilot, "CAPP")
        await until(pilot, lambda: "Printer OFFLINE" in status(app))
        await sell(pilot, "LATT")                          # the register keeps selling
        assert "R1-000003" in str(app.screen.query_one("#message").render())
        assert "2 waiting" in status(app)
        sim.start()                                        # back on
        await app.wait_printed(timeout=15)
        await until(pilot, lambda: "Printer ready" in status(app))
        assert sim.wait_for(3)
        sim.stop()
    order = [next(n for n in (b"R1-000001", b"R1-000002", b"R1-000003") if n in job) for job in sim.jobs]
    assert order == [b"R1-000001", b"R1-000002", b"R1-000003"]
    assert app.printed == ["R1-000001", "R1-000002", "R1-000003"]


async def test_reprint_any_receipt_by_number(make_app, printer_file):
    app = make_app(demo_users=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await sell(pilot, "ESP")
        await sell(pilot, "CAPP")
        await app.wait_printed()
        await pilot.press("ctrl+r")
        await pilot.pause()
        field = app.screen.query_one("Input")
        assert field.value == "R1-000002"                   # the last one, ready to change
        field.value = "r1-000001"
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_printed()
        assert "Reprinting R1-000001" in str(app.screen.query_one("#message").render())
    data = printer_file.read_bytes()
    assert data.count(b"R1-000001") >= 2 and b"COPY" in data


async def test_drawer_key_needs_a_manager_and_is_audited(make_app, printer_file):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"1111", "enter")
        await pilot.pause()
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.press(*"1111", "enter")                # a cashier's PIN: refused
        await pilot.pause()
        assert "not a manager's" in str(app.screen.query_one("#message").render())
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.press(*"2222", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert "Drawer opened by Marco" in str(app.screen.query_one("#message").render())
    assert printer_file.read_bytes() == b"\x1bp\x0022"
    entry = AuditLog.select().where(AuditLog.action == "drawer.open").get()
    assert entry.approved_by.name == "Marco"
