"""Consent as the seeds and the law read it (docs/messages.md, "Consent").

Seed 004: "Before cashing your client, you will be asked to enter the client's
phone number to create his loyalty account ... The client will automatically
receive a SMS for the creation of his account after his first visits in your
store". Seed 001: "during his second visit, your client will receive an SMS
inviting him to create his account". Seed 004 again: the address book "can be
then exploited to send promotional offers or Birthday messages via SMS or
Email", which needs the customer's consent for that channel.
"""

import datetime as dt

import pytest

from tests.servers import SmsGateway
from tests.service import test_messaging
from tests.service.test_messaging import config, sell, sender
from tui_pos.domain import messages as rules
from tui_pos.models import ConsentEvent, Customer, Message, User
from tui_pos.services import consent, customers, messaging
from tui_pos.services.sales import SaleService

gateway = test_messaging.gateway   # the SMS gateway fixture of test_messaging


@pytest.fixture
def shop(demo):
    return SaleService("R1", messaging=messaging.Settings.from_config(config()))


def cashier() -> int:
    """The demo's cashier, Ana."""
    return User.get(User.name == "Ana").id


def log(customer_id):
    return [(e.channel, e.purpose, e.granted, e.source) for e in
            ConsentEvent.select().where(ConsentEvent.customer == customer_id).order_by(ConsentEvent.id)]


def test_created_at_the_counter_is_invited_on_the_second_visit_without_marketing_consent(shop, gateway):
    """Accepted: the quick create (F2, a phone, Enter) and nothing else."""
    uid = cashier()
    c = customers.create_with_phone("6123-4567", region="PA", user_id=uid, register="R1")
    assert not c.sms_consent and not c.invite_declined
    sell(shop, c.id)
    assert Message.select().count() == 0                      # "after his first visits": not on the first
    sell(shop, c.id)
    assert [(m.template, m.channel) for m in Message.select()] == [("invite", "sms")]
    assert sender(config(gateway)).send_due().sent == 1
    assert gateway.received[0]["to"] == "+50761234567"
    # the counter told them and they did not say no: on record, with who and where
    row = consent.history(c.id)[0]
    assert (row.purpose, row.granted, row.source, row.user, row.register) == ("invite", True, "counter", "Ana", "R1")
    # the invitation is not consent to marketing: no birthday message
    Customer.update(birthday=dt.date.today().replace(year=1990)).where(Customer.id == c.id).execute()
    assert messaging.run_triggers(messaging.Settings.from_config(config()),
                                  dt.datetime.combine(dt.date.today(), dt.time(10)))["birthday"] == 0


def test_declined_at_the_counter_gets_no_invitation(shop):
    """Declined: N in the quick-create step."""
    uid = cashier()
    c = customers.create_with_phone("6123-4567", region="PA", user_id=uid, register="R1", invite=False)
    assert customers.view(c.id).invite_declined
    for _ in range(3):
        sell(shop, c.id)
    assert Message.select().count() == 0
    assert log(c.id) == [("sms", "invite", False, "counter")]
    assert consent.history(c.id)[0].text == "declined the account invitation SMS (counter R1 by Ana)"
    # a message queued anyway (a trigger that raced the decline) is refused when sending
    messaging.queue(c.id, "sms", "invite", "late")
    r = sender(config(SmsGateway())).send_due()
    assert r.failed == 1 and Message.get(Message.key == "late").last_error == "the customer declined the invitation SMS"


def test_explicit_marketing_consent_is_recorded_per_channel_and_withdrawn(demo, gateway):
    """Accepted and withdrawn: the customer form's boxes, each change logged with who and where."""
    uid = cashier()
    c = customers.create({"name": "Eva", "mobile": "6123-4570", "sms_consent": "yes"}, region="PA",
                         user_id=uid, register="R1")
    customers.update(c.id, {"email": "eva@example.com", "email_consent": "yes"}, region="PA", user_id=uid)
    assert log(c.id) == [("sms", "marketing", True, "counter"), ("email", "marketing", True, "counter")]
    messaging.queue(c.id, "sms", "birthday", "b1")
    customers.update(c.id, {"sms_consent": "no"}, region="PA", user_id=uid)
    assert log(c.id)[-1] == ("sms", "marketing", False, "counter")
    r = sender(config(gateway)).send_due()
    assert r.failed == 1 and not gateway.received
    assert Message.get(Message.key == "b1").last_error == "no SMS consent on the customer's record"
    customers.update(c.id, {"notes": "regular"}, region="PA", user_id=uid)   # no consent change, no new row
    assert len(log(c.id)) == 3


def test_stop_withdraws_sms_consent_and_the_invitation(shop, gateway):
    """STOP: a reply to any SMS ends every SMS, the invitation included."""
    c = customers.create({"name": "", "mobile": "6123-4572", "sms_consent": "yes"}, region="PA")
    sell(shop, c.id)
    assert messaging.opt_out("+507 6123-4572", region="PA") == 1
    sell(shop, c.id)                                           # the second visit
    messaging.queue(c.id, "sms", "tier", "t1", {"tier": "Gold"})
    assert Message.select().where(Message.template == "invite").count() == 0
    r = sender(config(gateway)).send_due()
    assert r.failed == 1 and not gateway.received
    after = Customer.get_by_id(c.id)
    assert (after.sms_consent, after.invite_declined, after.marketing_opt_out) == (False, True, True)
    assert log(c.id)[-2:] == [("sms", "marketing", False, "stop"), ("sms", "invite", False, "stop")]


def test_unsubscribe_withdraws_email_consent(demo):
    c = customers.create({"name": "Eva", "email": "eva@example.com", "email_consent": "yes"}, region="PA")
    settings = messaging.Settings.from_config(config())
    token = rules.sign(c.code, settings.secret)
    assert messaging.unsubscribe(token, settings) == c.code
    assert not Customer.get_by_id(c.id).email_consent
    assert log(c.id)[-1] == ("email", "marketing", False, "unsubscribe")


def test_an_import_records_its_consent_as_import(demo, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(",".join(customers.CSV_COLUMNS) + ",sms_consent,email_consent\n"
                    "C1,Ana,6123-4567,,ana@example.com,,,,,,,,0,open,,,yes,no\n", encoding="utf-8")
    import os
    written = dt.datetime(2026, 3, 1, 9, 30)
    stamp = written.replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    customers.import_customers(path, region="PA")
    c = Customer.get(Customer.code == "C1")
    assert (c.sms_consent, c.email_consent) == (True, False)
    assert log(c.id) == [("sms", "marketing", True, "import")]
    assert ConsentEvent.get(ConsentEvent.customer == c.id).at == written     # given when the file was written


def test_forget_withdraws_everything_on_the_record(demo):
    c = customers.create({"name": "Eva", "mobile": "6123-4570", "sms_consent": "yes"}, region="PA")
    customers.forget(c.code)
    assert log(c.id)[-2:] == [("sms", "marketing", False, "forget"), ("sms", "invite", False, "forget")]


@pytest.mark.parametrize("template,channel,reach,why", [
    ("invite", "sms", rules.Reach(), None),
    ("invite", "sms", rules.Reach(invite_declined=True), "the customer declined the invitation SMS"),
    ("invite", "sms", rules.Reach(open=False), "the customer is closed or was forgotten"),
    ("invite", "email", rules.Reach(email_consent=True), "the invitation goes by SMS only"),
    ("birthday", "sms", rules.Reach(), "no SMS consent on the customer's record"),
    ("birthday", "sms", rules.Reach(sms_consent=True, marketing_opt_out=True),
     "the customer opted out of marketing messages"),
    ("campaign", "email", rules.Reach(email_consent=True), None),
    ("tier", "sms", rules.Reach(sms_consent=True, marketing_opt_out=True), None),
    ("expiry", "email", rules.Reach(), "no email consent on the customer's record"),
])
def test_the_rule(template, channel, reach, why):
    assert rules.refusal(template, channel, reach) == why
