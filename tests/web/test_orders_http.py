"""Order for pick-up through the portal's ASGI app (issue 21 item 4): the account page's block, a past receipt
ordered again, a search, CSRF, the checks, and the order's state. Both databases."""

import re

import pytest
from starlette.testclient import TestClient

from tests.service.test_portal import SECRET, person, sell, shop, token_of  # noqa: F401 - shop is a fixture
from tests.web.test_portal_http import csrf_of
from tui_pos.models import Note, NoteLine, Product
from tui_pos.portal.app import create_app
from tui_pos.services import portal

SETTINGS = portal.Settings(secret=SECRET, store="Café Sol", max_lines=3)


@pytest.fixture
def client(demo):
    with TestClient(create_app(SETTINGS), follow_redirects=False) as c:
        yield c


def qty_fields(html):
    return dict(re.findall(r'name="(qty_\d+)" value="(\d+)"', html))


def test_order_again_from_a_receipt_then_its_state(shop, client):  # noqa: F811
    ana = person("Ana")
    sold = sell(shop, ana.id, "CAPP", "CAPP", "ESP")
    token = token_of(ana.id, SETTINGS)
    account = client.get(f"/a/{token}").text
    assert "Order for pick-up" in account and f"/a/{token}/order?from={sold.receipt_no}" in account
    page = client.get(f"/a/{token}/order?from={sold.receipt_no}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    fields = qty_fields(page.text)
    assert sorted(fields.values()) == ["1", "2"]
    sent = client.post(f"/a/{token}/order", data={"csrf": csrf_of(page.text), **fields, "note": "at 17:30"})
    assert sent.status_code == 303
    note = Note.get(Note.sales_mode == "web")
    assert sent.headers["location"] == f"/a/{token}?ordered=W{note.id}#orders"
    assert (note.status, note.customer_id) == ("parked", ana.id) and "Ana" in note.label
    shown = client.get(sent.headers["location"]).text
    assert f"Order W{note.id} sent" in shown and "Sent: waiting at the store" in shown and "at 17:30" in shown
    shop.resume(note.id)
    assert "Being prepared" in client.get(f"/a/{token}").text
    shop.park(note.id)
    ready = client.get(f"/a/{token}", headers={"Accept-Language": "es-PA,es;q=0.9"}).text
    assert "Listo para recoger en caja" in ready
    import datetime as dt

    from babel.dates import format_date
    again = re.search(r"Volver a pedir lo que compró el [^<]*", ready)
    assert again and format_date(dt.date.today(), "medium", locale="es") in again.group(0)   # not an ISO date
    shop.resume(note.id)
    shop.pay(note.id, "cash", 5000)
    assert "Collected" in client.get(f"/a/{token}").text


def test_search_then_order_and_the_checks(shop, client):  # noqa: F811
    ana = person()
    token = token_of(ana.id, SETTINGS)
    page = client.get(f"/a/{token}/order", params={"q": "capp"})
    assert "Cappuccino" in page.text
    capp = f"qty_{Product.get(Product.sku == 'CAPP').id}"
    csrf = csrf_of(page.text)
    assert client.post(f"/a/{token}/order", data={capp: "1"}).status_code == 403              # no CSRF
    assert client.post(f"/a/{token}/order", data={"csrf": "0" * 64, capp: "1"}).status_code == 403
    for value, said in [("0", "at least one"), ("10000", "more than 9999"), ("two", "whole number")]:
        bad = client.post(f"/a/{token}/order", data={"csrf": csrf, capp: value})
        assert bad.status_code == 400 and "Nothing was sent" in bad.text and said in bad.text
    many = {f"qty_{p.id}": "1" for p in Product.select().where(Product.active == True).limit(4)}  # noqa: E712
    assert "at most 3 lines" in client.post(f"/a/{token}/order", data={"csrf": csrf, **many}).text
    spanish = client.post(f"/a/{token}/order", data={"csrf": csrf, **many}, headers={"Accept-Language": "es"})
    assert "Un pedido tiene como máximo 3 líneas." in spanish.text        # the service's words, translated
    assert not Note.select().where(Note.sales_mode == "web").exists()
    ok = client.post(f"/a/{token}/order", data={"csrf": csrf, capp: "2"})
    assert ok.status_code == 303
    assert [ln.qty for ln in NoteLine.select().join(Note).where(Note.sales_mode == "web")] == [2]


def test_nothing_of_anyone_else_and_a_forged_link_orders_nothing(shop, client):  # noqa: F811
    ana, eva = person(), person("Eva", mobile="6123-4599")
    theirs = sell(shop, eva.id, "MUG")
    token = token_of(ana.id, SETTINGS)
    page = client.get(f"/a/{token}/order?from={theirs.receipt_no}")
    assert page.status_code == 200 and qty_fields(page.text) == {} and "Store mug" not in page.text
    assert client.get(f"/a/{token}x/order").status_code == 404
    capp = f"qty_{Product.get(Product.sku == 'CAPP').id}"
    assert client.post(f"/a/{token}x/order", data={"csrf": "x", capp: "1"}).status_code == 404
    assert not Note.select().where(Note.sales_mode == "web").exists()


def test_no_web_mode_no_orders(demo):
    closed = portal.Settings(secret=SECRET, sales_modes=("counter",))
    with TestClient(create_app(closed), follow_redirects=False) as c:
        token = token_of(person().id, closed)
        assert "Order for pick-up" not in c.get(f"/a/{token}").text
        assert c.get(f"/a/{token}/order").status_code == 404


def test_cancel_a_sent_order_from_the_account_page(shop, client):  # noqa: F811
    ana = person()
    token = token_of(ana.id, SETTINGS)
    page = client.get(f"/a/{token}/order", params={"q": "capp"})
    capp = f"qty_{Product.get(Product.sku == 'CAPP').id}"
    assert client.post(f"/a/{token}/order", data={"csrf": csrf_of(page.text), capp: "1"}).status_code == 303
    note = Note.get(Note.sales_mode == "web")
    account = client.get(f"/a/{token}").text
    assert f"Cancel order W{note.id}" in account
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"><input type="hidden" name="order"', account).group(1)
    assert client.post(f"/a/{token}/order/cancel", data={"order": f"W{note.id}"}).status_code == 403
    done = client.post(f"/a/{token}/order/cancel", data={"csrf": csrf, "order": f"W{note.id}"})
    assert done.status_code == 303 and done.headers["location"] == f"/a/{token}?cancelled=W{note.id}#orders"
    assert Note.get_by_id(note.id).status == "cancelled"
    shown = client.get(done.headers["location"]).text
    assert f"Order W{note.id} cancelled." in shown and f"Cancel order W{note.id}" not in shown
    again = client.post(f"/a/{token}/order/cancel", data={"csrf": csrf, "order": f"W{note.id}"})
    assert "notcancelled" in again.headers["location"]
