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


# ---------------------------------------------------------------- scanned barcodes

def upce_to_upca(code: str) -> str | None:
    """Expand an 8-digit UPC-E (number system 0 or 1) to its 12-digit UPC-A, or None."""
    if len(code) != 8 or not code.isdigit() or code[0] not in "01":
        return None
    n, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return n + body + check


def _ean_valid(code: str) -> bool:
    from stdnum import ean
    return ean.is_valid(code)


def scanned_forms(code: str) -> list[str]:
    """The codes to look a scanned barcode up by, best first.

    A 12-digit UPC-A is also its EAN-13 with a leading 0; a valid UPC-E is
    looked up as its expanded UPC-A / EAN-13 too.
    """
    forms = [code]
    if code.isdigit() and len(code) == 12:
        forms.append("0" + code)
    upca = upce_to_upca(code)
    if upca is not None and _ean_valid(upca):
        forms += [upca, "0" + upca]
    return forms


def bad_check_digit(code: str) -> bool:
    """True for a numeric EAN/UPC-shaped code whose check digit is wrong (a misread)."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    if _ean_valid(code):
        return False
    upca = upce_to_upca(code)
    return not (upca is not None and _ean_valid(upca))


@dataclass(frozen=True)
class Weighed:
    """An in-store EAN-13 (prefixes 20-29): an item's PLU and its embedded price or weight."""

    plu: str
    value: int          # cents for a price, grams for a weight
    kind: str           # price | weight

    def price_cents(self, per_kg_cents: int) -> int:
        """The line's price: the embedded price, or the weight at the product's price per kg."""
        from tui_pos.domain.money import round_half_up
        if self.kind == "price":
            return self.value
        return round_half_up(per_kg_cents * self.value, 1000)

    def label(self, name: str) -> str:
        """The line's name: a weight is shown in kg (`Gouda 0.350 kg`)."""
        if self.kind == "weight":
            kg, grams = divmod(self.value, 1000)
            return f"{name} {kg}.{grams:03d} kg"
        return name


def check_weighed_layout(layout: str) -> str:
    """A layout is 13 letters: P prefix, I item (PLU), V value, X ignored, C the check digit last."""
    if (len(layout) != 13 or set(layout) - set("PIVXC") or layout[-1] != "C" or layout.count("C") != 1
            or "I" not in layout or "V" not in layout or not layout.startswith("P")):
        raise ValueError('a 13-letter layout of P (prefix), I (item), V (value), X (ignored) and a final C, '
                         'such as "PPIIIIIVVVVVC"')
    return layout


def parse_weighed(code: str, prefixes: list[str], layout: str, default_kind: str = "price") -> Weighed | None:
    """The PLU and value of a weighed-item EAN-13, or None when the code is not one.

    `prefixes` are entries like "20", "21:price" or "28:weight"; the value is
    read from the layout's V digits (cents for a price, grams for a weight).
    """
    if len(code) != 13 or not code.isdigit():
        return None
    for entry in prefixes:
        prefix, _, kind = entry.partition(":")
        if code.startswith(prefix):
            plu = "".join(c for c, k in zip(code, layout) if k == "I")
            value = int("".join(c for c, k in zip(code, layout) if k == "V"))
            return Weighed(plu=plu, value=value, kind=kind or default_kind)
    return None
