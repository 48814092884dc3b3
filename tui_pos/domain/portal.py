"""The customer's account link as pure rules: a token that names the customer, says when it was made,
and is signed with `[messages] secret` through the same signer as the invitation (`messages.sign`).

The portal signs with a key derived from the secret (`secret + PORTAL_KEY`), so an unsubscribe link's
token never opens an account page and an account token never unsubscribes anyone. The token is
`CODE.ISSUED.MAC`: ISSUED is the Unix time (seconds) the link was made; it stops working `link_days`
later (`read` says "expired"). Nothing personal is in it beyond the customer's code.
"""

from __future__ import annotations

import datetime as _dt
import urllib.parse
from dataclasses import dataclass

from tui_pos.domain import messages as signer

PORTAL_KEY = "|portal-account-link"


@dataclass(frozen=True)
class Link:
    """What a valid signature says: whose link it is and when it was made."""

    code: str
    issued: _dt.datetime


def make(code: str, secret: str, now: _dt.datetime) -> str:
    """A fresh account token for the customer `code`, made at `now` (UTC)."""
    if not secret:
        raise signer.TemplateError("no [messages] secret (or TUI_POS_MESSAGES_SECRET) to sign the account link with")
    return signer.sign(f"{code}.{int(now.timestamp())}", secret + PORTAL_KEY)


def read(token: str, secret: str) -> Link | None:
    """The customer and issue time in `token`, or None when it is not ours (forged, another secret, garbled)."""
    if not secret or len(token) > 200:
        return None
    payload = signer.verify(token, secret + PORTAL_KEY)
    if payload is None:
        return None
    code, _, issued = payload.rpartition(".")
    if not code or not issued.isdigit():
        return None
    return Link(code, _dt.datetime.fromtimestamp(int(issued), _dt.UTC))


def expired(link: Link, now: _dt.datetime, link_days: int) -> bool:
    """True when the link is older than `link_days` days (or made in the future: a clock gone wrong)."""
    age = now - link.issued
    return age > _dt.timedelta(days=link_days) or age < -_dt.timedelta(minutes=5)


def url(public_url: str, token: str) -> str:
    """The address the invitation carries: `{public_url}/a/{token}`."""
    return f"{public_url.rstrip('/')}/a/{urllib.parse.quote(token, safe='')}"


def unsubscribe_url(public_url: str) -> str:
    """The marketing emails' unsubscribe link on the portal (`{public_url}/u/{token}`), "" without a portal.
    Its token is the unsubscribe token (`messages.sign`), not an account token."""
    return f"{public_url.rstrip('/')}/u/{{token}}" if public_url else ""


__all__ = ["PORTAL_KEY", "Link", "expired", "make", "read", "unsubscribe_url", "url"]
