"""Customer messages: the outbox, its triggers, its sender, campaigns.

A sale only ever writes a row here (in its own transaction). Everything that
can be slow or fail (rendering the template, checking the address, SMTP, the
SMS gateway) happens in `Sender.send_due`, run by a worker of the app or by
`tui-pos messages send`. Each message has a unique `key` (`invite:12`,
`birthday:12:2026`, `campaign:3:12`...), so a trigger that fires twice, or a
register restarted, never queues or sends the same message twice.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from peewee import JOIN, ModelSelect, fn

from tui_pos.domain import messages as rules
from tui_pos.domain import portal as portal_rules
from tui_pos.domain.errors import InputError
from tui_pos.models import Campaign, Customer, CustomerGroup, CustomerGroupMember, Message, db, utcnow
from tui_pos.models.db import is_sqlite, worker_connection
from tui_pos.services import audit, consent

if TYPE_CHECKING:
    from tui_pos.config import Config

log = logging.getLogger(__name__)

BACKOFF_MAX = 3600.0
STALE_SENDING = _dt.timedelta(minutes=5)


def backoff(attempts: int) -> float:
    """Seconds before the next try after the n-th failure: 30, 60, 120... at most an hour."""
    return min(BACKOFF_MAX, 30.0 * 2 ** max(0, attempts - 1))


# ====================================================================== settings

@dataclass(frozen=True)
class Settings:
    store: str = "Demo Store"
    locale: str = "en_US"
    profile_url: str = ""
    secret: str = ""
    unsubscribe_url: str = ""
    stop_text: str = "Reply STOP to opt out."
    per_minute: int = 60
    max_attempts: int = 5
    invite: bool = True
    birthday: bool = True
    birthday_hour: int = 9
    tier: bool = True
    expiry: bool = True
    expiry_days: int = 30
    templates: str = ""
    portal_url: str = ""     # [portal] public_url: the invitation links to {portal_url}/a/{token} without profile_url
    triggers: str = "register"   # "timer": `tui-pos messages triggers` on a timer does it, no register does

    @classmethod
    def from_config(cls, cfg: Config) -> Settings:
        m = cfg.messages
        return cls(store=cfg.store.name, locale=cfg.store.locale, profile_url=m.profile_url,
                   secret=m.secret or os.environ.get("TUI_POS_MESSAGES_SECRET", ""),
                   unsubscribe_url=m.unsubscribe_url or portal_rules.unsubscribe_url(cfg.portal.public_url),
                   stop_text=m.stop_text, per_minute=m.per_minute,
                   max_attempts=m.max_attempts, invite=m.invite, birthday=m.birthday,
                   birthday_hour=m.birthday_hour, tier=m.tier, expiry=m.expiry, expiry_days=m.expiry_days,
                   templates=m.templates, portal_url=cfg.portal.public_url, triggers=m.triggers)

    def template(self, name: str) -> tuple[str, str]:
        """(subject, text): the file in `[messages] templates` when there is one, else the built-in."""
        if self.templates:
            lang = rules.language(self.locale)
            for candidate in (f"{name}.{lang}.txt", f"{name}.txt"):
                path = Path(self.templates).expanduser() / candidate
                if path.is_file():
                    return rules.parse_template(path.read_text(encoding="utf-8"), name, self.locale)
        return rules.built_in(name, self.locale)


# ====================================================================== queueing (inside the caller's transaction)

def queue(customer_id: int | None, channel: str, template: str, key: str, params: dict | None = None, *,
          marketing: bool | None = None, campaign_id: int | None = None) -> bool:
    """Add one message unless one with `key` exists; True when added."""
    if marketing is None:
        marketing = template in rules.MARKETING
    added = (Message.insert(customer=customer_id, channel=channel, template=template, key=key,
                            params=json.dumps(params or {}), marketing=marketing, campaign=campaign_id)
             .on_conflict_ignore().as_rowcount().execute())
    return bool(added)


def reach(c: Customer) -> rules.Reach:
    return rules.Reach(open=(c.status == "open"), sms_consent=c.sms_consent, email_consent=c.email_consent,
                       marketing_opt_out=c.marketing_opt_out, invite_declined=c.invite_declined)


def channel_for(c: Customer, *, marketing: bool = False, template: str = "") -> str | None:
    """The channel to reach a customer on: SMS when the rule allows it and there is a phone, else email."""
    state = reach(c)
    if c.mobile or c.phone:
        if rules.refusal(template, "sms", state, marketing) is None:
            return "sms"
    if c.email and rules.refusal(template, "email", state, marketing) is None:
        return "email"
    return None


def after_sale(settings: Settings, customer_id: int, *, visits: int | None, tier_before: str,
               earned: int) -> None:
    """In the sale's transaction: the second-visit invitation and a tier reached (rows only)."""
    wants_invite = settings.invite and (settings.profile_url or settings.portal_url) and visits == 2
    wants_tier = settings.tier and earned > 0
    if not (wants_invite or wants_tier):
        return
    c = Customer.get_by_id(customer_id)
    if wants_invite and not rules.Profile(c.name, c.email or "", c.birthday).complete \
            and (c.mobile or c.phone) and rules.refusal("invite", "sms", reach(c)) is None:
        queue(c.id, "sms", "invite", f"invite:{c.id}")
    if wants_tier:
        from tui_pos.services import loyalty
        tier = loyalty.tier_of(c.points_earned)
        if tier.name and tier.name != tier_before:
            channel = channel_for(c, template="tier")
            if channel:
                queue(c.id, channel, "tier", f"tier:{c.id}:{tier.name}", {"tier": tier.name})


def order_ready(customer_id: int, note_id: int) -> bool:
    """In the park's transaction: "your order W12 is ready" to the customer of a web order (services/orders.py),
    once per order (its key), by SMS when they gave a phone, else by email; True when queued."""
    c = Customer.get_or_none(Customer.id == customer_id)
    if c is None:
        return False
    channel = channel_for(c, template="ready")
    if channel is None:
        return False
    return queue(c.id, channel, "ready", f"ready:{note_id}", {"order": f"W{note_id}"})


def run_triggers(settings: Settings, now: _dt.datetime | None = None) -> dict[str, int]:
    """The time-based triggers (birthdays from `birthday_hour`, points about to expire); safe to run often."""
    now = now or _dt.datetime.now()
    queued = {"birthday": 0, "expiry": 0}
    today = now.date()
    if settings.birthday and now.hour >= settings.birthday_hour:
        month_day = today.strftime("%m-%d")
        expr = (fn.strftime("%m-%d", Customer.birthday) if is_sqlite()
                else fn.to_char(Customer.birthday, "MM-DD"))
        with db.atomic():
            for c in Customer.select().where(Customer.birthday.is_null(False), expr == month_day,
                                             Customer.status == "open", Customer.marketing_opt_out == False):  # noqa: E712
                channel = channel_for(c, marketing=True, template="birthday")
                if channel and queue(c.id, channel, "birthday", f"birthday:{c.id}:{today.year}"):
                    queued["birthday"] += 1
    if settings.expiry:
        # one streamed pass over the ledgers that can be concerned (services/loyalty_jobs.py), not one query
        # per customer; then the few customers found, read together, and their messages queued at once
        from tui_pos.services import loyalty_jobs
        candidates = Customer.select(Customer.id).where(
            Customer.points_balance > 0, Customer.status == "open",
            (Customer.sms_consent == True) | (Customer.email_consent == True))  # noqa: E712
        found = list(loyalty_jobs.expiring(settings.expiry_days, today, candidates))
        for start in range(0, len(found), 500):
            part = found[start:start + 500]
            people = {c.id: c for c in Customer.select().where(Customer.id.in_([cid for cid, _, _ in part]))}
            with db.atomic():
                for cid, points, first in part:
                    channel = channel_for(people[cid], template="expiry")
                    if channel and queue(cid, channel, "expiry", f"expiry:{cid}:{first.isoformat()}",
                                         {"points": points, "date": first.isoformat()}):
                        queued["expiry"] += 1
    return queued


# ====================================================================== channels

class SendError(Exception):
    """A message that did not go: `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class EmailChannel:
    def __init__(self, cfg: Config) -> None:
        e = cfg.email
        self.host, self.port, self.starttls, self.use_ssl = e.host, e.port, e.starttls, e.ssl
        self.user = e.user
        self.password = e.password or os.environ.get("TUI_POS_SMTP_PASSWORD", "")
        self.sender = getattr(e, "from") or (f"pos@{e.host}" if e.host else "")
        self.timeout = e.timeout

    @property
    def ready(self) -> bool:
        return bool(self.host)

    def send(self, to: str, subject: str, body: str, headers: dict[str, str]) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, subject
        for k, v in headers.items():
            msg[k] = v
        msg.set_content(body)
        try:
            cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            with cls(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise SendError(f"the mail server refused {to}: {code} {_text(text)}", retry=400 <= code < 500) from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"the mail server said {exc.smtp_code} {_text(exc.smtp_error)}",
                            retry=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"the mail server does not support that: {exc} (check [email] starttls)",
                            retry=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"cannot reach the mail server {self.host}:{self.port}: {exc}", retry=True) from None


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class SmsChannel:
    """Any SMS provider with an HTTP API: URL, method, Authorization header and a body template."""

    def __init__(self, cfg: Config) -> None:
        s = cfg.sms
        self.kind, self.url, self.method = s.kind, s.url, s.method
        self.auth = s.auth or os.environ.get("TUI_POS_SMS_AUTH", "")
        self.body, self.content_type, self.timeout = s.body, s.content_type, s.timeout

    @property
    def ready(self) -> bool:
        return self.kind == "http" and bool(self.url)

    def request(self, to: str, text: str) -> urllib.request.Request:
        url = self.url.replace("{to}", urllib.parse.quote(to)).replace("{text}", urllib.parse.quote(text))
        if "json" in self.content_type:
            esc = lambda v: json.dumps(v)[1:-1]  # noqa: E731 - inside a JSON string
        elif "x-www-form-urlencoded" in self.content_type:
            esc = urllib.parse.quote_plus
        else:
            esc = str
        data = None
        if self.method != "GET":
            data = self.body.replace("{to}", esc(to)).replace("{text}", esc(text)).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=self.method)
        if data is not None:
            req.add_header("Content-Type", self.content_type)
        if self.auth:
            req.add_header("Authorization", self.auth)
        return req

    def send(self, to: str, text: str) -> None:
        try:
            with urllib.request.urlopen(self.request(to, text), timeout=self.timeout) as resp:
                resp.read(4096)
        except urllib.error.HTTPError as exc:
            said = exc.read(300).decode(errors="replace").strip()
            retry = exc.code >= 500 or exc.code in (408, 429)
            raise SendError(f"the SMS gateway answered {exc.code} {exc.reason}" + (f": {said}" if said else ""),
                            retry=retry) from None
        except TimeoutError:
            raise SendError(f"the SMS gateway did not answer within {self.timeout} s", retry=True) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise SendError(f"the SMS gateway did not answer within {self.timeout} s", retry=True) from None
            raise SendError(f"cannot reach the SMS gateway: {reason}", retry=True) from None


# ====================================================================== sending

@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0       # failed for good this pass
    retrying: int = 0     # failed, will be tried again
    waiting: int = 0      # still queued (a channel not configured, rate limit, not due yet)
    errors: list[str] = field(default_factory=list)


def invite_link(settings: Settings, code: str, now: _dt.datetime | None = None) -> str:
    """The invitation's link: `[messages] profile_url` when set, else the portal's `{public_url}/a/{token}`
    with a token that expires (`domain.portal`, `[portal] link_days`)."""
    if settings.profile_url:
        return settings.profile_url.format(token=rules.sign(code, settings.secret))
    return portal_rules.url(settings.portal_url,
                            portal_rules.make(code, settings.secret, now or _dt.datetime.now(_dt.UTC)))


def render(settings: Settings, m: Message, c: Customer) -> tuple[str, str, str]:
    """(address, subject, text) of a message, or InputError (a template, an address, consent) saying why not."""
    why_not = rules.refusal(m.template, m.channel, reach(c), m.marketing)
    if why_not:
        raise InputError(why_not)
    to = rules.sms_number(c.mobile or c.phone) if m.channel == "sms" else rules.email_address(c.email)
    params = json.loads(m.params or "{}")
    if m.template == "campaign":
        subject, text = params.get("subject") or "{store}", "{text} {stop}"
    else:
        subject, text = settings.template(m.template)
    values = {"name": c.name or "", "store": settings.store, "points": params.get("points", ""),
              "tier": params.get("tier", ""), "date": params.get("date", ""), "order": params.get("order", "")}
    if m.template == "invite":
        values["link"] = invite_link(settings, c.code)
    if m.template == "campaign":
        values["text"] = rules.fill(params.get("text", ""), values)   # the manager's text has placeholders too
    if m.marketing:
        if m.channel == "email":
            # an email is not answered with STOP: a marketing email carries a link that unsubscribes in one step
            if not (settings.unsubscribe_url and settings.secret):
                raise InputError("a marketing email needs an unsubscribe link: set [messages] unsubscribe_url "
                                 "(and secret)")
            link = settings.unsubscribe_url.format(token=rules.sign(c.code, settings.secret))
            values["unsubscribe"] = link
            values["stop"] = f"Unsubscribe: {link}"
        else:
            values["stop"] = settings.stop_text
    return to, rules.fill(subject, values), rules.fill(text, values)


class Sender:
    """Sends due messages, oldest first, within `per_minute`; one pass per call (from a worker thread)."""

    def __init__(self, settings: Settings, email: EmailChannel | None, sms: SmsChannel | None,
                 clock: Callable[[], _dt.datetime] = utcnow) -> None:
        self.settings = settings
        self.email, self.sms = email, sms
        self.channels: dict[str, EmailChannel | SmsChannel | None] = {"email": email, "sms": sms}
        self.clock = clock

    def ready_channels(self) -> list[str]:
        return [name for name, ch in self.channels.items() if ch is not None and ch.ready]

    def recover(self) -> int:
        """Messages left `sending` by a register that stopped mid-send: failed, to be retried by hand
        (they may have gone out; sending them again unasked could send them twice)."""
        with worker_connection(), db.atomic():
            return (Message.update(state="failed", last_error="interrupted while sending: it may have gone "
                                   "out; Retry sends it again")
                    .where(Message.state == "sending", Message.next_try_at < self.clock() - STALE_SENDING)
                    .execute())

    def send_due(self, limit: int | None = None) -> SendResult:
        result = SendResult()
        ready = self.ready_channels()
        with worker_connection():
            now = self.clock()
            sent_last_minute = Message.select().where(Message.state == "sent",
                                                      Message.sent_at > now - _dt.timedelta(minutes=1)).count()
            room = max(0, self.settings.per_minute - sent_last_minute)
            if limit is not None:
                room = min(room, limit)
            due = []
            if ready and room:
                due = list(Message.select(Message.id).where(Message.state == "queued", Message.next_try_at <= now,
                                                            Message.channel.in_(ready))
                           .order_by(Message.next_try_at, Message.id).limit(room).tuples())
            for (mid,) in due:
                self._send_one(mid, result)
            result.waiting = Message.select().where(Message.state == "queued").count()
        return result

    def _send_one(self, mid: int, result: SendResult) -> None:
        now = self.clock()
        with db.atomic():   # claim it: another register's sender skips it from here on
            claimed = (Message.update(state="sending", attempts=Message.attempts + 1, next_try_at=now)
                       .where(Message.id == mid, Message.state == "queued").execute())
        if not claimed:
            return
        m = Message.get_by_id(mid)
        c = Customer.get_or_none(Customer.id == m.customer_id) if m.customer_id else None
        try:
            if c is None:
                raise InputError("the customer no longer exists")
            to, subject, text = render(self.settings, m, c)
        except InputError as exc:   # a template, an address, consent: trying again will not help
            self._finish(m, "failed", str(exc))
            result.failed += 1
            result.errors.append(f"{m.key}: {exc}")
            return
        try:
            if m.channel == "sms":
                assert self.sms is not None   # only a ready channel's messages are claimed (send_due)
                self.sms.send(to, text)
            else:
                headers = {}
                if m.marketing and self.settings.unsubscribe_url and self.settings.secret:
                    headers["List-Unsubscribe"] = "<" + self.settings.unsubscribe_url.format(
                        token=rules.sign(c.code, self.settings.secret)) + ">"
                assert self.email is not None
                self.email.send(to, subject, text, headers)
        except SendError as exc:
            if exc.retry and m.attempts < self.settings.max_attempts:
                with db.atomic():
                    Message.update(state="queued", last_error=str(exc)[:250],
                                   next_try_at=self.clock() + _dt.timedelta(seconds=backoff(m.attempts))
                                   ).where(Message.id == m.id).execute()
                result.retrying += 1
            else:
                self._finish(m, "failed", str(exc) + ("" if not exc.retry else
                                                     f" (gave up after {m.attempts} attempts)"))
                result.failed += 1
            result.errors.append(f"{m.key}: {exc}")
            log.warning("message %s (%s) not sent: %s", m.id, m.key, exc)
            return
        with db.atomic():
            Message.update(state="sent", sent_at=self.clock(), to=to, subject=subject, body=text,
                           last_error="").where(Message.id == m.id).execute()
        result.sent += 1

    def _finish(self, m: Message, state: str, error: str) -> None:
        with db.atomic():
            Message.update(state=state, last_error=error[:250]).where(Message.id == m.id).execute()


def sender_for(cfg: Config) -> Sender:
    return Sender(Settings.from_config(cfg), EmailChannel(cfg), SmsChannel(cfg))


# ====================================================================== the outbox

@dataclass(frozen=True)
class OutboxRow:
    id: int
    created_at: _dt.datetime
    customer: str
    channel: str
    template: str
    to: str
    state: str
    attempts: int
    last_error: str
    sent_at: _dt.datetime | None


def outbox(state: str | None = None, customer_id: int | None = None, limit: int = 200) -> list[OutboxRow]:
    q = (Message.select(Message, Customer.code, Customer.name)
         .join(Customer, JOIN.LEFT_OUTER, on=(Message.customer == Customer.id)))
    if state:
        q = q.where(Message.state == state)
    if customer_id is not None:
        q = q.where(Message.customer == customer_id)
    rows = []
    for m in q.order_by(Message.id.desc()).limit(limit).objects():
        who = f"{m.code} {m.name}".strip() if getattr(m, "code", None) else "(forgotten)"
        rows.append(OutboxRow(m.id, m.created_at, who, m.channel, m.template, m.to, m.state, m.attempts,
                              m.last_error, m.sent_at))
    return rows


def counts() -> dict[str, int]:
    return dict(Message.select(Message.state, fn.COUNT(Message.id)).group_by(Message.state).tuples())


def retry(message_id: int) -> None:
    """A failed message back in the queue, now (the outbox's Retry)."""
    with db.atomic():
        m = Message.get_or_none(Message.id == message_id)
        if m is None:
            raise InputError(f"No message {message_id}.")
        if m.state != "failed":
            raise InputError(f"Message {message_id} is {m.state}: only a failed one can be retried.")
        Message.update(state="queued", attempts=0, next_try_at=utcnow(), last_error="").where(
            Message.id == message_id).execute()


# ====================================================================== campaigns

def audience_query(audience: str, channel: str) -> ModelSelect:
    """Customers a campaign reaches: open, not opted out, consent for the channel and an address."""
    if channel not in ("sms", "email"):
        raise InputError(f"Unknown channel {channel!r}: sms or email.")
    q = Customer.select().where(Customer.status == "open", Customer.marketing_opt_out == False)  # noqa: E712
    if channel == "sms":
        q = q.where(Customer.sms_consent == True, (Customer.mobile.is_null(False)) | (Customer.phone.is_null(False)))  # noqa: E712
    else:
        q = q.where(Customer.email_consent == True, Customer.email.is_null(False), Customer.email != "")  # noqa: E712
    kind, _, name = audience.partition(":")
    if kind == "group":
        group = CustomerGroup.get_or_none(fn.LOWER(CustomerGroup.name) == name.strip().lower())
        if group is None:
            raise InputError(f"No group {name!r}: see `tui-pos group list`.")
        q = q.where(Customer.id.in_(CustomerGroupMember.select(CustomerGroupMember.customer)
                                    .where(CustomerGroupMember.group == group.id)))
    elif kind == "tier":
        from tui_pos.services import loyalty
        prog = loyalty.program()
        tiers = list(prog.tiers) if prog else []
        names = [t.name.lower() for t in tiers]
        if name.strip().lower() not in names:
            raise InputError(f"No tier {name!r}: the program has {', '.join(t.name for t in tiers) or 'none'}.")
        i = names.index(name.strip().lower())
        q = q.where(Customer.points_earned >= tiers[i].threshold)
        if i + 1 < len(tiers):
            q = q.where(Customer.points_earned < tiers[i + 1].threshold)
    elif audience != "all":
        raise InputError(f"Audience {audience!r}: use group:NAME, tier:NAME or all.")
    return q


@dataclass(frozen=True)
class Preview:
    count: int
    sample: str          # the text as the first customer would get it ("" when nobody)
    subject: str


def preview(settings: Settings, audience: str, channel: str, text: str, subject: str = "") -> Preview:
    """How many customers a campaign reaches and what the first one would read."""
    if not text.strip():
        raise InputError("The campaign has no text.")
    rules.check(text)
    rules.check(subject)
    q = audience_query(audience, channel)
    count = q.count()
    first = q.order_by(Customer.id).first()
    if first is None:
        return Preview(0, "", subject)
    probe = Message(channel=channel, template="campaign", marketing=True,
                    params=json.dumps({"text": text, "subject": subject}))
    _, subj, body = render(settings, probe, first)
    return Preview(count, body, subj)


def send_campaign(settings: Settings, audience: str, channel: str, text: str, subject: str = "", *,
                  user_id: int | None = None, name: str = "") -> tuple[int, int]:
    """Queue the campaign (the sender paces it by `per_minute`); returns (campaign id, messages queued)."""
    preview(settings, audience, channel, text, subject)   # the same checks, before anything is written
    with db.atomic():
        camp = Campaign.create(name=name or text[:40], channel=channel, audience=audience, subject=subject,
                               text=text, created_by=user_id)
        params = json.dumps({"text": text, "subject": subject})
        ids = [c.id for c in audience_query(audience, channel).select(Customer.id)]
        for i in range(0, len(ids), 500):
            Message.insert_many([{"customer": cid, "channel": channel, "template": "campaign", "params": params,
                                  "marketing": True, "key": f"campaign:{camp.id}:{cid}", "campaign": camp.id}
                                 for cid in ids[i:i + 500]]).on_conflict_ignore().execute()
        Campaign.update(count=len(ids)).where(Campaign.id == camp.id).execute()
        audit.record("campaign.send", user_id=user_id, campaign=camp.id, audience=audience, channel=channel,
                     count=len(ids))
    return camp.id, len(ids)


# ====================================================================== opting out

WITHDRAWN_BY = {"sms": {"sms_consent": False, "invite_declined": True}, "email": {"email_consent": False}}


def _withdraw(customers_: list[Customer], channel: str, source: str) -> None:
    """STOP (sms) or unsubscribe (email): consent on that channel withdrawn, logged, and no more marketing."""
    change = WITHDRAWN_BY[channel]
    for c in customers_:
        consent.record_changes(c.id, {f: v for f, v in change.items() if getattr(c, f) != v}, source=source)
    ids = [c.id for c in customers_]
    if ids:
        Customer.update(marketing_opt_out=True, **change).where(Customer.id.in_(ids)).execute()


def opt_out(address: str, *, region: str = "PA") -> int:
    """A STOP reply (a phone) or an unsubscribe (an email); returns the customers it reached.

    STOP withdraws SMS consent and declines the invitation (no SMS at all any more); an email unsubscribe
    withdraws email consent. Both set the marketing opt-out and are in the consent log."""
    from tui_pos.domain.customer import normalize_phone
    address = address.strip()
    with db.atomic():
        if "@" in address:
            channel, source = "email", "unsubscribe"
            found = list(Customer.select().where(fn.LOWER(Customer.email) == address.lower()))
        else:
            channel, source = "sms", "stop"
            phone = normalize_phone(address, region)
            found = list(Customer.select().where((Customer.mobile == phone) | (Customer.phone == phone)))
        _withdraw(found, channel, source)
        if found:
            audit.record("customer.opt_out", address=address, customers=len(found))
        return len(found)


def unsubscribe(token: str, settings: Settings) -> str:
    """An unsubscribe link's token: that customer opts out of marketing; returns their code."""
    code = rules.verify(token.strip(), settings.secret)
    if code is None:
        raise InputError("That unsubscribe token is not one of ours (or [messages] secret changed).")
    with db.atomic():
        found = list(Customer.select().where(Customer.code == code))
        if not found:
            raise InputError(f"No customer {code}.")
        _withdraw(found, "email", "unsubscribe")
        audit.record("customer.opt_out", code=code, via="unsubscribe link")
    return code


__all__ = ["EmailChannel", "OutboxRow", "Preview", "SendError", "SendResult", "Sender", "Settings", "SmsChannel",
           "after_sale", "audience_query", "backoff", "channel_for", "counts", "opt_out", "outbox", "preview",
           "queue", "render", "retry", "run_triggers", "send_campaign", "sender_for", "unsubscribe"]
