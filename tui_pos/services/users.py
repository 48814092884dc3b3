"""Users and PINs: salted scrypt hashes, roles, manager approval."""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from peewee import fn

from tui_pos.domain.errors import InputError, NeedsManager, PosError
from tui_pos.domain.permissions import DEFAULT as _DEFAULT_PERMISSIONS
from tui_pos.domain.permissions import Permissions
from tui_pos.domain.text import control_at
from tui_pos.models import PinLock, User, db, utcnow
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


NAME_MAX = 40
PIN_MIN, PIN_MAX = 4, 8   # digits: `[security] pin_length` raises the fewest (4 to 8); the PIN prompts take PIN_MAX


def check_pin_format(pin: str, min_length: int = PIN_MIN) -> str:
    """The PIN of a new user: ASCII digits, from `min_length` ([security] pin_length) to PIN_MAX of them."""
    pin = pin.strip()
    if not (pin.isascii() and pin.isdigit()) or not min_length <= len(pin) <= PIN_MAX:
        count = f"{min_length} to {PIN_MAX}" if min_length < PIN_MAX else str(PIN_MAX)
        raise InputError(f"A PIN is {count} digits" + (" ([security] pin_length)." if min_length > PIN_MIN else "."))
    return pin


def add_user(name: str, role: str, pin: str, *, min_length: int = PIN_MIN) -> Person:
    """A new user; `min_length` is `[security] pin_length` (PINs already given keep working when it rises)."""
    name = name.strip()
    if not name:
        raise InputError("A user needs a name.")
    if (at := control_at(name)) is not None:   # a name is drawn on the header, the reports and the receipts
        raise InputError(f"A user's name cannot hold a control character (code {ord(name[at - 1])} at "
                         f"character {at}): type the name as it should be read.")
    if len(name) > NAME_MAX:
        raise InputError(f"A user's name has at most {NAME_MAX} characters (the header and the reports show it).")
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    pin = check_pin_format(pin, min_length)
    with db.atomic():
        if User.select().where(fn.LOWER(User.name) == name.lower()).exists():
            raise InputError(f"A user named {name!r} already exists (names are told apart without case).")
        for other in User.select(User.name, User.pin_hash).where(User.active == True):  # noqa: E712
            if verify_pin(pin, other.pin_hash):
                raise InputError("That PIN is already taken: choose another one.")
        user = User.create(name=name, role=role, pin_hash=hash_pin(pin))
        audit.record("user.add", user_id=user.id, name=name, role=role)
    return Person(user.id, user.name, user.role)


def users_exist() -> bool:
    return User.select().where(User.active == True).exists()  # noqa: E712


class PinLocked(PosError):
    """Too many wrong PINs in a row: every PIN prompt of this register waits."""

    def __init__(self, seconds: int) -> None:
        wait = f"{seconds} s" if seconds < 120 else f"{(seconds + 59) // 60} minutes"
        super().__init__(f"Too many wrong PINs: the PIN prompts are locked for {wait}. A manager can lift it "
                         "with `tui-pos user unlock`.")
        self.seconds = seconds


FIRST_LOCK = 30          # seconds, doubling with each wrong PIN past the limit ...
LONGEST_LOCK = 15 * 60   # ... up to a quarter of an hour
FORGET_AFTER = 15 * 60   # a quarter of an hour without a wrong PIN and the count starts again from 0


@dataclass
class Lockout:
    """Where PINs are typed (a register) and how many wrong ones in a row lock its prompts; set by the
    composition root. Without one (scripts, tests of other things) there is no lockout."""

    place: str = ""
    attempts: int = 5


LOCKOUT = Lockout()


def configure_lockout(place: str, attempts: int) -> None:
    LOCKOUT.place, LOCKOUT.attempts = place, attempts


def lock_seconds(failures: int, attempts: int) -> int:
    """How long the prompts lock after `failures` wrong PINs in a row (0: not locked)."""
    if failures < attempts:
        return 0
    return min(LONGEST_LOCK, FIRST_LOCK * 2 ** (failures - attempts))


def authenticate(pin: str) -> Person | None:
    """The active user with this PIN, or None; PinLocked while this register's prompts are locked.

    Each wrong PIN is counted and audited; after `[security] pin_attempts` in a row the prompts lock for 30 s,
    doubling with each further wrong one up to 15 minutes (the lock is in the database: a restart keeps it).
    The right PIN costs what it did: one scrypt check per user. It does not reset the count (a cashier's own
    PIN between guesses would let them try a manager's PIN without end): the count expires FORGET_AFTER
    seconds after the last wrong PIN, or `tui-pos user unlock` clears it."""
    pin = pin.strip()
    if not pin:
        return None
    place = LOCKOUT.place
    lock = PinLock.get_or_none(PinLock.place == place) if place else None
    now = utcnow()
    if lock is not None and lock.locked_until is not None and lock.locked_until > now:
        raise PinLocked(max(1, int((lock.locked_until - now).total_seconds() + 0.999)))
    for user in User.select().where(User.active == True):  # noqa: E712
        if verify_pin(pin, user.pin_hash):
            return Person(user.id, user.name, user.role)
    if place:
        with db.atomic():
            recent = (lock is not None and lock.last_failure is not None
                      and (now - lock.last_failure).total_seconds() < FORGET_AFTER)
            failures = (lock.failures if recent and lock is not None else 0) + 1
            seconds = lock_seconds(failures, LOCKOUT.attempts)
            until = now + _dt.timedelta(seconds=seconds) if seconds else None
            (PinLock.insert(place=place, failures=failures, locked_until=until, last_failure=now)
             .on_conflict(conflict_target=[PinLock.place],
                          update={PinLock.failures: failures, PinLock.locked_until: until,
                                  PinLock.last_failure: now}).execute())
            audit.record("pin.failure", register=place, failures=failures)
            if seconds:
                audit.record("pin.locked", register=place, seconds=seconds)
        if seconds:
            raise PinLocked(seconds)   # the wrong PIN that locks says so at once, not at the next try
    return None


def unlock(place: str | None = None) -> int:
    """Lift the lock of one register's prompts (or of every register's); returns how many were locked."""
    with db.atomic():
        q = PinLock.update(failures=0, locked_until=None)
        if place:
            q = q.where(PinLock.place == place)
        n = q.execute()
        audit.record("pin.unlock", register=place or "every register", locks=n)
        return n


def manager_for(pin: str) -> Person | None:
    person = authenticate(pin)
    return person if person and person.is_manager else None


def get(user_id: int) -> Person | None:
    user = User.get_or_none(User.id == user_id)
    return Person(user.id, user.name, user.role) if user else None


# ----------------------------------------------------------- permissions

_PERMISSIONS = [_DEFAULT_PERMISSIONS]


def configure_permissions(table: Permissions) -> None:
    """Set by the composition root from `[permissions]`; every gate reads it."""
    _PERMISSIONS[0] = table


def permissions() -> Permissions:
    return _PERMISSIONS[0]


def may(person: Person | None, action: str) -> bool:
    """Whether this signed-in person may do `action` without anybody else's PIN."""
    return person is not None and permissions().allows(person.role, action)


def approver_for(pin: str, action: str) -> Person | None:
    """The active user with this PIN whose role may do `action`, or None (PinLocked while locked)."""
    person = authenticate(pin)
    return person if person is not None and permissions().allows(person.role, action) else None


def approve(action: str, approver_id: int | None, message: str | None = None, *,
            user_id: int | None = None) -> int | None:
    """The id of whoever approves `action`, or NeedsManager worded for the prompt.

    None when the register has no users (the first start) or the table lets a cashier do it alone.
    The signed-in `user_id` approves by themselves when their role may do it."""
    table = permissions()
    if not users_exist():
        return None
    if approver_id is not None:
        approver = User.get_or_none(User.id == approver_id)
        if approver is not None and approver.active and table.allows(approver.role, action):
            return approver.id
        raise NeedsManager(action, refusal(action, message))
    if not table.needs_approval(action):
        return None
    signed_in = User.get_or_none(User.id == user_id) if user_id is not None else None
    if signed_in is not None and signed_in.active and table.allows(signed_in.role, action):
        return signed_in.id
    raise NeedsManager(action, message or table.prompt(action))


def refusal(action: str, message: str | None = None) -> str:
    """What a PIN prompt says to a PIN that may not do `action`."""
    return f"That PIN is not {_article(permissions().role_for(action))}'s. {message or permissions().prompt(action)}"


def approval_title(action: str) -> str:
    """The PIN prompt's title: "Manager approval"."""
    return f"{permissions().role_for(action).capitalize()} approval"


def pin_words(action: str) -> str:
    """ "a manager PIN": whose PIN `action` needs under the table in force."""
    return f"{_article(permissions().role_for(action))} PIN"


def _article(role: str) -> str:
    return ("an " if role[0] in "aeiou" else "a ") + role
