"""Customer messages against real local servers: an SMTP server (aiosmtpd) and an HTTP SMS gateway.

The outbox is written by sales and triggers and sent by `Sender`; these
tests run it on both database backends.
"""

import datetime as dt
import json
import subprocess
import sys
import textwrap

import pytest

from tests.servers import SmsGateway, SmtpServer
from tests.service.test_loyalty import program  # noqa: F401 - the fixture
from tui_pos.config import from_dict
from tui_pos.domain import messages as rules
from tui_pos.domain.errors import InputError
from tui_pos.models import AuditLog, Customer, LoyaltyMovement, Message, Note, utcnow
from tui_pos.services import customers, loyalty, messaging
from tui_pos.services.sales import SaleService

SECRET = "test-secret"


@pytest.fixture
def gateway():
    g = SmsGateway().start()
    yield g
    g.stop()


@pytest.fixture
def smtp():
    s = SmtpServer().start()
    yield s
    s.stop()


def config(gateway=None, smtp=None, **messages):
    raw = {"store": {"name": "Café Sol", "locale": "es_PA"},
           "messages": {"profile_url": "https://sol.example/p?t={token}", "secret": SECRET, **messages}}
    if gateway is not None:
        raw["sms"] = {"kind": "http", "url": gateway.url, "auth": "Bearer k3y", "timeout": 1}
    if smtp is not None:
        raw["email"] = {"host": "127.0.0.1", "port": smtp.port, "starttls": False, "from": "pos@sol.example"}
    return from_dict(raw)


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def sender(cfg, clock=None):
    s = messaging.sender_for(cfg)
    if clock is not None:
        s.clock = clock
    return s


def person(name="Ana", groups="", **kw):
    from tui_pos.models import CustomerGroup, CustomerGroupMember
    data = {"name": name, "mobile": kw.pop("mobile", "6123-4567"), "sms_consent": kw.pop("sms", True), **kw}
    c = customers.create(data, region="PA")
    if groups:
        CustomerGroupMember.create(customer=c.id, group=CustomerGroup.get(CustomerGroup.name == groups).id)
    return c


def sell(sales, customer_id, *codes):
    note = sales.open_note()
    for code in codes or ("CAPP",):
        sales.add_item(note, code)
    sales.attach_customer(note, customer_id)
    return sales.pay(note, "cash", 5000)


@pytest.fixture
def shop(demo):
    return SaleService("R1", messaging=messaging.Settings.from_config(config()))


def test_second_visit_invites_once_with_a_signed_link(shop, gateway):
    c = person()
    sell(shop, c.id)
    assert Message.select().count() == 0                        # first visit: nothing
    sell(shop, c.id)
    sell(shop, c.id)
    rows = list(Message.select())
    assert [(m.template, m.channel, m.state, m.key) for m in rows] == [("invite", "sms", "queued", f"invite:{c.id}")]
    result = sender(config(gateway)).send_due()
    assert result.sent == 1
    got = gateway.received[0]
    assert got["to"] == "+50761234567" and "Café Sol" in got["text"] and "Complete su cuenta" in got["text"]
    token = got["text"].split("?t=")[1].strip()
    assert rules.verify(token, SECRET) == Customer.get_by_id(c.id).code
    assert rules.verify(token, "another-secret") is None
    assert gateway.headers[0]["Authorization"] == "Bearer k3y"
    sent = Message.get()
    assert (sent.state, sent.to, sent.attempts) == ("sent", "+50761234567", 1) and "Café Sol" in sent.body


def test_no_invitation_when_declined_or_with_a_complete_profile(shop):
    quiet = person("Luis", sms=False, mobile="6123-4568", invite_declined=True)
    done = person("Rosa", mobile="6123-4569", email="rosa@example.com", birthday="1990-05-01")
    for _ in range(2):
        sell(shop, quiet.id)
        sell(shop, done.id)
    assert Message.select().count() == 0
    assert Customer.get_by_id(quiet.id).visits == 2


def test_a_tier_reached_is_announced(program, demo):  # noqa: F811
    shop = SaleService("R1", messaging=messaging.Settings.from_config(config(invite=False)))
    c = person(email="ana@example.com", email_consent=True)
    loyalty.opening_balance(c.id, 490)                   # Bronze, 10 points from Silver (500)
    sell(shop, c.id, "CAPP", "CAPP", "CAPP", "CAPP")      # 13.00 of coffee at 2 points a dollar: 26 points
    m = Message.get()
    assert (m.template, m.channel, m.key) == ("tier", "sms", f"tier:{c.id}:Silver")
    assert json.loads(m.params) == {"tier": "Silver"}
    sell(shop, c.id)                                      # still Silver: nothing new
    assert Message.select().count() == 1


def test_birthday_once_in_the_morning_by_the_channel_consented(demo, smtp):
    today = dt.date.today()
    sms_only = person("Ana", birthday=today.replace(year=1990).isoformat())
    mail_only = person("Eva", sms=False, mobile="6123-4570", email="eva@example.com", email_consent=True,
                       birthday=today.replace(year=1985).isoformat())
    person("Otto", mobile="6123-4571", birthday=(today + dt.timedelta(days=1)).replace(year=1980).isoformat())
    stopped = person("Ivo", mobile="6123-4572", birthday=today.replace(year=1970).isoformat())
    messaging.opt_out("6123-4572", region="PA")
    settings = messaging.Settings.from_config(config(smtp=smtp, unsubscribe_url="https://sol.example/u?t={token}"))
    early = dt.datetime.combine(today, dt.time(7, 0))
    assert messaging.run_triggers(settings, early)["birthday"] == 0
    morning = dt.datetime.combine(today, dt.time(9, 30))
    assert messaging.run_triggers(settings, morning)["birthday"] == 2
    assert messaging.run_triggers(settings, morning.replace(hour=15))["birthday"] == 0   # sent once a year
    keys = {m.customer_id: (m.channel, m.key) for m in Message.select()}
    assert keys == {sms_only.id: ("sms", f"birthday:{sms_only.id}:{today.year}"),
                    mail_only.id: ("email", f"birthday:{mail_only.id}:{today.year}")}
    assert stopped.id not in keys
    result = sender(config(smtp=smtp, unsubscribe_url="https://sol.example/u?t={token}")).send_due()
    assert result.sent == 1                 # the email; SMS has no gateway here, so it stays queued
    assert result.waiting == 1
    mail = smtp.messages[0]
    assert mail["To"] == "eva@example.com" and "cumpleaños" in mail["Subject"]
    body = mail.get_content()
    assert "Feliz cumpleaños, Eva" in body and "https://sol.example/u?t=" in body   # marketing: a way out
    assert mail["List-Unsubscribe"].startswith("<https://sol.example/u?t=")
    token = mail["List-Unsubscribe"].split("t=")[1].rstrip(">")
    assert messaging.unsubscribe(token, settings) == Customer.get_by_id(mail_only.id).code
    assert Customer.get_by_id(mail_only.id).marketing_opt_out


def test_points_about_to_expire(demo, tmp_path):
    from tests.service.test_loyalty import PROGRAM
    path = tmp_path / "loyalty.toml"
    path.write_text(PROGRAM.replace("exclude_discounted = true", "exclude_discounted = true\nexpire_months = 12"))
    loyalty.import_program(path)
    c = person()
    loyalty.move(c.id, 300, "earn", counts_as_earned=True, reason="test")
    LoyaltyMovement.update(at=utcnow() - dt.timedelta(days=365 - 10)).where(LoyaltyMovement.customer == c.id).execute()
    settings = messaging.Settings.from_config(config())
    assert messaging.run_triggers(settings)["expiry"] == 1
    assert messaging.run_triggers(settings)["expiry"] == 0      # once per expiry date
    m = Message.get(Message.template == "expiry")
    params = json.loads(m.params)
    assert params["points"] == 300 and params["date"] > dt.date.today().isoformat()


def test_a_gateway_that_fails_times_out_and_comes_back_sends_once(demo, gateway):
    c = person()
    messaging.queue(c.id, "sms", "tier", f"tier:{c.id}:Gold", {"tier": "Gold"})
    clock = Clock()
    s = sender(config(gateway), clock)
    gateway.mode = "fail"
    r = s.send_due()
    assert (r.sent, r.retrying) == (0, 1) and "500" in r.errors[0]
    m = Message.get()
    assert (m.state, m.attempts) == ("queued", 1) and "answered 500" in m.last_error
    assert s.send_due().sent == 0                     # not due yet: back-off
    clock.now += dt.timedelta(seconds=31)
    gateway.mode, gateway.delay = "slow", 2.5
    r = s.send_due()
    assert r.retrying == 1 and "did not answer within 1 s" in Message.get().last_error
    clock.now += dt.timedelta(seconds=61)
    gateway.mode = "ok"
    gateway.received.clear()                           # the slow one may have been taken late by the gateway
    assert s.send_due().sent == 1
    assert s.send_due().sent == 0
    m = Message.get()
    assert (m.state, m.attempts, m.last_error) == ("sent", 3, "")
    assert len(gateway.received) == 1


def test_bad_input_marks_the_message_failed_with_the_reason(demo, gateway, smtp, tmp_path):
    fixed = person("Fija", mobile="", phone="212-3456")           # a fixed line in Panama
    bounce = person("Bo", sms=False, mobile="6123-4573", email="bounce@example.com", email_consent=True)
    bad_template = person("Tina", mobile="6123-4574")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "birthday.es.txt").write_text("Feliz día {nombre}!")
    messaging.queue(fixed.id, "sms", "tier", "t1", {"tier": "Gold"})
    messaging.queue(bounce.id, "email", "tier", "t2", {"tier": "Gold"})
    messaging.queue(bad_template.id, "sms", "birthday", "t3")
    s = sender(config(gateway, smtp, templates=str(templates)))
    r = s.send_due()
    assert (r.sent, r.failed) == (0, 3)
    reasons = {m.key: m.last_error for m in Message.select()}
    assert "fixed line" in reasons["t1"] and "cannot receive an SMS" in reasons["t1"]
    assert "refused bounce@example.com: 550" in reasons["t2"]
    assert "unknown placeholder {nombre}" in reasons["t3"]
    assert all(m.state == "failed" for m in Message.select())


def test_gives_up_after_max_attempts_and_retry_puts_it_back(demo, gateway):
    c = person()
    messaging.queue(c.id, "sms", "tier", "k", {"tier": "Gold"})
    clock = Clock()
    s = sender(config(gateway, max_attempts=2), clock)
    gateway.mode = "fail"
    s.send_due()
    clock.now += dt.timedelta(hours=2)
    s.send_due()
    m = Message.get()
    assert m.state == "failed" and "gave up after 2 attempts" in m.last_error
    messaging.retry(m.id)
    gateway.mode = "ok"
    assert s.send_due().sent == 1
    with pytest.raises(InputError, match="only a failed one"):
        messaging.retry(m.id)


def test_consent_withdrawn_and_opt_out_are_honoured_when_sending(demo, gateway):
    a = person("Ana")
    b = person("Bea", mobile="6123-4575")
    messaging.queue(a.id, "sms", "tier", "a", {"tier": "Gold"})
    messaging.queue(b.id, "sms", "birthday", "b")
    Customer.update(sms_consent=False).where(Customer.id == a.id).execute()
    assert messaging.opt_out("+507 6123-4575", region="PA") == 1
    r = sender(config(gateway)).send_due()
    assert (r.sent, r.failed) == (0, 2) and not gateway.received
    reasons = {m.key: m.last_error for m in Message.select()}
    assert reasons == {"a": "no SMS consent on the customer's record",
                       "b": "no SMS consent on the customer's record"}     # STOP withdraws the SMS consent
    assert Customer.get_by_id(b.id).marketing_opt_out


def test_campaign_counts_previews_and_is_paced(demo, gateway):
    customers.set_group("VIP", 0)
    ok = [person(f"Vip{i}", mobile=f"6123-46{i:02d}", groups="VIP") for i in range(4)]
    person("NoConsent", sms=False, mobile="6123-4690", groups="VIP")
    out = person("Out", mobile="6123-4691", groups="VIP")
    messaging.opt_out("6123-4691", region="PA")
    person("NotVip", mobile="6123-4692")
    settings = messaging.Settings.from_config(config(per_minute=3))
    p = messaging.preview(settings, "group:VIP", "sms", "Hola {name}: 2x1 en {store} hoy.")
    assert p.count == 4
    assert p.sample == "Hola Vip0: 2x1 en Café Sol hoy. Reply STOP to opt out."
    with pytest.raises(InputError, match="unknown placeholder {nombre}"):
        messaging.preview(settings, "group:VIP", "sms", "Hola {nombre}")
    with pytest.raises(InputError, match="No group"):
        messaging.preview(settings, "group:Nope", "sms", "x")
    cid, n = messaging.send_campaign(settings, "group:VIP", "sms", "Hola {name}: 2x1 en {store} hoy.")
    assert n == 4 and Message.select().where(Message.campaign == cid).count() == 4
    s = sender(config(gateway, per_minute=3))
    assert s.send_due().sent == 3                     # paced: 3 a minute
    assert s.send_due().sent == 0
    assert len({r["to"] for r in gateway.received}) == 3
    assert out.id not in {m.customer_id for m in Message.select()}
    assert AuditLog.select().where(AuditLog.action == "campaign.send").count() == 1
    assert {m.customer_id for m in Message.select()} == {c.id for c in ok}


def test_forget_erases_personal_data_and_keeps_receipts_and_ledger(shop, gateway):
    c = person("Ana Núñez", email="ana@example.com", email_consent=True, birthday="1990-01-02",
               cards="LOY-0099")
    loyalty.opening_balance(c.id, 100)
    sell(shop, c.id)
    sell(shop, c.id)                                      # the invitation is queued
    sender(config(gateway)).send_due()
    messaging.queue(c.id, "sms", "tier", "later", {"tier": "Gold"})
    ledger = LoyaltyMovement.select().where(LoyaltyMovement.customer == c.id).count()
    customers.forget(Customer.get_by_id(c.id).code)
    f = Customer.get_by_id(c.id)
    assert (f.name, f.phone, f.mobile, f.email, f.birthday, f.status, f.sms_consent) == (
        "", None, None, None, None, "closed", False)
    assert customers.by_card("LOY-0099") is None
    assert customers.lookup("Núñez", region="PA").customers == ()
    assert LoyaltyMovement.select().where(LoyaltyMovement.customer == c.id).count() == ledger
    assert Note.select().where(Note.customer == c.id, Note.status == "paid").count() == 2
    assert all(m.to == "" and m.body == "" for m in Message.select())
    assert Message.get(Message.key == "later").state == "failed"
    assert AuditLog.select().where(AuditLog.action == "customer.forget").count() == 1
    with pytest.raises(InputError, match="No customer"):
        customers.forget("NOPE")


def test_a_sale_only_writes_a_row_even_with_every_channel_down(demo):
    import socket
    import time
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    cfg = from_dict({"messages": {"profile_url": "https://x.example/{token}", "secret": "s"},
                     "sms": {"kind": "http", "url": f"http://127.0.0.1:{port}/sms"},
                     "email": {"host": "127.0.0.1", "port": port}})
    shop = SaleService("R1", messaging=messaging.Settings.from_config(cfg))
    c = person()
    sell(shop, c.id)
    t0 = time.perf_counter()
    result = sell(shop, c.id)
    assert result.completed and time.perf_counter() - t0 < 2
    assert Message.get().state == "queued"
    r = messaging.sender_for(cfg).send_due()
    assert r.retrying == 1 and "cannot reach the SMS gateway" in r.errors[0]


SEND = textwrap.dedent('''
    import sys
    from tui_pos.cli import main
    sys.exit(main(["messages", "send"]))
''')


def test_nothing_is_sent_twice_across_restarts(tmp_path, gateway):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n'
                   f'[sms]\nkind = "http"\nurl = "{gateway.url}"\n[messages]\nper_minute = 100\n')
    env = {"TUI_POS_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    subprocess.run([sys.executable, "-m", "tui_pos", "init"], env=env, check=True, capture_output=True)
    from tui_pos.models import db
    from tui_pos.models.db import bind
    bind(f"sqlite:///{tmp_path / 'pos.db'}")
    ids = [person(f"P{i}", mobile=f"6123-47{i:02d}").id for i in range(5)]
    for cid in ids:
        messaging.queue(cid, "sms", "tier", f"tier:{cid}:Gold", {"tier": "Gold"})
    stuck = person("Stuck", mobile="6123-4799").id
    messaging.queue(stuck, "sms", "tier", "stuck", {"tier": "Gold"})
    Message.update(state="sending", next_try_at=utcnow() - dt.timedelta(minutes=10)).where(
        Message.key == "stuck").execute()                     # a register that died mid-send
    db.close()
    for _ in range(3):                                        # three runs, as after restarts
        out = subprocess.run([sys.executable, "-c", SEND], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
    to = [r["to"] for r in gateway.received]
    assert len(to) == 5 and len(set(to)) == 5
    bind(f"sqlite:///{tmp_path / 'pos.db'}")
    m = Message.get(Message.key == "stuck")
    assert m.state == "failed" and "interrupted while sending" in m.last_error


def test_the_record_carries_the_marketing_opt_out(demo):
    c = person()
    assert not customers.view(c.id).marketing_opt_out
    customers.update(c.id, {"marketing_opt_out": "yes"}, region="PA")
    assert customers.view(c.id).marketing_opt_out
    settings = messaging.Settings.from_config(config())
    assert messaging.preview(settings, "all", "sms", "Hola").count == 0


def test_a_marketing_email_carries_an_unsubscribe_link_never_reply_stop(demo, smtp):
    """An email is not answered with STOP: without [messages] unsubscribe_url a birthday email fails, saying
    what to set, instead of going out with "Reply STOP"."""
    c = person("Eva", sms=False, email="eva@example.com", email_consent=True)
    messaging.queue(c.id, "email", "birthday", "b-no-link")
    r = sender(config(smtp=smtp)).send_due()
    assert r.failed == 1 and not smtp.messages
    assert "needs an unsubscribe link: set [messages] unsubscribe_url" in Message.get().last_error
