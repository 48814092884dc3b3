"""The portal through its ASGI app (Starlette's TestClient, on httpx): links, the form, CSRF, headers, logs.

Both databases: the handlers run the services in worker threads, each with its own connection.
"""

import datetime as dt
import logging
import re

import pytest
from starlette.testclient import TestClient

from tests.service.test_loyalty import program  # noqa: F401 - the fixture
from tests.service.test_portal import SECRET, person, sell, shop, token_of  # noqa: F401 - shop is a fixture
from tui_pos.models import ConsentEvent, Customer
from tui_pos.portal.app import CSP, create_app
from tui_pos.services import customers, loyalty, portal

SETTINGS = portal.Settings(secret=SECRET, store="Café Sol")


@pytest.fixture
def client(demo):
    with TestClient(create_app(SETTINGS), follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def post(client, token, csrf, **fields):
    data = {"csrf": csrf, "name": "Ana María", "email": "ana@example.com", "birthday": "1990-05-31",
            "sms_consent": "yes", **fields}
    return client.post(f"/a/{token}", data={k: v for k, v in data.items() if v is not None})


def test_the_account_page_shows_the_customer_and_the_form(program, shop, client):  # noqa: F811
    ana = person()
    eva = person("Eva", mobile="6123-4599")
    loyalty.opening_balance(ana.id, 160)
    mine = sell(shop, ana.id, "CAPP")
    theirs = sell(shop, eva.id, "MUG")
    r = client.get(f"/a/{token_of(ana.id, SETTINGS)}")
    assert r.status_code == 200
    html = r.text
    balance = Customer.get_by_id(ana.id).points_balance
    assert f"{balance} points" in html and "Silver" in html and mine.receipt_no in html
    assert theirs.receipt_no not in html and "Eva" not in html          # nothing of any other customer
    for name in ("name", "email", "birthday", "sms_consent", "email_consent", "csrf"):
        assert f'name="{name}"' in html
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-security-policy"] == CSP and "script-src" not in CSP
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-frame-options"] == "DENY"
    assert "<script" not in html


def test_save_bad_value_then_good_one(client):
    c = person(email="old@example.com")
    token = token_of(c.id, SETTINGS)
    page = client.get(f"/a/{token}")
    bad = post(client, token, csrf_of(page.text), email="ana@")
    assert bad.status_code == 400
    assert "Nothing was saved" in bad.text and "Email:" in bad.text and 'value="ana@"' in bad.text
    assert Customer.get_by_id(c.id).email == "old@example.com"
    good = post(client, token, csrf_of(bad.text))
    assert good.status_code == 303 and good.headers["location"] == f"/a/{token}?saved=1"
    row = Customer.get_by_id(c.id)
    assert (row.name, row.email, row.birthday, row.sms_consent, row.email_consent) == \
        ("Ana María", "ana@example.com", dt.date(1990, 5, 31), True, False)
    assert {e.source for e in ConsentEvent.select().where(ConsentEvent.customer == c.id)} == {"portal"}
    assert "Saved" in client.get(good.headers["location"]).text


def test_csrf_is_required_and_bound_to_the_browser_and_the_link(client):
    c = person()
    token = token_of(c.id, SETTINGS)
    csrf = csrf_of(client.get(f"/a/{token}").text)
    assert post(client, token, None).status_code == 403                 # no field
    assert post(client, token, "0" * 64).status_code == 403             # a made-up one
    other = person("Eva", mobile="6123-4599")
    assert post(client, token_of(other.id, SETTINGS), csrf).status_code == 403   # another link's
    with TestClient(create_app(SETTINGS), follow_redirects=False) as stranger:   # no cookie: a forged post
        assert post(stranger, token, csrf).status_code == 403
    assert Customer.get_by_id(c.id).name == "Ana"


def test_bad_links_answer_404_or_410_and_show_nothing(client):
    c = person("Zoë Secret")
    token = token_of(c.id, SETTINGS)
    old = token_of(c.id, SETTINGS, dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    forged = token[:-1] + ("x" if token[-1] != "x" else "y")   # changed (a token ending in "x" was sent as it was)
    for path, status in ((f"/a/{forged}", 404), ("/a/nothing", 404), (f"/a/{old}", 410), ("/elsewhere", 404)):
        r = client.get(path)
        assert r.status_code == status, path
        assert "Zoë" not in r.text and "csrf" not in r.text and r.headers["cache-control"] == "no-store"
    assert client.post(f"/a/{old}", data={"name": "X"}).status_code == 410
    customers.forget(Customer.get_by_id(c.id).code)
    assert client.get(f"/a/{token}").status_code == 410


def test_what_the_customer_types_is_escaped(client):
    c = person('<b onmouseover="x">Ana</b>')
    html = client.get(f"/a/{token_of(c.id, SETTINGS)}").text
    assert "<b onmouseover" not in html and "&lt;b onmouseover=&#34;x&#34;&gt;" in html


def test_the_log_has_no_token_and_no_personal_data(client, caplog):
    c = person("Ana Lopez", email="ana.lopez@example.com")
    token = token_of(c.id, SETTINGS)
    with caplog.at_level(logging.INFO):          # the level `tui-pos` logs at (bootstrap.setup_logging)
        page = client.get(f"/a/{token}")
        post(client, token, csrf_of(page.text), email="bad@")
        client.get(f"/a/{token}x")
    # what the portal process writes (not the test client's own httpx lines)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "/a/{token}" in text
    for secret in (token, Customer.get_by_id(c.id).code, "Ana", "ana.lopez", "bad@", "6123"):
        assert secret not in text


def test_send_me_a_new_link_says_the_same_known_or_not(client):
    from tui_pos.models import Message
    person(mobile="6123-4567")
    form = client.get("/link")
    assert form.status_code == 200 and 'name="phone"' in form.text
    csrf = csrf_of(form.text)
    assert client.post("/link", data={"phone": "6123-4567"}).status_code == 403        # no CSRF field
    known = client.post("/link", data={"csrf": csrf, "phone": "6123-4567"})
    unknown = client.post("/link", data={"csrf": csrf, "phone": "6999-0000"})
    assert known.status_code == unknown.status_code == 200 and known.text == unknown.text
    assert "a text message with a new link is on its way" in known.text
    assert Message.select().count() == 1
    answers = [client.post("/link", data={"csrf": csrf, "phone": f"6000-00{i:02d}"}).status_code for i in range(10)]
    assert answers[-1] == 429                                              # per address: 10 an hour
    assert client.get("/a/nothing").text.count('href="/link"') == 1        # the dead-link page offers one


def test_a_marketing_emails_unsubscribe_link_lands_here(client):
    from tui_pos.domain import messages as rules
    c = person(email="ana@example.com", email_consent=True)
    token = rules.sign(Customer.get_by_id(c.id).code, SECRET)
    assert client.get(f"/u/{token[:-1]}{'x' if token[-1] != 'x' else 'y'}").status_code == 404
    assert client.get(f"/u/{token_of(c.id, SETTINGS)}").status_code == 404      # an account token is not one
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "Unsubscribe" in page.text and "ana@" not in page.text
    assert client.post(f"/u/{token}", data={}).status_code == 403
    done = client.post(f"/u/{token}", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "no more offers" in done.text
    row = Customer.get_by_id(c.id)
    assert (row.email_consent, row.marketing_opt_out) == (False, True)
    assert [e.source for e in ConsentEvent.select().where(ConsentEvent.customer == c.id,
                                                          ConsentEvent.channel == "email")][-1] == "unsubscribe"


def test_purchases_come_twenty_a_page_newest_first_with_older_and_newer_links(shop, client):  # noqa: F811
    """Issue 21: "their purchases: each receipt with its number, date, lines, total" -- a page at a time on a
    phone, newest first; a page number that is not one shows the first page."""
    ana = person()
    numbers = [sell(shop, ana.id, "ESP").receipt_no for _ in range(portal.RECEIPTS_SHOWN + 3)]
    token = token_of(ana.id, SETTINGS)
    first = client.get(f"/a/{token}").text
    shown = re.findall(r'<span class="no">([^<]+)</span>', first)
    assert shown == numbers[::-1][:portal.RECEIPTS_SHOWN]
    assert '?purchases=2#receipts-h" rel="next"' in first and 'rel="prev"' not in first
    second = client.get(f"/a/{token}?purchases=2").text
    assert re.findall(r'<span class="no">([^<]+)</span>', second) == numbers[::-1][portal.RECEIPTS_SHOWN:]
    assert '?purchases=1#receipts-h" rel="prev"' in second and 'rel="next"' not in second
    for odd in ("0", "-1", "two", "99999", "1e30"):
        page = client.get(f"/a/{token}", params={"purchases": odd})
        assert page.status_code == 200
    assert "No purchases yet" not in client.get(f"/a/{token}?purchases=9").text
