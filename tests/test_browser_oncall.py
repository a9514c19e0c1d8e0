"""The on-call inbox's standing "Vagten" controls in a real browser against the real server.

Morten (Danish) asks who is on call, sends himself a test page and presses its button, and asks for a
swap by typing; Sara (English) gets the offer in her inbox and takes it, and Morten hears so. Two
phones, keyboard only where a technician at night would use it. Screenshots as in tests/test_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_browser import inbox_link, session

pytestmark = pytest.mark.browser

# Saturday night; Morten is primary, Sara backup. Sara reads English.
CONFIG = """
[oncall]
rotation_start = "2026-11-23"
rotation = [{ primary = "vagt", backup = "vagt2" }]

[[oncall.technicians]]
id = "vagt"
name = "Morten"
language = "da"
local = true

[[oncall.technicians]]
id = "vagt2"
name = "Sara"
language = "en"
local = true
"""


def test_a_technician_asks_who_is_on_call_tests_a_page_and_swaps_a_shift_from_the_inbox(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    (tmp_path / "supportbot.toml").write_text(CONFIG, encoding="utf-8")
    with session(tmp_path) as kit:
        served, shot = kit.served, kit.shot
        morten = kit.phone()
        morten.goto(inbox_link(served, "vagt"))
        expect(morten.locator("#tech")).to_have_text("Morten")
        expect(morten.locator("a.nav")).to_have_text("Rapport")
        expect(morten.locator("a.nav")).to_have_attribute("href", "/oncall/report")
        shot(morten, "20-inbox-standing-controls")

        # "Hvem har vagten?" from the keyboard: the answer shows under the controls, with its own buttons.
        morten.locator("#ask-who").focus()
        morten.keyboard.press("Enter")
        answer = morten.locator("#answers .card").first
        expect(answer.locator(".said")).to_contain_text("Hvem har vagten?")
        expect(answer.locator(".reply .facts")).to_contain_text("Morten")
        expect(answer.locator(".reply .facts")).to_contain_text("Sara")
        expect(answer.locator('.reply button[data-choice="rota:test"]')).to_have_text("Send en testside")
        shot(morten, "21-inbox-who-is-on-call")

        # A test page: the bot says where it went, the page comes in marked as a test, and its button answers.
        morten.locator("#ask-test").click()
        expect(morten.locator("#answers .card").first.locator(".reply")).to_contain_text("Testsiden er sendt")
        test_page = morten.locator("#rota .card").first
        expect(test_page.locator(".title")).to_have_text("TESTSIDE – ikke en rigtig sag")
        test_page.locator('button[data-choice="rota:testack"]').click()
        expect(test_page.locator(".reply")).to_contain_text("Testen virker")
        expect(morten.locator("#waiting .card")).to_have_count(0)  # a test page is not a case waiting
        shot(morten, "22-inbox-test-page")

        # A swap, typed and sent with Enter; the box empties when the bot has it.
        box = morten.locator("#ask-text")
        expect(box).to_have_attribute("placeholder", "Fx: kan nogen tage min vagt lørdag kl. 8.00 til søndag kl. 8.00?")
        box.fill("kan nogen tage min vagt søndag kl. 8.00 til mandag kl. 8.00?")
        box.press("Enter")
        expect(morten.locator("#answers .card").first.locator(".reply")).to_contain_text("Jeg har spurgt Sara")
        expect(box).to_have_value("")
        shot(morten, "23-inbox-swap-asked")

        # Sara's inbox, in English: the offer with its button; she takes it.
        sara = kit.phone()
        sara.goto(inbox_link(served, "vagt2"))
        sara.locator('button[data-lang="en"]').click()
        expect(sara.locator("#rota-heading")).to_have_text("On call")
        expect(sara.locator("#ask-who")).to_have_text("Who is on call?")
        expect(sara.locator("a.nav")).to_have_text("Report")
        offer = sara.locator("#rota .card").first
        take = offer.locator('button[data-choice^="rota:take:"]')
        expect(take).to_have_text("I'll take it")
        expect(offer).to_contain_text("Morten")
        shot(sara, "24-inbox-swap-offer-english")
        take.click()
        expect(offer.locator(".reply")).to_contain_text("Thanks! You are on call from")
        shot(sara, "25-inbox-swap-taken-english")

        # Morten is told in his inbox, and "Hvem har vagten?" now names Sara for the period.
        told = morten.locator("#rota .card").first
        expect(told).to_contain_text("Sara har taget din vagt")
        told.scroll_into_view_if_needed()
        sara.locator("#ask-who").click()
        expect(sara.locator("#answers .card").first.locator(".said")).to_contain_text("Who is on call?")
        expect(sara.locator("#answers .card").first.locator(".reply .facts")).to_contain_text("Primary")
        shot(morten, "26-inbox-swap-done")
        shot(sara, "27-inbox-who-english")
