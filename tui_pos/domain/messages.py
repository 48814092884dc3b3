"""Customer messages as pure rules: templates in en/es/fr, placeholders, the signed profile token,
what counts as a complete profile, and which addresses can receive what.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import string
from dataclasses import dataclass

from tui_pos.domain.errors import InputError

PLACEHOLDERS = {"name", "store", "link", "points", "tier", "date", "stop", "unsubscribe", "text", "order"}
MARKETING = {"birthday", "campaign"}

# name -> lang -> (subject, text). The SMS is the text; the email has the subject too.
BUILT_IN: dict[str, dict[str, tuple[str, str]]] = {
    "invite": {
        "en": ("Your {store} account", "Thanks for coming back to {store}! Complete your account and keep your "
               "points safe: {link}"),
        "es": ("Su cuenta en {store}", "¡Gracias por volver a {store}! Complete su cuenta y guarde sus puntos: "
               "{link}"),
        "fr": ("Votre compte {store}", "Merci de votre nouvelle visite chez {store} ! Complétez votre compte et "
               "gardez vos points : {link}"),
    },
    "birthday": {
        "en": ("Happy birthday from {store}", "Happy birthday, {name}! {store} wishes you a great day. {stop}"),
        "es": ("Feliz cumpleaños de parte de {store}", "¡Feliz cumpleaños, {name}! {store} le desea un gran día. "
               "{stop}"),
        "fr": ("Joyeux anniversaire de {store}", "Joyeux anniversaire, {name} ! {store} vous souhaite une belle "
               "journée. {stop}"),
    },
    "tier": {
        "en": ("You are {tier} at {store}", "Congratulations {name}: you are now {tier} at {store}."),
        "es": ("Ya es {tier} en {store}", "Felicidades {name}: ya es {tier} en {store}."),
        "fr": ("Vous êtes {tier} chez {store}", "Félicitations {name} : vous êtes désormais {tier} chez {store}."),
    },
    "expiry": {
        "en": ("Your {store} points", "{name}, {points} of your points at {store} expire on {date}. "
               "Come and use them!"),
        "es": ("Sus puntos en {store}", "{name}, {points} de sus puntos en {store} vencen el {date}. "
               "¡Venga a usarlos!"),
        "fr": ("Vos points {store}", "{name}, {points} de vos points chez {store} expirent le {date}. "
               "Venez les utiliser !"),
    },
    "ready": {
        "en": ("Your order {order} is ready", "{name}, your order {order} is ready for pick-up at {store}."),
        "es": ("Su pedido {order} está listo", "{name}, su pedido {order} está listo para recoger en {store}."),
        "fr": ("Votre commande {order} est prête", "{name}, votre commande {order} est prête à retirer chez "
               "{store}."),
    },
    "campaign": {
        "en": ("{store}", "{text} {stop}"),
        "es": ("{store}", "{text} {stop}"),
        "fr": ("{store}", "{text} {stop}"),
    },
}


class TemplateError(InputError):
    """A template that cannot be filled (an unknown placeholder, a broken brace)."""


def language(locale: str) -> str:
    """`es_PA` -> `es`; anything without a template language falls back to English."""
    lang = (locale or "en").replace("-", "_").split("_")[0].lower()
    return lang if lang in ("en", "es", "fr") else "en"


def placeholders(text: str) -> set[str]:
    """The placeholder names in `text`; TemplateError when its braces are broken."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise TemplateError(f"the template has a broken brace ({exc}): write {{name}}, "
                            "or {{ for a brace") from exc


def check(text: str) -> None:
    """TemplateError naming an unknown placeholder."""
    unknown = sorted(n for n in placeholders(text) if n not in PLACEHOLDERS)
    if unknown:
        raise TemplateError(f"unknown placeholder {{{unknown[0]}}} in the template; use "
                            + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS)))


def fill(text: str, values: dict[str, object]) -> str:
    check(text)
    return text.format(**{p: values.get(p, "") for p in PLACEHOLDERS}).strip()


def built_in(name: str, locale: str) -> tuple[str, str]:
    """(subject, text) of a built-in template in the locale's language."""
    if name not in BUILT_IN:
        raise TemplateError(f"there is no template {name!r}")
    return BUILT_IN[name][language(locale)]


def parse_template(raw: str, name: str, locale: str) -> tuple[str, str]:
    """A template file's (subject, text): a first line `Subject: ...` is the email's subject."""
    subject = ""
    if raw.lower().startswith("subject:"):
        first, _, raw = raw.partition("\n")
        subject = first.split(":", 1)[1].strip()
    default_subject = BUILT_IN.get(name, {}).get(language(locale), ("{store}", ""))[0]
    return subject or default_subject, raw.strip()


def sign(code: str, secret: str) -> str:
    """The customer's profile token: their code and an HMAC of it, URL-safe."""
    if not secret:
        raise TemplateError("no [messages] secret (or TUI_POS_MESSAGES_SECRET) to sign the profile link with")
    mac = hmac.new(secret.encode(), code.encode(), hashlib.sha256).digest()[:12]
    return f"{code}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def verify(token: str, secret: str) -> str | None:
    """The customer code in a token signed with `secret`, or None if it was not."""
    code, _, _ = token.rpartition(".")
    if not code or not secret:
        return None
    return code if hmac.compare_digest(sign(code, secret), token) else None


@dataclass(frozen=True)
class Profile:
    name: str
    email: str
    birthday: _dt.date | None

    @property
    def complete(self) -> bool:
        """What the invitation asks for: a name, an email and a birthday."""
        return bool(self.name.strip() and self.email and self.birthday)


SERVICE = {"invite"}            # about the account the customer just asked for: sent unless declined
ORDER = {"ready"}               # about an order the customer placed: on the phone or email they have given


@dataclass(frozen=True)
class Reach:
    """What a customer's record says about messages (a snapshot; the rule below reads only this)."""

    open: bool = True
    sms_consent: bool = False
    email_consent: bool = False
    marketing_opt_out: bool = False
    invite_declined: bool = False


def refusal(template: str, channel: str, reach: Reach, marketing: bool | None = None) -> str | None:
    """Why this message may not go to this customer on this channel, or None when it may.

    Seeds 001 and 004: the customer gives a phone at the counter and "will
    automatically receive a SMS for the creation of his account after his first
    visits". That invitation is a service message about the account they asked
    for: it goes by SMS unless they declined it (at the counter, or by replying
    STOP). Everything else (birthdays, campaigns, tier and expiring-points
    notices) needs the customer's explicit consent for that channel, and
    birthdays and campaigns also honour the marketing opt-out.
    """
    if marketing is None:
        marketing = template in MARKETING
    if template in ORDER:
        # The customer sent the order from their account and expects to hear when to come: an answer to what
        # they asked, not marketing, so no channel consent is needed (a closed customer gets nothing).
        return None if reach.open else "the customer is closed or was forgotten"
    if template in SERVICE:
        if not reach.open:
            return "the customer is closed or was forgotten"
        if channel != "sms":
            return "the invitation goes by SMS only"
        if reach.invite_declined:
            return "the customer declined the invitation SMS"
        return None
    if not reach.open:
        return "the customer is closed or was forgotten"
    if channel == "sms" and not reach.sms_consent:
        return "no SMS consent on the customer's record"
    if channel == "email" and not reach.email_consent:
        return "no email consent on the customer's record"
    if marketing and reach.marketing_opt_out:
        return "the customer opted out of marketing messages"
    return None


def sms_number(phone: str | None) -> str:
    """The E.164 number to text, or InputError saying why this phone cannot receive an SMS."""
    import phonenumbers
    from phonenumbers import PhoneNumberType
    if not phone:
        raise InputError("no mobile phone on the customer's record")
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        raise InputError(f"{phone} is not a phone number") from None
    kind = phonenumbers.number_type(number)
    if kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
                PhoneNumberType.SHARED_COST, PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL,
                PhoneNumberType.PAGER):
        raise InputError(f"{phone} is a fixed line: it cannot receive an SMS")
    if not phonenumbers.is_valid_number(number):
        raise InputError(f"{phone} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(email: str | None) -> str:
    if not email or "@" not in email or email.startswith("@") or email.endswith("@"):
        raise InputError(f"{email or 'no email'}: not an email address")
    return email


__all__ = ["BUILT_IN", "MARKETING", "PLACEHOLDERS", "Profile", "Reach", "SERVICE", "refusal", "TemplateError", "check",
           "email_address", "fill", "language", "parse_template",
           "built_in", "placeholders", "sign", "sms_number", "verify"]
