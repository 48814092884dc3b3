"""Consent to messages: each one given or withdrawn is a row of `consent_event`.

The customer's record keeps the current state (`sms_consent`,
`email_consent`, `invite_declined`) for the sender and the campaigns to read
fast; this log keeps the history a store must be able to show: what was
agreed to, when, where (counter, portal, import, a STOP reply, an
unsubscribe link, forget) and by whom. Callers write it inside their own
transaction, beside the change it records. `domain.messages.refusal` is the
rule that reads the state.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from peewee import JOIN

from tui_pos.models import ConsentEvent, User

# record field -> (channel, purpose, granted when the field is True)
FIELDS: dict[str, tuple[str, str, bool]] = {
    "sms_consent": ("sms", "marketing", True),
    "email_consent": ("email", "marketing", True),
    "invite_declined": ("sms", "invite", False),
}
SOURCES = ("counter", "portal", "import", "stop", "unsubscribe", "forget", "cli")


@dataclass(frozen=True)
class ConsentRow:
    at: _dt.datetime
    channel: str
    purpose: str
    granted: bool
    source: str
    user: str        # the cashier's name at the counter, else ""
    register: str

    @property
    def text(self) -> str:
        what = {"marketing": f"{self.channel.upper() if self.channel == 'sms' else 'email'} messages",
                "invite": "the account invitation SMS"}[self.purpose]
        verb = "agreed to" if self.granted else "declined" if self.purpose == "invite" else "withdrew"
        where = self.source + (f" {self.register}" if self.register else "") + (f" by {self.user}" if self.user else "")
        return f"{verb} {what} ({where})"


def record(customer_id: int, field: str, value: bool, *, source: str, user_id: int | None = None,
           register: str = "", at: _dt.datetime | None = None) -> None:
    """One change of a consent field of the record, in the caller's transaction. `at`: when it was given,
    when that is not now (an import: the file's date)."""
    if source not in SOURCES:
        raise ValueError(f"consent source {source!r}")
    channel, purpose, granted_when = FIELDS[field]
    ConsentEvent.create(customer=customer_id, channel=channel, purpose=purpose, granted=(value == granted_when),
                        source=source, user=user_id, register=register, **({"at": at} if at else {}))


def record_changes(customer_id: int, changed: dict[str, bool], *, source: str, user_id: int | None = None,
                   register: str = "", at: _dt.datetime | None = None) -> None:
    for field, value in changed.items():
        if field in FIELDS:
            record(customer_id, field, value, source=source, user_id=user_id, register=register, at=at)


def history(customer_id: int, limit: int = 50) -> list[ConsentRow]:
    """Newest first."""
    q = (ConsentEvent.select(ConsentEvent.at, ConsentEvent.channel, ConsentEvent.purpose, ConsentEvent.granted,
                             ConsentEvent.source, ConsentEvent.register, User.name.alias("user"))
         .join(User, JOIN.LEFT_OUTER, on=(ConsentEvent.user == User.id))
         .where(ConsentEvent.customer == customer_id).order_by(ConsentEvent.id.desc()).limit(limit))
    return [ConsentRow(**{**row, "user": row["user"] or ""}) for row in q.dicts()]


__all__ = ["FIELDS", "SOURCES", "ConsentRow", "history", "record", "record_changes"]
