"""Text helpers: search keys that ignore case and accents."""

import unicodedata


def search_key(text: str) -> str:
    """Lower-case, accent-free, single-spaced: 'Café  Núñez' -> 'cafe nunez'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())
