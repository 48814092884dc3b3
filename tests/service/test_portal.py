"""The customer's account (issue 21) as services: the link, what the page shows, the customer's own save.

Both databases. The web layer is tested through the ASGI app in tests/web/.
"""

import datetime as dt

import pytest

from tests.service.test_loyalty import program  # noqa: F401 - the fixture
from tui_pos.config import from_dict
from tui_pos.domain import portal as link_rules
from tui_pos.models import AuditLog, ConsentEvent, Customer, Message, Product
from tui_pos.services import consent, customers, loyalty, messaging, portal
from tui_pos.services.sales import SaleService

SECRET = "portal-test-secret"
PUBLIC = "https://account.sol.example"
UTC = dt.UTC


def config(**portal_keys):
    return from_dict({"store": {"name": "Café Sol"}, "messages": {"secret": SECRET},
                      "portal": {"public_url": PUBLIC, **portal_keys}})


@pytest.fixture
def settings():
    return portal.Settings.from_config(config())


@pytest.fixture
def shop(demo):
    return SaleService("R1", messaging=messaging.Settings.from_config(config()))


def person(name="Ana", mobile="6123-4567", **kw):
    return customers.create({"name": name, "mobile": mobile, **kw}, region="PA")


def sell(sales, customer_id, *codes):
    note = sales.open_note()
    for code in codes or ("CAPP",):
        sales.add_item(note, code)
    sales.attach_customer(note, customer_id)
    return sales.pay(note, "cash", 5000)


def token_of(customer_id, settings, now=None):
    return portal.new_token(Customer.get_by_id(customer_id).code, settings, now)


# ------------------------------------------------------------------ the link

def test_the_second_visit_invitation_links_to_the_portal_when_profile_url_is_not_set(shop, settings):
    c = person(sms_consent=True)
    sell(shop, c.id)
    sell(shop, c.id)
    m = Message.get()
    assert (m.template, m.channel) == ("invite", "sms")
    _, _, text = messaging.render(messaging.Settings.from_config(config()), m, Customer.get_by_id(c.id))
    link = next(w for w in text.split() if w.startswith(PUBLIC))
    assert link.startswith(f"{PUBLIC}/a/")
    assert portal.open_link(link.rsplit("/", 1)[1], settings) == c.id


def test_profile_url_when_set_still_wins(demo):
    cfg = from_dict({"messages": {"secret": SECRET, "profile_url": "https://shop.example/p?t={token}"},
                     "portal": {"public_url": PUBLIC}})
    assert messaging.invite_link(messaging.Settings.from_config(cfg), "C000001").startswith(
        "https://shop.example/p?t=C000001.")


def test_the_unsubscribe_link_defaults_to_the_portal():
    assert messaging.Settings.from_config(config()).unsubscribe_url == f"{PUBLIC}/u/{{token}}"
    own = from_dict({"messages": {"secret": SECRET, "unsubscribe_url": "https://shop.example/u?t={token}"},
                     "portal": {"public_url": PUBLIC}})
    assert messaging.Settings.from_config(own).unsubscribe_url == "https://shop.example/u?t={token}"
    assert messaging.Settings.from_config(from_dict({})).unsubscribe_url == ""


def test_forged_foreign_expired_and_forgotten_links_open_nothing(demo, settings):
    c = person()
    code = Customer.get_by_id(c.id).code
    good = token_of(c.id, settings)
    assert portal.open_link(good, settings) == c.id

    def status(token, s=settings, now=None):
        with pytest.raises(portal.LinkError) as exc:
            portal.open_link(token, s, now)
        return exc.value.status

    assert status(good[:-2] + ("AA" if not good.endswith("AA") else "BB")) == 404      # forged MAC
    assert status(good.replace(code, "C999999")) == 404                                 # another customer's code
    assert status("garbage") == 404 and status("") == 404
    other_store = portal.Settings(secret="another-secret")
    assert status(portal.new_token(code, other_store), settings) == 404                 # signed elsewhere
    from tui_pos.domain import messages as rules
    assert status(rules.sign(code, SECRET)) == 404       # an unsubscribe link's token is not an account link
    old = dt.datetime.now(UTC) - dt.timedelta(days=31)
    assert status(token_of(c.id, settings, old)) == 410                                 # older than link_days
    assert portal.open_link(token_of(c.id, settings, old), portal.Settings(secret=SECRET, link_days=60)) == c.id
    customers.forget(code)
    assert status(good) == 410                                                          # forgotten: dead


def test_link_rules_read_what_make_wrote():
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    token = link_rules.make("C.WITH.DOTS", SECRET, now)
    link = link_rules.read(token, SECRET)
    assert link == link_rules.Link("C.WITH.DOTS", now)
    assert not link_rules.expired(link, now + dt.timedelta(days=30), 30)
    assert link_rules.expired(link, now + dt.timedelta(days=30, seconds=1), 30)
    assert link_rules.expired(link, now - dt.timedelta(hours=1), 30)                    # from the future
    assert link_rules.url(PUBLIC + "/", "A B") == f"{PUBLIC}/a/A%20B"


# ------------------------------------------------------------------ what the customer sees

def test_the_account_shows_balance_tier_offers_and_only_their_receipts(program, shop, settings):  # noqa: F811
    ana = person()
    eva = person("Eva", mobile="6123-4599")
    loyalty.opening_balance(ana.id, 160)
    first = sell(shop, ana.id, "CAPP", "ESP")
    sell(shop, eva.id, "MUG")                                            # another customer's sale
    a = portal.account(ana.id, settings)
    ana_row = Customer.get_by_id(ana.id)
    assert a.name == "Ana" and a.has_program
    assert a.balance == f"{ana_row.points_balance} points"
    assert a.tier == "Bronze" and a.next_tier == "Silver"
    assert a.next_needs == f"{500 - ana_row.points_earned} points"
    assert [p.name for p in a.affordable] == [Product.get(Product.sku == "ESP").name]   # 150 <= balance
    assert a.affordable[0].cost == "150 points"
    assert len(a.receipts) == 1
    r = a.receipts[0]
    assert r.number == first.receipt_no and r.kind == "sale"
    assert [(ln.name, ln.qty) for ln in r.lines] == [(n, 1) for n in
                                                     (Product.get(Product.sku == "CAPP").name,
                                                      Product.get(Product.sku == "ESP").name)]
    assert r.earned.endswith("points") and r.total.startswith("$")
    assert Product.get(Product.sku == "MUG").name not in {ln.name for x in a.receipts for ln in x.lines}


def test_without_a_program_the_balance_is_still_said(demo, settings):
    c = person()
    a = portal.account(c.id, settings)
    assert (a.balance, a.tier, a.receipts, a.has_program) == ("0 points", "", (), False)


# ------------------------------------------------------------------ the customer's own save

def form(**kw):
    return {"name": "Ana María", "email": "ana@example.com", "birthday": "1990-05-31", "sms_consent": True,
            "email_consent": True, **kw}


def test_a_bad_value_names_the_field_and_writes_nothing(demo, settings):
    c = person(email="old@example.com")
    before = Customer.get_by_id(c.id)
    for bad, field in ((form(email="ana@"), "email"), (form(birthday="2999-01-01"), "birthday"),
                       (form(birthday="31/05/1990"), "birthday"), (form(name="  "), "name"),
                       (form(name="Ana\x1b[2J"), "name")):
        with pytest.raises(customers.FormError) as exc:
            portal.portal_update(c.id, bad, settings)
        assert field in exc.value.errors
    after = Customer.get_by_id(c.id)
    assert (after.name, after.email, after.birthday, after.sms_consent) == \
        (before.name, before.email, before.birthday, before.sms_consent)
    assert ConsentEvent.select().where(ConsentEvent.customer == c.id).count() == 0


def test_the_customer_changes_their_own_filled_fields_without_a_pin(demo, settings):
    c = person(email="old@example.com", birthday="1980-01-01")   # held values: staff would need customer_edit
    changed = portal.portal_update(c.id, form(), settings)
    assert set(changed) == {"name", "email", "birthday", "sms_consent", "email_consent"}
    row = Customer.get_by_id(c.id)
    assert (row.name, row.email, row.birthday) == ("Ana María", "ana@example.com", dt.date(1990, 5, 31))
    assert customers.lookup("maria", region="PA").customers[0].id == c.id      # the name's search words too
    rows = consent.history(c.id)
    assert {(r.channel, r.granted, r.source) for r in rows} == {("sms", True, "portal"), ("email", True, "portal")}
    entry = AuditLog.select().where(AuditLog.action == "customer.portal").get()
    assert "ana@example.com" not in entry.detail and "Ana" not in entry.detail     # field names only

    portal.portal_update(c.id, form(sms_consent=False), settings)              # unticked: withdrawn
    assert Customer.get_by_id(c.id).sms_consent is False
    assert consent.history(c.id)[0].text == "withdrew SMS messages (portal)"
    assert portal.portal_update(c.id, form(sms_consent=False), settings) == []  # nothing new: nothing written


def test_staff_gate_is_unchanged(demo):
    from tui_pos.domain.errors import PosError
    c = person(email="old@example.com")
    with pytest.raises(PosError):
        customers.update(c.id, {"email": "new@example.com"}, region="PA")     # still needs customer_edit


# ------------------------------------------------------------------ "send me a new link"

def test_a_new_link_by_phone_known_or_not_and_rate_limited(demo, settings):
    ana = person(mobile="6123-4567")
    person("Luis", mobile="6123-4568", invite_declined=True)
    limits = portal.Limits()
    now = dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert portal.request_link("6123 4567", "10.0.0.1", settings, limits, now) is True
    assert portal.request_link("6999-0000", "10.0.0.2", settings, limits, now) is True      # unknown: same answer
    assert portal.request_link("not a phone", "10.0.0.3", settings, limits, now) is True
    assert portal.request_link("6123-4568", "10.0.0.4", settings, limits, now) is True      # declined: no SMS
    assert [(m.customer_id, m.template, m.channel, m.key) for m in Message.select()] == \
        [(ana.id, "invite", "sms", f"link:{ana.id}:{int(now.timestamp() // 3600)}")]
    assert portal.request_link("+50761234567", "10.0.0.5", settings, limits, now) is True   # same hour: one SMS
    assert Message.select().count() == 1
    assert portal.request_link("6123-4567", "10.0.0.7", settings, limits, now) is True
    assert portal.request_link("61234567", "10.0.0.6", settings, limits, now) is False      # 4th try, this phone
    for i in range(10):
        portal.request_link(f"6000-00{i:02d}", "10.9.9.9", settings, limits, now)
    assert portal.request_link("6000-0099", "10.9.9.9", settings, limits, now) is False     # 11th, this address
    later = now + dt.timedelta(hours=1, seconds=1)
    assert portal.request_link("61234567", "10.0.0.6", settings, limits, later) is True
    assert Message.select().count() == 2
    m = Message.select().order_by(Message.id.desc()).get()
    _, _, text = messaging.render(messaging.Settings.from_config(config()), m, Customer.get_by_id(ana.id))
    assert f"{PUBLIC}/a/" in text


# ------------------------------------------------------------------ the counter's side of the loop (item 6)

def test_a_phone_typed_at_the_counter_closes_the_loop(shop, settings):
    """Seed 001: a phone at the register, the invitation on the second visit, the customer's own details, and
    the register shows them on the next visit."""
    c = customers.create_with_phone("6123-4567", region="PA")          # F2: created on the spot
    sell(shop, c.id)
    assert Message.select().count() == 0
    sell(shop, c.id)
    invite = Message.get(Message.template == "invite")
    _, _, text = messaging.render(messaging.Settings.from_config(config()), invite, Customer.get_by_id(c.id))
    token = next(w for w in text.split() if w.startswith(f"{PUBLIC}/a/")).rsplit("/", 1)[1]
    customer_id = portal.open_link(token, settings)
    portal.portal_update(customer_id, {"name": "Ana Pérez", "email": "ana@example.com", "birthday": "1990-05-31",
                                       "sms_consent": "yes"}, settings)
    at_the_register = customers.lookup("6123-4567", region="PA").customers[0]
    assert (at_the_register.id, at_the_register.name, at_the_register.email) == (c.id, "Ana Pérez",
                                                                                 "ana@example.com")
    sell(shop, c.id)
    assert Message.select().where(Message.template == "invite").count() == 1     # complete now: no second one
