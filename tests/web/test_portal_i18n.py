"""The portal in English, Spanish and French (issue 21 item 7), through the ASGI app: Accept-Language,
the ?lang= switch and its cookie, <html lang>, translated field errors, money and dates in the page's
locale; and the catalogs themselves (every message translated, the placeholders kept, the template up
to date with the code).
"""

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages import pofile
from babel.messages.extract import extract_from_dir
from starlette.testclient import TestClient

from tests.service.test_loyalty import program  # noqa: F401 - the fixture
from tests.service.test_portal import SECRET, person, sell, shop, token_of  # noqa: F401 - shop is a fixture
from tui_pos import i18n
from tui_pos.models import Customer
from tui_pos.portal.app import CSP, LANG_COOKIE, create_app
from tui_pos.services import loyalty, portal

SETTINGS = portal.Settings(secret=SECRET, store="Café Sol")
ROOT = Path(__file__).parents[2]


@pytest.fixture
def client(demo):
    with TestClient(create_app(SETTINGS), follow_redirects=False) as c:
        yield c


def html_lang(html: str) -> str:
    return re.search(r'<html lang="([a-z]+)">', html).group(1)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


@pytest.mark.parametrize(("header", "lang", "heading"), [
    ("", "en", "Send me a new link"),
    ("es-PA,es;q=0.9,en;q=0.5", "es", "Enviarme un enlace nuevo"),
    ("fr-CA", "fr", "M’envoyer un nouveau lien"),
    ("de-DE,de;q=0.9,fr;q=0.8,en;q=0.5", "fr", "M’envoyer un nouveau lien"),   # the first one we speak
    ("en;q=0.2,es;q=0.8", "es", "Enviarme un enlace nuevo"),                      # by q, not by order
    ("de, it", "en", "Send me a new link"),                                       # none: the store's (en_US)
])
def test_accept_language_picks_the_page_language(client, header, lang, heading):
    r = client.get("/link", headers={"accept-language": header} if header else {})
    assert r.status_code == 200
    assert html_lang(r.text) == lang and r.headers["content-language"] == lang
    assert f"<h1>{heading}</h1>" in r.text
    assert LANG_COOKIE not in r.cookies                          # only the switch sets the cookie


def test_the_store_language_is_the_default(demo):
    settings = portal.Settings(secret=SECRET, store="Café Sol", locale="es_PA")
    with TestClient(create_app(settings)) as c:
        assert html_lang(c.get("/").text) == "es"
        assert html_lang(c.get("/", headers={"accept-language": "de"}).text) == "es"
        assert html_lang(c.get("/", headers={"accept-language": "fr"}).text) == "fr"
    with TestClient(create_app(portal.Settings(secret=SECRET, locale="de_DE"))) as c:
        assert html_lang(c.get("/").text) == "en"


def test_the_switch_is_plain_links_and_a_cookie_remembers_it(client):
    home = client.get("/", headers={"accept-language": "en"}).text
    for code, name in (("es", "Español"), ("fr", "Français")):       # each language named in itself
        assert f'<a href="?lang={code}" lang="{code}" hreflang="{code}">{name}</a>' in home
    assert '<span aria-current="true" lang="en">English</span>' in home
    assert "<script" not in home

    r = client.get("/link?lang=es", headers={"accept-language": "fr"})   # the switch beats the browser's
    assert html_lang(r.text) == "es"
    cookie = r.headers["set-cookie"]
    assert f"{LANG_COOKIE}=es" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "samesite=lax" in cookie.lower() and "Max-Age=31536000" in cookie
    assert r.headers["content-security-policy"] == CSP                    # the switch keeps the policy
    # remembered on the next pages, whatever Accept-Language says, until switched again
    assert html_lang(client.get("/", headers={"accept-language": "fr"}).text) == "es"
    assert html_lang(client.get("/link?lang=fr").text) == "fr"
    assert html_lang(client.get("/").text) == "fr"
    assert html_lang(client.get("/?lang=xx").text) == "fr"                # an unknown one changes nothing


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Your loyalty", "Your details", "Your purchases", "Save", "Offers and news by email"]),
    ("es", ["Su fidelidad", "Sus datos", "Sus compras", "Guardar", "Ofertas y novedades por correo"]),
    ("fr", ["Votre fidélité", "Vos coordonnées", "Vos achats", "Enregistrer", "Offres et actualités par e-mail"]),
])
def test_the_account_page_in_each_language(program, shop, client, lang, words):  # noqa: F811
    ana = person()
    loyalty.opening_balance(ana.id, 160)
    sell(shop, ana.id, "CAPP")
    r = client.get(f"/a/{token_of(ana.id, SETTINGS)}", headers={"accept-language": lang})
    assert r.status_code == 200 and html_lang(r.text) == lang
    for word in words:
        assert word in r.text
    balance = Customer.get_by_id(ana.id).points_balance
    unit = {"en": "points", "es": "puntos", "fr": "points"}[lang]
    assert f'<p class="balance" id="balance">{balance} {unit}</p>' in r.text
    # the receipt's date and total through Babel in the page's locale
    month = {"en": r"[A-Z][a-z]{2} \d{1,2}, 20\d\d", "es": r"\d{1,2} [a-z]{3}\.? 20\d\d",
             "fr": r"\d{1,2} [a-zéû]{3,5}\.? 20\d\d"}[lang]
    assert re.search(f'<span class="date">{month}, ', r.text), lang
    total = {"en": r"\$\d+\.\d\d", "es": r"\d+,\d\d\xa0US\$", "fr": r"\d+,\d\d\xa0\$US"}[lang]
    assert re.search(f'<span class="total">{total}</span>', r.text)


@pytest.mark.parametrize(("lang", "email_error", "birthday_error", "name_label"), [
    ("en", "Email: is not an email address", "Birthday: is in the future", "Name"),
    ("es", "Correo electrónico: no es una dirección de correo", "Cumpleaños: está en el futuro", "Nombre"),
    ("fr", "E-mail\xa0: n’est pas une adresse e-mail", "Date de naissance\xa0: est dans le futur", "Nom"),
])
def test_field_errors_in_the_page_language_tied_to_their_field(client, lang, email_error, birthday_error,
                                                               name_label):
    c = person(email="old@example.com")
    token = token_of(c.id, SETTINGS)
    page = client.get(f"/a/{token}?lang={lang}")
    future = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    bad = client.post(f"/a/{token}", data={"csrf": csrf_of(page.text), "name": "Ana", "email": "ana@",
                                           "birthday": future})
    assert bad.status_code == 400 and html_lang(bad.text) == lang
    assert email_error in bad.text and birthday_error in bad.text
    assert f'<label for="name">{name_label}</label>' in bad.text
    # each message has an id and its field points at it
    assert '<li id="email-error">' in bad.text and '<li id="birthday-error">' in bad.text
    assert re.search(r'<input id="email"[^>]*aria-invalid="true" aria-describedby="email-error"', bad.text)
    assert re.search(r'<input id="birthday"[^>]*aria-invalid="true" aria-describedby="birthday-error"', bad.text)
    assert not re.search(r'<input id="name"[^>]*aria-invalid', bad.text)
    assert Customer.get_by_id(c.id).email == "old@example.com"


def test_csrf_refusal_in_the_page_language(client):
    c = person()
    r = client.post(f"/a/{token_of(c.id, SETTINGS)}?lang=es", data={"csrf": "0" * 64, "name": "Ana"})
    assert r.status_code == 403 and r.text == "Este formulario ha caducado: vuelva a abrir su enlace."


# ---------------------------------------------------------------- the catalogs

def _catalog(lang: str):
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as fp:
        return pofile.read_po(fp, locale=lang, domain=i18n.DOMAIN)


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\(\w+\)[sd]", text))


def test_the_template_is_up_to_date_with_the_code():
    """`pybabel extract` (babel.cfg) finds exactly the messages of tui_pos/locale/tui_pos.pot."""
    method_map = [("tui_pos/**.py", "python"), ("tui_pos/portal/templates/**.html", "jinja2")]
    options = {"tui_pos/portal/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {m[2] if isinstance(m[2], str) else m[2][0]
             for m in extract_from_dir(str(ROOT), method_map, options, keywords={"_": None, "_n": None, "gettext": None,
                                                                                 "ngettext": (1, 2)})}
    with (i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot").open("rb") as fp:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in pofile.read_po(fp) if m.id}
    assert found == template, "run the pybabel extract and update of docs/portal.md"


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_every_message_is_translated_with_its_placeholders(lang):
    cat = _catalog(lang)
    with (i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot").open("rb") as fp:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in pofile.read_po(fp) if m.id}
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}
    assert ids == template
    for m in cat:
        if not m.id:
            continue
        assert not m.fuzzy, m.id
        source = m.id if isinstance(m.id, str) else m.id[1]
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for s in strings:
            assert s, f"{lang}: {m.id!r} is not translated"
            assert _placeholders(s) == _placeholders(source), (lang, m.id, s)
    assert i18n.translations(lang).gettext("Save") != "Save"


def test_negotiation_and_parsing():
    assert i18n.parse_accept_language("fr;q=0.3, es-MX , en;q=0") == ["es-MX", "fr"]
    assert i18n.parse_accept_language("*;q=1, garbage;q=x") == []
    assert i18n.negotiate(["pt-BR", "es-AR"]) == "es"
    assert i18n.negotiate(["pt-BR"], "fr") == "fr"
    assert i18n.locale_for("es", "es_PA") == "es_PA" and i18n.locale_for("fr", "es_PA") == "fr"
    assert i18n.translations("xx").gettext("Save") == "Save"
