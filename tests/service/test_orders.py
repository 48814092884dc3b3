"""Web orders from the customer's account (issue 21 item 4, seed 004's Webshop): sent from a past receipt or a
search, parked on the web-order register in sales mode `web` with the customer, listed by F12 (SaleService's
parked list) with their name, repriced when resumed, the loyalty program's sales-mode rules when paid, and the
state the customer sees. Both databases."""

import textwrap

import pytest

from tests.service.test_loyalty import PROGRAM
from tests.service.test_portal import person, sell
from tui_pos.models import AuditLog, Note, NoteLine, Product, StampCard
from tui_pos.services import loyalty, orders, portal
from tui_pos.services.sales import SaleService

SETTINGS = portal.Settings(secret="s", store="Café Sol", max_lines=3)


@pytest.fixture
def counter(demo):
    return SaleService("R1", sales_modes=["counter", "takeaway", "delivery", "web"])


def pid(sku):
    return Product.get(Product.sku == sku).id


def test_order_again_a_receipt_arrives_parked_in_web_mode_and_f12_lists_it_with_the_name(counter):
    ana = person("Ana María")
    sold = sell(counter, ana.id, "CAPP", "CAPP", "ESP")
    offered = orders.from_receipt(ana.id, sold.receipt_no, SETTINGS)
    assert {(c.name, c.qty) for c in offered} == {("Cappuccino", 2), ("Espresso", 1)}
    note_id = orders.place(ana.id, {c.id: c.qty for c in offered}, "pick up at 17:30\u202e", SETTINGS)
    note = Note.get_by_id(note_id)
    assert (note.status, note.sales_mode, note.customer_id, note.register.code) == ("parked", "web", ana.id, "R1")
    assert {(ln.sku, ln.qty) for ln in NoteLine.select().where(NoteLine.note == note_id)} == {("CAPP", 2),
                                                                                               ("ESP", 1)}
    listed = [p for p in counter.parked() if p.id == note_id]
    assert len(listed) == 1 and "Ana María" in listed[0].label and "pick up at 17:30" in listed[0].label
    assert "\u202e" not in listed[0].label                                    # no bidi override in F12's list
    assert AuditLog.select().where(AuditLog.action == "order.web").count() == 1
    [order] = orders.orders(ana.id)
    assert (order.state, order.number, order.note) == ("sent", f"W{note_id}", "pick up at 17:30")


def test_states_sent_preparing_ready_collected_and_cancelled(counter):
    ana = person()
    first = orders.place(ana.id, {pid("CAPP"): 1}, "", SETTINGS)
    second = orders.place(ana.id, {pid("MUG"): 1}, "", SETTINGS)
    state = lambda: {o.id: o.state for o in orders.orders(ana.id)}  # noqa: E731
    assert state() == {first: "sent", second: "sent"}
    counter.resume(first)                                  # the cashier takes it with F12: being prepared
    assert state()[first] == "preparing"
    assert counter.park(first) == "ready"                  # F11 once it is made: ready for pick-up
    assert state()[first] == "ready"
    counter.resume(first)                                  # the customer is at the counter: still ready
    assert state()[first] == "ready"
    paid = counter.pay(first, "cash", 5000)
    assert state()[first] == "collected"
    assert [o.receipt_no for o in orders.orders(ana.id) if o.id == first] == [paid.receipt_no]
    counter.resume(second)
    Note.update(status="cancelled").where(Note.id == second).execute()   # cancelled at the counter
    assert state()[second] == "cancelled"
    assert orders.orders(person("Eva", mobile="6123-4599").id) == []         # nothing of anyone else


def test_the_order_is_checked_before_anything_is_written(counter):
    ana = person()
    Product.update(active=False).where(Product.sku == "MUG").execute()
    cases = [({}, "at least one"), ({pid("CAPP"): 10_000}, "more than 9999"), ({pid("CAPP"): -1}, "at least 1"),
             ({pid("MUG"): 1}, "no longer sold"), ({999_999: 1}, "no longer sold"),
             ({pid(s): 1 for s in ("CAPP", "ESP", "LATT", "MUFB")}, "at most 3 lines")]
    for quantities, said in cases:
        with pytest.raises(orders.OrderError, match=said):
            orders.place(ana.id, quantities, "", SETTINGS)
    assert not Note.select().where(Note.sales_mode == "web").exists()
    with pytest.raises(orders.OrderError, match="no orders"):
        orders.place(ana.id, {pid("CAPP"): 1}, "", portal.Settings(sales_modes=("counter",)))


def test_a_receipt_of_someone_else_offers_nothing_and_search_offers_only_sold_products(counter):
    ana, eva = person(), person("Eva", mobile="6123-4599")
    theirs = sell(counter, eva.id, "CAPP")
    assert orders.from_receipt(ana.id, theirs.receipt_no, SETTINGS) == []
    Product.update(active=False).where(Product.sku == "ESP").execute()
    assert "Cappuccino" in [c.name for c in orders.search("capp", SETTINGS)]
    assert "Espresso" not in [c.name for c in orders.search("espr", SETTINGS)]
    assert orders.search("c", SETTINGS) == []                                  # two letters at least


def test_the_register_is_the_configured_one_or_the_stores_first(counter):
    counter.open_note()                                                          # R1 exists
    SaleService("R2").open_note()
    assert orders.register_code(SETTINGS) == "R1"
    web = portal.Settings(register="WEB")
    ana = person()
    note_id = orders.place(ana.id, {pid("CAPP"): 1}, "", web)
    assert Note.get_by_id(note_id).register.code == "WEB"
    assert note_id in [p.id for p in SaleService("WEB").parked()]
    assert note_id not in [p.id for p in counter.parked()]


def test_prices_of_the_day_when_resumed(counter):
    ana = person()
    note_id = orders.place(ana.id, {pid("CAPP"): 1}, "", SETTINGS)
    Product.update(price_cents=999).where(Product.sku == "CAPP").execute()     # the price changed since
    counter.resume(note_id)
    assert counter.view(note_id).lines[0].unit_price_cents == 999


def test_the_programs_web_sales_mode_rules_apply_when_paid(counter, tmp_path):
    """Seed 004: "more attractive loyalty offers" on "a specific sales mode such as your Webshop"."""
    path = tmp_path / "web.toml"
    path.write_text(PROGRAM + textwrap.dedent('''
        [[offers]]
        name = "web stamps"
        section = "Coffee"
        count = 10
        reward_sku = "ESP"
        sales_modes = ["web"]
    '''))
    loyalty.import_program(path, sales_modes=["counter", "takeaway", "delivery", "web"])
    ana = person()
    sell(counter, ana.id, "LATT")                                             # at the counter: no stamp
    assert not StampCard.select().where(StampCard.customer == ana.id).exists()
    note_id = orders.place(ana.id, {pid("LATT"): 2}, "", SETTINGS)
    counter.resume(note_id)
    assert counter.pay(note_id, "cash", 5000).completed
    assert StampCard.get(StampCard.customer == ana.id).units == 2


def test_the_customer_cancels_a_sent_order_but_not_one_the_counter_took(counter):
    ana, eva = person(), person("Eva", mobile="6123-4599")
    sent = orders.place(ana.id, {pid("CAPP"): 2}, "", SETTINGS)
    taken = orders.place(ana.id, {pid("MUG"): 1}, "", SETTINGS)
    assert not orders.cancel(eva.id, sent, SETTINGS)                          # not hers
    counter.resume(taken)
    assert not orders.cancel(ana.id, taken, SETTINGS)                         # the counter has it: ask there
    assert orders.cancel(ana.id, sent, SETTINGS)
    note = Note.get_by_id(sent)
    assert note.status == "cancelled" and note.total_cents > 0 and note.closed_at is not None
    assert not orders.cancel(ana.id, sent, SETTINGS)                          # once
    assert {o.id: o.state for o in orders.orders(ana.id)} == {sent: "cancelled", taken: "preparing"}
    assert sent not in [p.id for p in counter.parked()]
    assert AuditLog.select().where(AuditLog.action == "order.web_cancel").count() == 1


def test_a_ready_order_tells_the_customer_once_and_can_no_longer_be_cancelled_from_the_account(demo):
    """Issue 21 item 4: "The customer sees its state (sent, ready, collected)." Ready is the cashier's F11 on
    the order they took in hand; the customer hears it once, by SMS (they gave a phone; nothing else is
    needed: it answers what they asked for, not marketing)."""
    from tui_pos.config import from_dict
    from tui_pos.models import Message
    from tui_pos.services import messaging
    said = messaging.Settings.from_config(from_dict({"store": {"name": "Café Sol"}}))
    shop = SaleService("R1", sales_modes=["counter", "web"], messaging=said)
    ana = person()
    assert not ana.sms_consent                             # no marketing consent given: the notice still goes
    order = orders.place(ana.id, {pid("CAPP"): 1}, "at 5", SETTINGS)
    other = shop.open_note()
    shop.add_item(other, "ESP")
    shop.resume(order, other)                              # the counter's own note is parked to make room
    assert (Note.get_by_id(other).status, Note.get_by_id(other).ready_at) == ("parked", None)
    assert shop.park(order, "") == "ready-told"            # F11, no name typed: the order keeps its label
    label = Note.get_by_id(order).label
    assert label.startswith(f"Web W{order} Ana") and label.endswith("at 5")
    shop.resume(order)
    assert shop.park(order) == ""                          # parked again: told once, not twice
    [told] = list(Message.select().where(Message.template == "ready"))
    assert (told.customer_id, told.channel, told.key) == (ana.id, "sms", f"ready:{order}")
    to, _, text = messaging.render(said, told, ana)
    assert to == "+50761234567" and f"W{order}" in text and "ready for pick-up" in text
    assert not orders.cancel(ana.id, order, SETTINGS)      # prepared: ask at the counter
    assert [o.state for o in orders.orders(ana.id)] == ["ready"]
    assert AuditLog.select().where(AuditLog.action == "order.web_ready").count() == 1


def test_a_web_order_switched_away_from_is_not_ready(counter):
    """Resuming another note parks the one on screen: that is not the cashier saying the order is made."""
    ana = person()
    order = orders.place(ana.id, {pid("CAPP"): 1}, "", SETTINGS)
    counter.resume(order)
    other = orders.place(person("Eva", mobile="6123-4599").id, {pid("ESP"): 1}, "", SETTINGS)
    counter.resume(other, order)
    assert Note.get_by_id(order).status == "parked"
    assert [o.state for o in orders.orders(ana.id)] == ["preparing"]
