"""The loop in a real browser (issue 21): a customer's second visit queues the SMS invitation; its link,
opened in Debian's chromium (Playwright, no browser download), shows the account page; a bad email is
refused naming the field, the fixed one is saved, and the balance and the receipts are there.

Skipped without /usr/bin/chromium or Playwright, except where TUI_POS_REQUIRE_BROWSER is set (`.ci/run`):
there it fails instead. Both databases. TUI_POS_UPDATE_SCREENSHOTS=1 also writes docs/portal-account.png.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.service.test_loyalty import program  # noqa: F401 - the fixture
from tests.service.test_portal import SECRET, person, sell
from tui_pos.config import from_dict
from tui_pos.models import ConsentEvent, Customer, Message
from tui_pos.services import loyalty, messaging, portal
from tui_pos.services.sales import SaleService

CHROMIUM = os.environ.get("TUI_POS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = Path(__file__).parents[2] / "docs" / "portal-account.png"
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


def _need_browser():
    why = None
    if not Path(CHROMIUM).exists():
        why = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "Playwright for Python is not installed (the test extra)"
    if why:
        if os.environ.get("TUI_POS_REQUIRE_BROWSER"):
            pytest.fail(f"the browser test is required here (TUI_POS_REQUIRE_BROWSER) but {why}")
        pytest.skip(why)


@pytest.fixture
def served(demo):
    """The portal on a free local port, served by uvicorn in a thread, as `tui-pos portal` serves it."""
    _need_browser()
    import uvicorn

    from tui_pos.portal.app import create_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = portal.Settings(secret=SECRET, store="Café Sol", public_url=base)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, access_log=False,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def test_invitation_link_form_with_a_bad_email_then_balance_and_receipts(program, served):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    cfg = from_dict({"store": {"name": "Café Sol"}, "messages": {"secret": SECRET},
                     "portal": {"public_url": served}})
    shop = SaleService("R1", messaging=messaging.Settings.from_config(cfg))
    ana = person("Ana", sms_consent=True)
    loyalty.opening_balance(ana.id, 160)
    first = sell(shop, ana.id, "CAPP", "ESP")
    second = sell(shop, ana.id, "CAPP")                  # the second visit queues the invitation
    invite = Message.get(Message.template == "invite")
    _, _, text = messaging.render(messaging.Settings.from_config(cfg), invite, Customer.get_by_id(ana.id))
    link = next(word for word in text.split() if word.startswith(f"{served}/a/"))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                    locale="en-US")
            page.goto(link)
            expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ana")
            balance = Customer.get_by_id(ana.id).points_balance
            expect(page.locator("#balance")).to_have_text(f"{balance} points")

            page.get_by_label("Name", exact=True).fill("Ana María")
            page.get_by_label("Email", exact=True).fill("ana@")
            page.get_by_label("Birthday (YYYY-MM-DD)").fill("1990-05-31")
            page.get_by_label("Offers and news by email").check()
            page.get_by_role("button", name="Save").click()
            alert = page.get_by_role("alert")
            expect(alert).to_contain_text("Nothing was saved")
            expect(alert).to_contain_text("Email:")
            expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")
            assert Customer.get_by_id(ana.id).email is None                      # nothing written

            page.get_by_label("Email", exact=True).fill("ana@example.com")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status")).to_have_text("Saved. Thank you.")
            expect(page.get_by_label("Email", exact=True)).to_have_value("ana@example.com")
            expect(page.locator("#balance")).to_have_text(f"{balance} points")
            expect(page.get_by_text(first.receipt_no, exact=True)).to_be_visible()
            expect(page.get_by_text(second.receipt_no, exact=True)).to_be_visible()
            page.get_by_text(first.receipt_no, exact=True).click()                        # open the receipt's lines
            expect(page.get_by_role("cell", name="Espresso")).to_be_visible()
            shot = page.screenshot(full_page=True)
        finally:
            browser.close()

    row = Customer.get_by_id(ana.id)
    assert (row.name, row.email, str(row.birthday), row.email_consent) == \
        ("Ana María", "ana@example.com", "1990-05-31", True)
    assert ConsentEvent.select().where(ConsentEvent.customer == ana.id, ConsentEvent.source == "portal").count() == 1
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("TUI_POS_UPDATE_SCREENSHOTS"):
        SCREENSHOT.write_bytes(shot)


def test_order_again_from_a_receipt_arrives_parked_in_web_mode_on_the_register(program, served):  # noqa: F811
    """Issue 21 item 4: "Order again" on a past receipt, one quantity changed and a pick-up time, sent; the note
    is parked in sales mode web with the customer, and F12's list (SaleService.parked) shows it with her name."""
    from playwright.sync_api import expect, sync_playwright

    from tui_pos.models import Note, NoteLine
    from tui_pos.services.sales import SaleService as Counter
    shop = Counter("R1")
    ana = person("Ana")
    sold = sell(shop, ana.id, "CAPP", "ESP")
    settings = portal.Settings(secret=SECRET, store="Café Sol", public_url=served)
    link = f"{served}/a/{portal.new_token(Customer.get_by_id(ana.id).code, settings)}"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
            page.goto(link)
            page.get_by_role("link", name="Order again what you bought on", exact=False).first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Order for pick-up")
            page.get_by_label("Cappuccino").fill("3")
            page.get_by_label("A note for the store (such as when you will come)").fill("today 17:30")
            page.get_by_role("button", name="Send my order").click()
            status = page.locator("#ordered")
            expect(status).to_contain_text("sent")
            expect(page.locator(".state").first).to_have_text("Sent: waiting at the store")
        finally:
            browser.close()

    note = Note.get(Note.sales_mode == "web")
    assert (note.status, note.customer_id, note.register.code) == ("parked", ana.id, "R1")
    assert {(ln.sku, ln.qty) for ln in NoteLine.select().where(NoteLine.note == note.id)} == {("CAPP", 3),
                                                                                               ("ESP", 1)}
    [listed] = [n for n in shop.parked() if n.id == note.id]
    assert "Ana" in listed.label and "today 17:30" in listed.label
    assert sold.receipt_no
