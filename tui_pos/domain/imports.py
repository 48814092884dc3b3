"""What a cell of an imported file may hold: numbers a store can mean, text that is text (issue 28, item 7).

Pure rules, no I/O: services/catalog.py and services/customers.py read the files, call these on each cell
and put the file, line and column in front of the message. Every refusal is an InputError worded as a
fragment ("price 1e30 is more than ..."), never a traceback: a price of `1e30` made `Decimal.quantize`
raise, `1e17` cents or 20-digit points overflowed the database's integer, a Latin-1 file raised
UnicodeDecodeError.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal

from tui_pos.domain.errors import InputError
from tui_pos.domain.loyalty import MAX_POINTS
from tui_pos.domain.money import MAX_LARGE_PRICE_CENTS, MAX_PRICE_CENTS, cents_to_decimal
from tui_pos.domain.text import control_at

MAX_CODE = 64     # a SKU, a barcode, a customer code, a card: no code is longer (the register's code field)
MAX_TEXT = 255    # any other cell: what a text column holds (varchar(255) on PostgreSQL)
_MAX_NUMBER = 32  # characters: longer than any number a store can mean; refused before Decimal reads it

# ASCII digits only ("١٢" and "²" are digits to str.isdigit, and int("²") raises), an exponent of at most
# 4 digits: Decimal never sees a number it cannot compare
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?", re.ASCII)
_WHOLE = re.compile(r"\d+", re.ASCII)


def shown(raw: str, limit: int = 24) -> str:
    """A cell as a message quotes it: a runaway cell is cut, with its length."""
    return repr(raw) if len(raw) <= limit else f"{raw[:limit]!r}... ({len(raw)} characters)"


def amount(cents: int) -> str:
    """999999 -> '9,999.99', for the limits messages name."""
    return f"{cents_to_decimal(cents):,.2f}"


def check_text(value: str, limit: int = MAX_TEXT) -> None:
    """A text cell: no control character (ESC p in a name is the cash drawer's pulse, ESC [ 2 J clears the
    register's screen), no longer than a column holds."""
    at = control_at(value)
    if at is not None:
        raise InputError(f"a control character (code {ord(value[at - 1])}) at character {at}: "
                         "the file must hold plain text")
    if len(value) > limit:
        raise InputError(f"{shown(value)} is longer than {limit} characters")


def decimal_cell(text: str, expected: str) -> Decimal:
    """A number written the plain way (2.50, 7, 1e3); anything else, NaN and Infinity included, is refused."""
    raw = text.strip()
    if len(raw) > _MAX_NUMBER or not _NUMBER.fullmatch(raw):
        raise InputError(f"{shown(raw)} is not a number; expected {expected}")
    return Decimal(raw)


def hundredths(value: Decimal) -> int | None:
    """`value` x 100 as an integer, or None when it has more than 2 decimals.

    Integer arithmetic on the digits: no context, no rounding, no `quantize` (which raises
    InvalidOperation on 1e30). Call it on a value already checked against a limit.
    """
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), "finite numbers only"
    n = int("".join(map(str, digits)))
    if n == 0:
        return 0
    shift = exponent + 2
    result: int
    if shift >= 0:
        result = n * 10 ** shift
    elif -shift > len(digits) or n % 10 ** -shift:
        return None
    else:
        result = n // 10 ** -shift
    return -result if sign else result


def price_cents(text: str, *, allow_large: bool = False) -> int:
    """A price in major units -> cents: 0 to 999,999.99 (9,999,999.99 with --allow-large), 2 decimals."""
    raw = text.strip()
    value = decimal_cell(raw, "a price such as 2.50")
    if value.is_signed():
        raise InputError(f"price {raw} is negative; expected 0 or more")
    limit = MAX_LARGE_PRICE_CENTS if allow_large else MAX_PRICE_CENTS
    if value > cents_to_decimal(limit):
        raise InputError(f"price {raw} is more than {amount(limit)}, the dearest price an import takes"
                         + ("" if allow_large else f" (--allow-large takes up to {amount(MAX_LARGE_PRICE_CENTS)})"))
    cents = hundredths(value)
    if cents is None:
        raise InputError(f"price {raw} has more than 2 decimals")
    return cents


def tax_rate_bp(text: str) -> int:
    """A tax rate in percent -> basis points: 0 to 100, at most 2 decimals."""
    raw = text.strip()
    value = decimal_cell(raw, "a tax rate in percent such as 7")
    bp = None if value.is_signed() or value > 100 else hundredths(value)
    if bp is None:
        raise InputError(f"tax rate {raw} must be a percent from 0 to 100 with at most 2 decimals")
    return bp


def points(text: str, what: str = "points") -> int:
    """A whole number of points, 0 to MAX_POINTS (the most a balance holds); never negative."""
    raw = text.strip()
    if raw.startswith("-") and _WHOLE.fullmatch(raw[1:]):
        raise InputError(f"{what} {shown(raw)} is negative; expected 0 or more")
    if not _WHOLE.fullmatch(raw):
        raise InputError(f"{shown(raw)} is not a whole number of points; expected 0, 1, 2...")
    if len(raw) > len(str(MAX_POINTS)) or int(raw) > MAX_POINTS:   # int() of 4,300+ digits raises: length first
        raise InputError(f"{what} {shown(raw)} is more than {MAX_POINTS:,}, the most points a balance holds")
    return int(raw)


# ------------------------------------------------------------------ encodings

_LINE_END = re.compile(rb"\r\n|\r|\n")


def not_utf8(data: bytes) -> tuple[int, int | None, str, str] | None:
    """Where a file stops being UTF-8 text: (line, CSV column or None, the column's name or "", message).

    None when the whole file is UTF-8. The column and the character in it are told from the line's text
    before the bad byte, its name from the header (a quoted field that spans lines leaves them out).
    """
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        start = exc.start
    lines = _LINE_END.split(data[:start])
    line = len(lines)
    text = lines[-1].decode("utf-8").removeprefix("\ufeff")
    byte = data[start]
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return 1, 1, "", "the file is UTF-32 text; save it as UTF-8 (in a spreadsheet: CSV UTF-8)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return 1, 1, "", "the file is UTF-16 text; save it as UTF-8 (in a spreadsheet: CSV UTF-8)"
    guess = ("; the file holds NUL bytes (UTF-16, or not text at all)" if b"\x00" in data[:4096]
             else " (Latin-1 or Windows-1252 text?)")
    column, name, at = None, "", ""
    if text.count('"') % 2 == 0:
        fields = (next(csv.reader([text]), []) if text else []) or [""]
        column, at = len(fields), f" at character {len(fields[-1]) + 1}"
        if line > 1:
            header = next(csv.reader([_LINE_END.split(data, maxsplit=1)[0].decode("utf-8", "replace")]), [])
            name = header[column - 1].removeprefix("\ufeff") if column <= len(header) else ""
    return line, column, name, (f"byte 0x{byte:02X}{at} is not UTF-8{guess}: "
                                "save the file as UTF-8 (in a spreadsheet: CSV UTF-8)")


def listed(items: list[str], limit: int = 50) -> list[str]:
    """What an import's audit entry names (the codes it updated...): the first `limit`, then how many more."""
    return items if len(items) <= limit else items[:limit] + [f"... and {len(items) - limit} more"]


def missing_columns(header: list[str], missing: list[str], expected: list[str]) -> str:
    """The refusal of a header without the columns a format needs (a UTF-16 file's header is full of NULs)."""
    if "\x00" in "".join(header):
        return "the header holds NUL bytes: the file is UTF-16 or not text; save it as UTF-8 (CSV UTF-8)"
    return "missing column(s) " + ", ".join(missing) + "; expected header " + ",".join(expected)
