"""A sale at the register with `[fiscal] mode = "fe"` (issue 22, docs/fiscal.md): the sale completes at once
whatever the provider does; the receipt waits up to wait_seconds in the printer's worker, then prints once,
with the CUFE and QR when authorized, or marked as issued in contingency. Pilot, the real app, real bytes."""

from __future__ import annotations

import socket

from helpers import until

from tests.pac_server import HkaServer
from tui_pos.domain import fiscal as rules
from tui_pos.models import FiscalDoc, Note
from tui_pos.screens.sale import SaleScreen

ISSUER = {"mode": "fe", "ruc": "155596713-2-2015", "dv": "59", "ruc_type": 2, "name": "Café Sol, S.A.",
          "address": "Calle 50, Ciudad de Panamá", "point": 3, "token_company": "tok", "token_password": "pw",
          "timeout": 1, "wait_seconds": 1}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def sell_espresso(pilot, app) -> str:
    app.deliver_scan("ESP", "test")
    await until(pilot, lambda: app.screen.query_one("#lines").row_count == 1)
    await pilot.press("f10")
    await until(pilot, lambda: app.screen.query("#amount"))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, SaleScreen) and "Paid: receipt" in
                str(app.screen.query_one("#message").render()))
    return str(app.screen.query_one("#message").render()).split("receipt ")[1].split()[0].rstrip(".")


async def test_the_provider_away_the_sale_completes_and_the_receipt_prints_in_contingency(make_app, printer_file):
    app = make_app(demo_users=False,
                   config={"fiscal": {**ISSUER, "url": f"http://127.0.0.1:{closed_port()}/Service.svc"}})
    async with app.run_test(size=(80, 24)) as pilot:
        receipt_no = await sell_espresso(pilot, app)
        await until(pilot, lambda: printer_file.exists() and b"CONTINGENCIA" in printer_file.read_bytes(),
                    timeout=15)
    row = FiscalDoc.get(FiscalDoc.note == Note.get(Note.receipt_no == receipt_no).id)
    assert (row.state, row.emission) == ("contingency", "contingency") and rules.cufe_is_valid(row.cufe)
    paper = printer_file.read_bytes()
    assert paper.count(b"EMITIDA EN CONTINGENCIA") == 1 and b"FACTURA ELECTRONICA 003-0000000001" in paper
    assert row.cufe[:40].encode() not in paper and b"CUFE:" not in paper   # not one the DGI will never have
    assert b"El CUFE y el QR van en la copia" in paper


async def test_authorized_in_time_the_receipt_carries_the_providers_cufe(make_app, printer_file):
    with HkaServer(rules.Issuer(ruc=ISSUER["ruc"], dv=ISSUER["dv"], ruc_type=2, name=ISSUER["name"],
                                branch="0000", point=3, address=ISSUER["address"])) as hka:
        app = make_app(demo_users=False, config={"fiscal": {**ISSUER, "url": hka.url, "wait_seconds": 5}})
        async with app.run_test(size=(80, 24)) as pilot:
            receipt_no = await sell_espresso(pilot, app)
            await until(pilot, lambda: printer_file.exists() and b"CUFE" in printer_file.read_bytes(), timeout=15)
        row = FiscalDoc.get(FiscalDoc.note == Note.get(Note.receipt_no == receipt_no).id)
        assert row.state == "authorized" and hka.sent(1) == 1
        paper = printer_file.read_bytes()
        assert row.cufe[:40].encode() in paper and b"CONTINGENCIA" not in paper
        assert b"\x1d(k" in paper                              # the provider's QR, native ESC/POS (GS ( k)


async def test_a_customer_whose_ruc_cannot_go_on_the_invoice_is_said_at_once(make_app):
    """Issue 22: "A customer with an invalid or missing RUC gets a final-consumer invoice (the cashier sees
    why)"."""
    from tui_pos.models import Customer
    from tui_pos.services import customers
    app = make_app(demo_users=False,
                   config={"fiscal": {**ISSUER, "url": f"http://127.0.0.1:{closed_port()}/Service.svc"}})
    eva = customers.create({"name": "Eva", "cards": "LOY-77"}, region="PA")
    Customer.update(ruc="8-274-125", dv="19", ruc_type="individual").where(Customer.id == eva.id).execute()
    async with app.run_test(size=(80, 24)) as pilot:
        app.deliver_scan("ESP", "test")
        await until(pilot, lambda: app.screen.query_one("#lines").row_count == 1)
        app.deliver_scan("LOY-77", "test")
        await until(pilot, lambda: "RUC/DV is not valid" in str(app.screen.query_one("#message").render()))
        assert "Customer Eva attached." in str(app.screen.query_one("#message").render())


async def test_the_managers_screen_lists_shows_and_retries(make_app):
    """Issue 22: "a manager screen with the same" (list, show, retry): Ctrl+B, a manager's."""
    from textual.widgets import DataTable, TextArea

    from tui_pos.screens.fiscal import FiscalScreen
    from tui_pos.screens.login import LoginScreen
    app = make_app(config={"fiscal": {**ISSUER, "url": f"http://127.0.0.1:{closed_port()}/Service.svc"}})
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await pilot.press(*"2222", "enter")                    # Marco, a manager
        await until(pilot, lambda: isinstance(app.screen, SaleScreen))
        receipt_no = await sell_espresso(pilot, app)
        await until(pilot, lambda: FiscalDoc.get(FiscalDoc.note == Note.get(Note.receipt_no == receipt_no).id)
                    .state == "contingency", timeout=15)
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, FiscalScreen))
        table = app.screen.query_one("#fiscal-docs", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        assert "contingency" in [str(c) for c in table.get_row_at(0)]
        await pilot.press("enter")
        area = app.screen.query_one("#fiscal-xml", TextArea)
        await until(pilot, lambda: "<rFE" in area.text and "<iTpEmis>02</iTpEmis>" in area.text)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "due now" in str(app.screen.query_one("#fiscal-message").render()))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SaleScreen))
