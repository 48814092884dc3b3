"""Configuration: every key has a default; a bad key or value names itself.

Found at --config, then $TUI_POS_CONFIG, then ./config.toml, then the user
config dir. No Textual, no database here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from platformdirs import user_config_dir, user_data_dir

from tui_pos.domain.permissions import ACTIONS as PERMISSION_ACTIONS
from tui_pos.domain.permissions import ROLES as PERMISSION_ROLES

APP_NAME = "tui-pos"


class ConfigError(Exception):
    """A configuration problem, worded for the person fixing config.toml."""


def data_dir() -> Path:
    """The user data dir (databases, logs); created on demand. ConfigError (one line) when it cannot be."""
    path = Path(user_data_dir(APP_NAME, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"the data folder {path} cannot be made ({why_not(path, exc)}): move that away, "
                          "or set XDG_DATA_HOME to a folder this user can write") from None
    return path


def why_not(folder: Path, exc: OSError) -> str:
    """Why `folder` could not be made, in words: the file in its way, or the system's reason."""
    in_the_way = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    return f"{in_the_way} is a file, not a folder" if in_the_way else (exc.strerror or str(exc))


def default_db_url(demo: bool = False) -> str:
    name = "demo.db" if demo else "tui-pos.db"
    return f"sqlite:///{data_dir() / name}"


# ---- validators: each returns the value or raises ValueError("expected ...")

def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("a string")
    return v


def _nonempty(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("a non-empty string")
    return v.strip()


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("true or false")
    return v


def _int_range(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"an integer from {lo} to {hi}")
        return v
    return check


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in choices:
            raise ValueError("one of " + ", ".join(repr(c) for c in choices))
        return v
    return check


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("a list of strings")
    return list(v)


def _nonempty_str_list(v: Any) -> list[str]:
    items = _str_list(v)
    if not items or not all(x.strip() for x in items):
        raise ValueError("a non-empty list of non-empty strings")
    return [x.strip() for x in items]


def _currency(v: Any) -> str:
    from babel.numbers import list_currencies
    expected = "a three-letter ISO 4217 currency code such as \"USD\" or \"PAB\""
    if not isinstance(v, str) or len(v) != 3 or not v.isalpha():
        raise ValueError(expected)
    if v.upper() not in list_currencies():   # Babel's ISO 4217 list (get_currency_name echoes any code back)
        raise ValueError(expected + f"; {v.upper()} is not one")
    return v.upper()


def _locale(v: Any) -> str:
    from babel import Locale, UnknownLocaleError
    try:
        Locale.parse(v)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError("a locale such as \"en_US\" or \"es_PA\"") from exc
    return v


def _region(v: Any) -> str:
    import phonenumbers
    if not isinstance(v, str) or v.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("a two-letter phone region such as \"PA\"")
    return v.upper()


def _db_url(v: Any) -> str:
    expected = "a sqlite:///PATH or postgresql://user@host/db URL"
    if not isinstance(v, str) or not (
        v == "" or v.startswith(("sqlite://", "postgresql://", "postgres://", "postgresql+pool://", "psycopg3://"))
    ):
        raise ValueError(expected)
    if v.startswith("sqlite:"):
        path = v[len("sqlite:///"):] if v.startswith("sqlite:///") else ""
        if not path.strip() or ":memory:" in path or "mode=memory" in path:
            raise ValueError("a SQLite file, sqlite:///PATH (an in-memory database would lose every sale "
                             "when the register stops), or postgresql://user@host/db")
    return v


def _percent(v: Any) -> str:
    try:
        d = Decimal(v) if isinstance(v, int) else Decimal(str(v))   # a huge int has no str()
    except InvalidOperation as exc:
        raise ValueError("a percentage from 0 to 100, such as \"10\"") from exc
    if isinstance(v, bool) or not d.is_finite() or not (0 <= d <= 100):   # NaN cannot even be compared
        raise ValueError("a percentage from 0 to 100, such as \"10\"")
    return str(d)


def _usb_id(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError('"vendor:product" in hex, such as "04b8:0202"')
    if v == "":
        return v
    parts = v.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        for p in parts:
            int(p, 16)
    except ValueError as exc:
        raise ValueError('"vendor:product" in hex, such as "04b8:0202"') from exc
    return v.lower()


def _scanner_devices(v: Any) -> list[str]:
    from tui_pos.hardware.scanner import SpecError, parse_spec
    items = _str_list(v)
    for item in items:
        try:
            parse_spec(item)
        except SpecError:
            raise ValueError('a list of event paths ("/dev/input/by-id/..."), "name:<text>" or '
                             f'"usb:<vendor>:<product>" entries; {item!r} is none of them') from None
    return [x.strip() for x in items]


def _weighed_prefixes(v: Any) -> list[str]:
    items = _str_list(v)
    for item in items:
        prefix, _, kind = item.partition(":")
        if not (prefix.isdigit() and 1 <= len(prefix) <= 3) or kind not in ("", "price", "weight"):
            raise ValueError('a list of EAN-13 prefixes such as ["20", "21:price", "28:weight"]')
    return items


def _weighed_layout(v: Any) -> str:
    from tui_pos.domain.codes import check_weighed_layout
    if not isinstance(v, str):
        raise ValueError("a 13-character layout such as \"PPIIIIIVVVVVC\"")
    check_weighed_layout(v)
    return v


def _profile(v: Any) -> str:
    expected = 'a python-escpos printer profile such as "TM-T20II", "TM-T88V" or "POS-5890"'
    if not isinstance(v, str) or not v.strip():
        raise ValueError(expected)
    v = v.strip()
    if v != "TM-T20II":
        # escpos' own list of profiles, read without importing escpos (~0.2 s)
        import importlib.util
        import json
        spec = importlib.util.find_spec("escpos")
        if spec and spec.submodule_search_locations:
            path = Path(list(spec.submodule_search_locations)[0]) / "capabilities.json"
            if path.is_file() and v not in json.loads(path.read_text(encoding="utf-8")).get("profiles", {}):
                raise ValueError(expected)
    return v


def _qr_template(v: Any) -> str:
    expected = 'a text or URL for the QR code, where {receipt} stands for the receipt number'
    if not isinstance(v, str):
        raise ValueError(expected)
    try:
        v.format(receipt="R1-000001")
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):   # "{receipt.x}", "{receipt:%}"...
        raise ValueError(expected) from None
    return v


def _money(v: Any) -> str:
    expected = "an amount of money such as \"100.00\""
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise ValueError(expected)
    try:
        d = Decimal(v) if isinstance(v, int) else Decimal(v.strip())
    except InvalidOperation as exc:
        raise ValueError(expected) from exc
    # the exponent, not quantize(): "1e30" would overflow the context's precision
    exponent = d.as_tuple().exponent   # an int when d is finite ("n", "N" or "F" when not)
    if not d.is_finite() or not 0 <= d <= Decimal("999999.99") or (isinstance(exponent, int) and exponent < -2):
        raise ValueError(expected + " (0 to 999999.99, at most 2 decimals)")
    return f"{d + 0:.2f}"   # "1E+2" and "-0" as a person writes them: "100.00", "0.00"


def _theme(v: Any) -> str:
    v = v.strip() if isinstance(v, str) else v
    if v in ("auto", "console"):
        return v
    from textual.theme import BUILTIN_THEMES  # only for a theme named here: the register loads Textual anyway
    if not isinstance(v, str) or v not in BUILTIN_THEMES:
        raise ValueError('"auto", "console" or one of the Textual themes: ' + ", ".join(sorted(BUILTIN_THEMES)))
    return v


def _url_template(v: Any) -> str:
    expected = 'a URL where {token} stands for the customer\'s signed token, such as "https://shop.example/p?t={token}"'
    if not isinstance(v, str):
        raise ValueError(expected)
    if v and (not v.startswith(("http://", "https://")) or "{token}" not in v):
        raise ValueError(expected)
    try:
        v.format(token="x")
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        raise ValueError(expected) from None
    return v


def _public_url(v: Any) -> str:
    expected = 'the address customers reach the portal at, such as "https://account.shop.example" (or "")'
    if not isinstance(v, str) or (v and not v.startswith(("http://", "https://"))) or any(c in v for c in " {}?#"):
        raise ValueError(expected)
    return v.rstrip("/")


def _pac_url(v: Any) -> str:
    expected = ('the provider\'s web service address, such as '
                '"https://demoemision.thefactoryhka.com.pa/ws/obj/v1.0/Service.svc" (or "")')
    if not isinstance(v, str) or any(c.isspace() for c in v) or not v.isprintable():
        raise ValueError(expected)
    if v and (not v.startswith(("http://", "https://")) or not urlsplit(v).hostname):
        raise ValueError(expected)
    return v


def _sms_body(v: Any) -> str:
    expected = ('a request body where {to} is the phone and {text} the message, '
                'such as \'{"to": "{to}", "text": "{text}"}\'')
    if not isinstance(v, str) or "{to}" not in v or "{text}" not in v:
        raise ValueError(expected)
    return v


# section -> key -> (default, validator)
SCHEMA: dict[str, dict[str, tuple[Any, Callable[[Any], Any]]]] = {
    "store": {
        "name": ("Demo Store", _nonempty),
        "point_of_sale": ("main", _nonempty),
        "register": ("R1", _nonempty),
        "currency": ("USD", _currency),
        "locale": ("en_US", _locale),
        "phone_region": ("PA", _region),
        "sales_mode": ("counter", _nonempty),
    },
    "database": {
        "url": ("", _db_url),
    },
    "printer": {
        "kind": ("none", _choice("none", "file", "network", "usb", "serial", "cups")),
        "path": ("", _str),
        "host": ("", _str),
        "port": (9100, _int_range(1, 65535)),
        "usb": ("", _usb_id),
        "device": ("", _str),
        "baudrate": (9600, _int_range(300, 921600)),
        "columns": (48, _int_range(24, 64)),
        "drawer": (True, _bool),
        "timeout": (5, _int_range(1, 60)),
        "profile": ("TM-T20II", _profile),
        "paper_check": (True, _bool),
    },
    "scanner": {
        "devices": ([], _scanner_devices),
        "grab": (True, _bool),
        "layout": ("us", _choice("us", "azerty", "fr")),
        "timeout_ms": (500, _int_range(50, 10000)),
        "wedge": (True, _bool),
        "wedge_gap_ms": (30, _int_range(5, 200)),
        "wedge_min_length": (4, _int_range(2, 64)),
        "weighed_prefixes": ([str(p) for p in range(20, 30)], _weighed_prefixes),
        "weighed_layout": ("PPIIIIIVVVVVC", _weighed_layout),
        "weighed_value": ("price", _choice("price", "weight")),
    },
    "receipt": {
        "header": ([], _str_list),
        "footer": ([], _str_list),
        "loyalty_block": ("used", _choice("used", "always")),
        "qr": ("", _qr_template),
        "logo": ("", _str),
    },
    "pricing": {
        "rate_and_special": ("best", _choice("best", "rate")),
    },
    "customers": {
        "stack_discounts": (False, _bool),
        "block_defaulters": (False, _bool),
    },
    "dgi": {
        "url": ("", _str),
        "token": ("", _str),
        "timeout": (5, _int_range(1, 60)),
    },
    "loyalty": {
        "max_adjustment": (1000, _int_range(1, 10_000_000)),
    },
    "sale": {
        "max_cashier_discount": ("10", _percent),
        "tenders": (["cash", "card"], _nonempty_str_list),
        "sales_modes": (["counter", "takeaway", "delivery", "web"], _nonempty_str_list),
        "opening_float": ("0.00", _money),
    },
    "ui": {
        "theme": ("auto", _theme),
    },
    "backup": {
        "dir": ("", _str),
        "keep": (7, _int_range(1, 3650)),
    },
    "security": {
        "pin_attempts": (5, _int_range(3, 20)),   # wrong PINs in a row before the prompt locks
        "pin_length": (4, _int_range(4, 8)),      # the fewest digits a new PIN may have (a PIN has at most 8)
    },
    "permissions": {   # action = the least role that may do it (domain/permissions.py says each in words)
        action.key: (action.role, _choice(*PERMISSION_ROLES)) for action in PERMISSION_ACTIONS
    },
    "messages": {
        "profile_url": ("", _url_template),
        "secret": ("", _str),
        "unsubscribe_url": ("", _url_template),
        "stop_text": ("Reply STOP to opt out.", _str),
        "per_minute": (60, _int_range(1, 100000)),
        "max_attempts": (5, _int_range(1, 100)),
        "invite": (True, _bool),
        "birthday": (True, _bool),
        "birthday_hour": (9, _int_range(0, 23)),
        "tier": (True, _bool),
        "expiry": (True, _bool),
        "expiry_days": (30, _int_range(1, 365)),
        "templates": ("", _str),
        "triggers": ("register", _choice("register", "timer")),   # who looks for birthdays and expiring points
    },
    "email": {
        "host": ("", _str),
        "port": (587, _int_range(1, 65535)),
        "starttls": (True, _bool),
        "ssl": (False, _bool),
        "user": ("", _str),
        "password": ("", _str),
        "from": ("", _str),
        "timeout": (10, _int_range(1, 120)),
    },
    "sms": {
        "kind": ("none", _choice("none", "http")),
        "url": ("", _str),
        "method": ("POST", _choice("POST", "GET", "PUT")),
        "auth": ("", _str),
        "body": ('{"to": "{to}", "text": "{text}"}', _sms_body),
        "content_type": ("application/json", _str),
        "timeout": (10, _int_range(1, 120)),
    },
    "portal": {   # the customer's account page (`tui-pos portal`, docs/portal.md)
        "public_url": ("", _public_url),
        "link_days": (30, _int_range(1, 3650)),
        "register": ("", _str),                 # where web orders are parked ("": the store's first register)
        "max_lines": (20, _int_range(1, 100)),  # the most lines a web order may have
    },
    "fiscal": {   # Panamanian electronic invoices (docs/fiscal.md)
        "mode": ("none", _choice("none", "fe")),
        "ruc": ("", _str),                      # the issuer: the store's RUC, DV, type and name
        "dv": ("", _str),
        "ruc_type": (2, _int_range(1, 2)),      # 1 natural person, 2 legal entity
        "name": ("", _str),
        "address": ("", _str),
        "branch": ("0000", _str),               # dSucEm, the sucursal code
        "point": (1, _int_range(1, 999)),       # dPtoFacDF, the punto de facturacion: its own numbering
        "environment": (2, _int_range(1, 2)),   # 1 production, 2 tests
        "pac": ("hka", _choice("hka")),         # the provider (services/pac.py)
        "url": ("", _pac_url),
        "token_company": ("", _str),            # or $TUI_POS_FISCAL_TOKEN_COMPANY
        "token_password": ("", _str),           # or $TUI_POS_FISCAL_TOKEN_PASSWORD
        "timeout": (10, _int_range(1, 120)),    # seconds for one call to the provider
        "wait_seconds": (3, _int_range(0, 60)),  # how long the receipt waits for the authorization
        "contingency_hours": (72, _int_range(1, 720)),  # doctor warns as a contingency document nears it
    },
    "offline": {   # selling while the PostgreSQL server is away (docs/offline.md)
        "enabled": (True, _bool),
        "replica": ("", _str),                  # "": replica-<register>.sqlite in the data dir
        "redeem_cap": (500, _int_range(0, 10_000_000)),   # points per customer per register between syncs
        "refresh_every": (20, _int_range(1, 3600)),       # seconds between refreshes of the replica
    },
}


@dataclass(frozen=True)
class Config:
    """The whole configuration: `cfg.store.name`, `cfg.printer.kind`..."""

    store: SimpleNamespace
    database: SimpleNamespace
    printer: SimpleNamespace
    scanner: SimpleNamespace
    receipt: SimpleNamespace
    pricing: SimpleNamespace
    customers: SimpleNamespace
    dgi: SimpleNamespace
    loyalty: SimpleNamespace
    sale: SimpleNamespace
    ui: SimpleNamespace
    backup: SimpleNamespace
    security: SimpleNamespace
    permissions: SimpleNamespace
    messages: SimpleNamespace
    email: SimpleNamespace
    sms: SimpleNamespace
    portal: SimpleNamespace
    fiscal: SimpleNamespace
    offline: SimpleNamespace
    source: str = "defaults"
    keys: dict[str, str] = field(default_factory=dict)   # [keys]: binding id -> key(s); userkeys.check knows the ids

    def db_url(self, demo: bool = False) -> str:
        """The database URL: the configured one, else the user data dir's."""
        return self.database.url or default_db_url(demo)


def _name(text: str) -> str:
    """A section or key name as typed, or quoted with its escapes when it holds control characters."""
    return text if text.isprintable() and len(text) <= 60 else _shown(text)


def _shown(value: Any) -> str:
    """A value in a message: its repr (control characters escaped: one line), cut to a readable length."""
    try:
        text = repr(value)
    except ValueError:   # a number past 4300 digits, which Python will not write
        return "a number too long to show"
    return text if len(text) <= 80 else text[:77] + "..."


def from_dict(raw: dict[str, Any], source: str = "defaults") -> Config:
    """Validate a parsed TOML document; raise ConfigError naming the key (one line, whatever the document)."""
    sections: dict[str, SimpleNamespace] = {}
    for name in raw:
        if name not in SCHEMA and name != "keys":
            raise ConfigError(f"{source}: unknown section [{_name(name)}]; expected one of "
                              + ", ".join(f"[{s}]" for s in SCHEMA))
        if not isinstance(raw[name], dict):
            raise ConfigError(f"{source}: {name} must be a table [{name}]")
    for name, keys in SCHEMA.items():
        given = raw.get(name, {})
        for key in given:
            if key not in keys:
                raise ConfigError(f"{source}: unknown key {name}.{_name(key)}; expected one of "
                                  + ", ".join(keys))
        values = {}
        for key, (default, check) in keys.items():
            value = given.get(key, default)
            try:
                values[key] = check(value)
            except ValueError as exc:
                raise ConfigError(f"{source}: {name}.{key} = {_shown(value)}: expected {exc}") from None
        sections[name] = SimpleNamespace(**values)
    if sections["store"].sales_mode not in sections["sale"].sales_modes:
        raise ConfigError(f"{source}: store.sales_mode = {_shown(sections['store'].sales_mode)}: "
                          f"expected one of sale.sales_modes {sections['sale'].sales_modes}")
    if "cash" not in sections["sale"].tenders:
        raise ConfigError(f"{source}: sale.tenders = {_shown(sections['sale'].tenders)}: "
                          "expected a list that includes \"cash\"")
    _check_fiscal(sections["fiscal"], source)
    return Config(source=source, keys=_keymap(raw.get("keys", {}), source), **sections)


def _check_fiscal(fiscal: SimpleNamespace, source: str) -> None:
    """`mode = "fe"` needs a valid issuer and a provider: each missing or bad value named by its key. The
    credentials may come from the environment ($TUI_POS_FISCAL_TOKEN_COMPANY, ..._PASSWORD) instead."""
    fiscal.token_company = fiscal.token_company or os.environ.get("TUI_POS_FISCAL_TOKEN_COMPANY", "")
    fiscal.token_password = fiscal.token_password or os.environ.get("TUI_POS_FISCAL_TOKEN_PASSWORD", "")
    if fiscal.mode != "fe":
        return
    from tui_pos.domain.errors import InputError
    for key in ("ruc", "dv", "name", "address", "url", "token_company", "token_password"):
        if not getattr(fiscal, key).strip():
            hint = (f" (or set $TUI_POS_FISCAL_{key.upper()})" if key.startswith("token") else "")
            raise ConfigError(f"{source}: fiscal.{key} is empty: mode = \"fe\" needs it{hint}")
    for key in ("name", "address"):
        if not getattr(fiscal, key).isprintable():
            raise ConfigError(f"{source}: fiscal.{key} = {_shown(getattr(fiscal, key))}: expected printable text "
                              "(no control characters)")
    from tui_pos.domain import fiscal as fiscal_rules
    try:      # the DGI's own rules for the issuer, in one place (domain/fiscal.py)
        fiscal_rules.check_issuer(fiscal_rules.Issuer(
            ruc=fiscal.ruc, dv=fiscal.dv, ruc_type=fiscal.ruc_type, name=fiscal.name, branch=fiscal.branch,
            point=fiscal.point, address=fiscal.address, environment=fiscal.environment))
    except InputError as exc:
        said = str(exc).removeprefix("Electronic invoice: issuer ")
        for words, key in (("RUC/DV", "ruc and fiscal.dv"), ("RUC", "ruc"), ("ruc_type", "ruc_type"),
                           ("name", "name"), ("address", "address"), ("branch", "branch"), ("point", "point"),
                           ("environment", "environment")):
            if said.startswith(words):
                said = f"fiscal.{key}{said[len(words):]}"
                break
        raise ConfigError(f"{source}: {said}") from None


def _keymap(table: dict[str, Any], source: str, prefix: str = "") -> dict[str, str]:
    """`[keys]`: `sale.pay = "f12"` (TOML reads the dotted name as nested tables: flattened back)."""
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_keymap(value, source, name + "."))
        elif isinstance(value, str) and value.strip() and value.isprintable():
            out[name] = value
        else:
            raise ConfigError(f"{source}: keys.{_name(name)} = {_shown(value)}: expected a key such as "
                              "\"f12\" or \"ctrl+k\"")
    return out


def find_config(explicit: str | None) -> Path | None:
    """The config file to read, or None for defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("TUI_POS_CONFIG")
    if env:
        return Path(env)
    for candidate in (Path.cwd() / "config.toml", Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def _line_of(match: re.Match[str] | None, text: str) -> str:
    return f" at line {text.count(chr(10), 0, match.start()) + 1}" if match else ""


def load(explicit: str | None = None) -> Config:
    """Load and validate; raise ConfigError with one line on any problem."""
    try:
        path = find_config(explicit)
    except OSError as exc:   # a directory on the way that this user cannot look into
        raise ConfigError(f"cannot look for the config file ({exc.strerror or exc}: {exc.filename}); "
                          "pass --config FILE or set TUI_POS_CONFIG") from None
    if path is None:
        return from_dict({})
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; expected a TOML file") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except ValueError:   # tomllib's int() past Python's 4300-digit limit
        line = _line_of(re.search(r"[0-9a-fA-F_]{1000,}", text), text)
        raise ConfigError(f"{path}: not valid TOML (a number thousands of digits long{line})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (arrays or tables nested too deeply)") from None
    return from_dict(raw, source=str(path))
