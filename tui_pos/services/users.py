"""Users and PINs: salted scrypt hashes, roles, manager approval."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tui_pos.domain.errors import InputError
from tui_pos.models import User, db
from tui_pos.services import audit

ROLES = ("cashier", "manager", "admin")
MANAGER_ROLES = ("manager", "admin")
_N, _R, _P = 2 ** 14, 8, 1


@dataclass(frozen=True)
class Person:
    """A signed-in user, as the screens see one."""

    id: int
    name: str
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(digest) // 2)
    return hmac.compare_digest(got.hex(), digest)


def check_pin_format(pin: str) -> str:
    pin = pin.strip()
    if not pin.isdigit() or not 4 <= len(pin) <= 8:
        raise InputError("A PIN is 4 to 8 digits.")
    return pin


def add_user(name: str, role: str, pin: str) -> Person:
    name = name.strip()
    if not name:
        raise InputError("A user needs a name.")
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    pin = check_pin_format(pin)
    with db.atomic():
        if User.select().where(User.name == name).exists():
            raise InputError(f"A user named {name!r} already exists.")
        for other in User.select(User.name, User.pin_hash).where(User.active == True):  # noqa: E712
            if verify_pin(pin, other.pin_hash):
                raise InputError("That PIN is already taken: choose another one.")
        user = User.create(name=name, role=role, pin_hash=hash_pin(pin))
        audit.record("user.add", user_id=user.id, name=name, role=role)
    return Person(user.id, user.name, user.role)


def users_exist() -> bool:
    return User.select().where(User.active == True).exists()  # noqa: E712


def authenticate(pin: str) -> Person | None:
    """The active user with this PIN, or None."""
    pin = pin.strip()
    if not pin:
        return None
    for user in User.select().where(User.active == True):  # noqa: E712
        if verify_pin(pin, user.pin_hash):
            return Person(user.id, user.name, user.role)
    return None


def manager_for(pin: str) -> Person | None:
    person = authenticate(pin)
    return person if person and person.is_manager else None


def get(user_id: int) -> Person | None:
    user = User.get_or_none(User.id == user_id)
    return Person(user.id, user.name, user.role) if user else None
