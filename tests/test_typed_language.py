"""The language a first message is written in, whatever the page or platform says: the bot answers in it."""

from __future__ import annotations

import pytest

from dialogs.matching import typed_language


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("internettet virker ikke for nogen af os på kontoret, vi kan ikke arbejde", "da"),
        ("printeren virker ikke", "da"),
        ("min outlook er nede, kan ikke sende mails", "da"),
        ("vi har ikke noget netværk, teams og outlook er døde", "da"),
        ("the internet is down for everyone in the office", "en"),
        ("I can't log in to my laptop, it says my password is wrong", "en"),
        ("my outlook doesnt work, please help", "en"),
    ],
)
def test_a_message_clearly_in_one_language_is_read_as_that(said: str, language: str) -> None:
    assert typed_language(said) == language


@pytest.mark.parametrize("said", ["outlook", "VPN?", "hej", "teams virker not", "printer down"])
def test_a_message_too_short_or_too_mixed_to_tell_follows_the_platform(said: str) -> None:
    assert typed_language(said) is None
