"""The message catalogs: every text exists in Danish and English, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from bot.i18n import LANGUAGES, LOCALES_DIR, catalog, language_of, text

AREAS = sorted({path.name.split(".")[0] for path in LOCALES_DIR.glob("*.toml")})


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("area", AREAS)
def test_every_area_has_both_languages(area: str) -> None:
    for language in LANGUAGES:
        assert (LOCALES_DIR / f"{area}.{language}.toml").is_file()


def test_danish_and_english_have_the_same_keys_and_placeholders() -> None:
    danish, english = catalog("da"), catalog("en")
    assert set(danish) == set(english)
    mismatched = [key for key in danish if placeholders(danish[key]) != placeholders(english[key])]
    assert mismatched == []


def test_no_text_is_empty() -> None:
    for language in LANGUAGES:
        assert [key for key, value in catalog(language).items() if not value.strip()] == []


def test_platform_locales_choose_the_language_and_danish_is_the_default() -> None:
    locales = ("en-US", "en_GB", "da-DK", "de-DE", "", None)
    assert [language_of(x) for x in locales] == ["en", "en", "da", "da", "da", "da"]
    assert text("policy.money.pattern", "en-US") == catalog("en")["policy.money.pattern"]
