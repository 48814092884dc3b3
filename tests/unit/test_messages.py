"""The messages' pure rules: templates and placeholders, the signed token, addresses."""

import datetime as dt

import pytest

from tui_pos.domain import messages as rules
from tui_pos.domain.errors import InputError


@pytest.mark.parametrize("locale,lang", [("es_PA", "es"), ("fr-FR", "fr"), ("en_US", "en"), ("de_DE", "en"),
                                         ("", "en")])
def test_language_falls_back_to_english(locale, lang):
    assert rules.language(locale) == lang


def test_every_built_in_template_is_in_three_languages_and_fills():
    for langs in rules.BUILT_IN.values():
        assert set(langs) == {"en", "es", "fr"}
        for subject, text in langs.values():
            rules.check(subject)
            rules.check(text)
            assert "{" not in rules.fill(text, {"name": "Ana", "store": "Sol", "link": "L", "points": 5,
                                               "tier": "Gold", "date": "2026-12-01", "stop": "STOP", "text": "x"})


def test_unknown_placeholder_and_broken_brace():
    with pytest.raises(rules.TemplateError, match=r"unknown placeholder \{nombre\}"):
        rules.fill("Hola {nombre}", {})
    with pytest.raises(rules.TemplateError, match="broken brace"):
        rules.fill("Hola {name", {})
    assert rules.fill("{{literal}} {name}", {"name": "Ana"}) == "{literal} Ana"


def test_template_file_with_a_subject_line():
    assert rules.parse_template("Subject: Hi {name}\nBody {store}\n", "tier", "en") == ("Hi {name}", "Body {store}")
    assert rules.parse_template("Only a body", "tier", "es") == ("Ya es {tier} en {store}", "Only a body")


def test_signed_token_round_trip_and_tamper():
    token = rules.sign("C000042", "s3cret")
    assert rules.verify(token, "s3cret") == "C000042"
    assert rules.verify(token, "other") is None
    assert rules.verify(token.replace("C000042", "C000043"), "s3cret") is None
    assert rules.verify("garbage", "s3cret") is None
    with pytest.raises(rules.TemplateError, match="secret"):
        rules.sign("C1", "")


def test_profile_complete_needs_name_email_and_birthday():
    assert rules.Profile("Ana", "a@b.c", dt.date(1990, 1, 1)).complete
    assert not rules.Profile("Ana", "", dt.date(1990, 1, 1)).complete
    assert not rules.Profile(" ", "a@b.c", dt.date(1990, 1, 1)).complete
    assert not rules.Profile("Ana", "a@b.c", None).complete


def test_which_phones_can_receive_an_sms():
    assert rules.sms_number("+50761234567") == "+50761234567"
    with pytest.raises(InputError, match="fixed line"):
        rules.sms_number("+5072123456")
    with pytest.raises(InputError, match="no mobile phone"):
        rules.sms_number(None)
    with pytest.raises(InputError, match="not a phone number"):
        rules.sms_number("hello")
    assert rules.email_address("a@b.c") == "a@b.c"
    with pytest.raises(InputError):
        rules.email_address("@b.c")
