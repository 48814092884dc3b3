"""Text helpers: search keys that ignore case and accents."""

import re as _re
import unicodedata


def search_key(text: str) -> str:
    """Lower-case, accent-free, single-spaced: 'Café  Núñez' -> 'cafe nunez'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


_INVISIBLE = frozenset(range(0x200B, 0x2010)) | frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) \
    | {0x2028, 0x2029, 0xFEFF}   # zero-width marks, bidi overrides (U+202E turns a line's columns around)


def _is_control(ch: str) -> bool:
    """C0 (NUL, ESC...), DEL and C1 controls, and the invisible marks that move or hide text: never text a
    person typed or a printer should get raw."""
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in _INVISIBLE


def control_at(text: str) -> int | None:
    """The 1-based position of the first control character in `text`, or None."""
    for i, ch in enumerate(text):
        if _is_control(ch):
            return i + 1
    return None


def printable(text: str) -> str:
    """`text` with every control character shown as "?": what comes from data is drawn and printed as
    text, never as terminal or printer codes (an `ESC p` in a name is the cash drawer's pulse)."""
    if control_at(text) is None:
        return text
    return "".join("?" if _is_control(ch) else ch for ch in text)



_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = _re.compile(r"[+-]?[\d\s().,-]*\d[\d\s().,-]*")


def csv_cell(value: object) -> object:
    """A value for a CSV cell a spreadsheet will open: text that a spreadsheet would run as a formula (it
    starts with = + - @, a tab or a carriage return) gets a leading apostrophe, as OWASP's "CSV Injection"
    page advises; numbers and phones (+50761234567, -5) stay as they are."""
    if value.__class__ is not str or not value.startswith(_FORMULA_START) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def from_csv_cell(value: str) -> str:
    """What `csv_cell` escaped, back: an import reads its own export unchanged."""
    if value.startswith("'") and value[1:2] in _FORMULA_START and value[1:2] != "":
        return value[1:]
    return value
