"""What the cashier types or scans into the code field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui_pos.domain.errors import InputError

MAX_QTY = 9999
_ENTRY_RE = re.compile(r"^\s*(?:(\d+)\s*[*xX]\s*)?(\S+)\s*$")


@dataclass(frozen=True)
class CodeEntry:
    """`3*7501234567890` -> qty 3, code '7501234567890'."""

    qty: int
    code: str


def check_qty(qty: int) -> int:
    if qty < 1:
        raise InputError("A quantity must be at least 1: to remove a line, use Delete line (F9).")
    if qty > MAX_QTY:
        raise InputError(f"A quantity cannot be more than {MAX_QTY}: check the number typed.")
    return qty


def parse_qty(text: str) -> int:
    raw = text.strip()
    if not raw.isdigit():
        raise InputError(f"{raw!r} is not a quantity: type a whole number from 1 to {MAX_QTY}.")
    return check_qty(int(raw))


def parse_entry(text: str) -> CodeEntry:
    """Parse `CODE` or `N*CODE`; raise InputError when it cannot be."""
    if not text.strip():
        raise InputError("Type or scan a code first.")
    m = _ENTRY_RE.match(text)
    if not m:
        raise InputError(f"{text.strip()!r} is not a code: scan a barcode or type a SKU, or N*CODE for a quantity.")
    qty = check_qty(int(m.group(1))) if m.group(1) is not None else 1
    return CodeEntry(qty=qty, code=m.group(2))


def normalize_barcode(code: str) -> str:
    """Check a barcode: numeric EAN/UPC codes must carry a valid check digit.

    UPC-E (8 digits starting with 0 or 1 is ambiguous with EAN-8) is kept as EAN-8.
    Returns the code to store; raises InputError for a bad check digit.
    """
    from stdnum import ean
    from stdnum.exceptions import ValidationError

    code = code.strip()
    if code.isdigit() and len(code) in (8, 12, 13, 14):
        try:
            return ean.validate(code)
        except ValidationError:
            raise InputError(f"barcode {code} has a wrong check digit") from None
    if not re.fullmatch(r"[A-Za-z0-9._\-]{1,48}", code):
        raise InputError(f"barcode {code!r} may only hold letters, digits, '.', '_' and '-'")
    return code
