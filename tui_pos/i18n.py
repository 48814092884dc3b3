"""Message catalogs (Babel, gettext domain `tui_pos`) and choosing a language.

One folder, `tui_pos/locale/{lang}/LC_MESSAGES/tui_pos.po`, for the whole package: the portal uses it now,
the register's screens can later (their strings are not marked yet). The .po files are the only source:
they are compiled into memory the first time a language is asked for (babel.messages.pofile.read_po ->
mofile.write_mo -> babel.support.Translations), so a fresh clone needs no compile step and no .mo file can
go stale. English is the source language: its catalog is the messages themselves.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

from babel import Locale
from babel.messages import mofile, pofile
from babel.support import NullTranslations, Translations

DOMAIN = "tui_pos"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "es", "fr")
NAMES = {"en": "English", "es": "Español", "fr": "Français"}     # each in its own language, for the switch


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The catalog of `lang` (one of LANGUAGES), compiled from its .po file once per process."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang not in LANGUAGES or lang == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as fp:
        catalog = pofile.read_po(fp, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    mofile.write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def language_of(locale: str) -> str | None:
    """`es_PA` -> `es` when it is one of LANGUAGES, else None."""
    lang = locale.replace("-", "_").split("_")[0].lower()
    return lang if lang in LANGUAGES else None


def parse_accept_language(header: str) -> list[str]:
    """The tags of an Accept-Language header, best first (q=0 dropped, at most 20 read)."""
    tags: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        tag = tag.strip()
        if tag and tag != "*" and q > 0:
            tags.append((-q, i, tag))
    return [tag for _, _, tag in sorted(tags)]


def negotiate(preferred: Iterable[str], default: str = "en") -> str:
    """The best of LANGUAGES for these tags (Babel's Locale.negotiate), else `default`."""
    found = Locale.negotiate(list(preferred), list(LANGUAGES), sep="-")
    return found.language if found is not None and found.language in LANGUAGES else default


def locale_for(lang: str, store_locale: str) -> str:
    """The Babel locale for money and dates: the store's own (`es_PA`) when it speaks `lang`, else `lang`."""
    return store_locale if language_of(store_locale) == lang else lang


__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "NAMES", "language_of", "locale_for", "negotiate",
           "parse_accept_language", "translations"]
