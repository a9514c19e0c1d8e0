"""A real browser against the real server: Saturday night, an outage, on-call acknowledges, the employee hears it.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright. Screenshots go to
$SUPPORTBOT_SCREENSHOTS, or to the test's tmp folder; their paths are printed (`pytest -s`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.test_server import serving

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Which button to press, in order of preference, until the case is created and on-call paged.
PATH_TO_PAGE = (":page", ":yes", ":cat:internet_down", ":scope:all")
WAIT_MS = 20_000


def test_saturday_night_outage_is_paged_acknowledged_and_the_employee_sees_it(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's Chromium is not installed at /usr/bin/chromium; run `make test` as root (it installs it "
            "with apt) or `apt-get install chromium` to enable the browser test"
        )
    from playwright.sync_api import Page, expect, sync_playwright

    shots = Path(os.environ.get("SUPPORTBOT_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    def shot(page: Page, name: str) -> None:
        path = shots / f"{name}.png"
        page.screenshot(path=str(path))
        print(f"screenshot: {path}")

    def watch(page: Page) -> Page:
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        return page

    expect.set_options(timeout=WAIT_MS)
    with serving(tmp_path, "--now", "2026-11-28T22:30") as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        chat = watch(phone.new_page())
        chat.goto(f"{served.url}/")
        expect(chat.locator("h1")).to_have_text("OneOffice support")
        expect(chat.locator("#text")).to_have_attribute("placeholder", "Skriv din besked her")

        chat.locator("#name").fill("Mette Hansen")
        chat.locator("#text").fill("ingen internet, alle er ramt")
        chat.locator("#text").press("Enter")
        expect(chat.locator(".msg.bot")).not_to_have_count(0)
        shot(chat, "1-chat-question")

        answered = 1
        while not chat.locator("#case").is_visible():
            assert answered < 6, "no case number after five answers"
            buttons = chat.locator(".msg.bot button[data-choice]:not([disabled])")
            expect(buttons.first).to_be_visible()
            offered = [b.get_attribute("data-choice") or "" for b in buttons.all()]
            pick = next(c for suffix in PATH_TO_PAGE for c in offered if c.endswith(suffix))
            if pick.endswith(":page"):
                shot(chat, "2-chat-cost")
            chat.locator(f'button[data-choice="{pick}"]').dblclick()  # a double click is one answer
            answered += 1
            expect(chat.locator(".msg.user:not(.pending)")).to_have_count(answered)
            expect(chat.locator("#pending")).to_have_count(0)
            if pick.endswith(":page"):
                # The technician may have to call back: the employee gives a number.
                expect(chat.locator(".msg.bot").last).to_contain_text("telefonnummer")
                chat.locator("#text").fill("22 33 44 55")
                chat.locator("#text").press("Enter")
                answered += 1
                expect(chat.locator(".msg.user:not(.pending)")).to_have_count(answered)
                expect(chat.locator("#case")).to_be_visible()

        badge = chat.locator("#case").inner_text()
        number = re.search(r"\d{5,}", badge)
        assert number, badge
        number_text = number.group()
        shot(chat, "3-chat-case-number")
        bot_messages = chat.locator(".msg.bot").count()

        desk = browser.new_context(viewport={"width": 1100, "height": 900})
        inbox = watch(desk.new_page())
        inbox.goto(f"{served.url}/oncall")
        expect(inbox.locator("#tech")).to_have_value("vagt")
        ack = inbox.locator(f'#pages button[data-choice="oncall:ack:{number_text}"]')
        expect(ack).to_be_visible()
        expect(inbox.locator("#pages .card").first).to_contain_text("22 33 44 55")  # the number to call back
        expect(inbox.locator("#pages .card").first).to_contain_text(number_text)
        expect(inbox.locator("#pages .card").first).to_contain_text("Mette Hansen")
        shot(inbox, "4-inbox-page")
        ack.click()
        expect(inbox.locator("#pages .reply").first).to_contain_text(number_text)
        expect(ack).to_have_count(0)
        expect(inbox.locator("#pages .card").first).to_contain_text("Morten")
        shot(inbox, "5-inbox-acknowledged")

        expect(chat.locator(".msg.bot")).to_have_count(bot_messages + 1)  # the news arrives by itself
        news = chat.locator(".msg.bot").last
        expect(news).to_be_in_viewport()
        expect(news).to_contain_text(number_text)
        expect(news).to_contain_text("Morten")
        shot(chat, "6-chat-acknowledged")

        markup = '<b>fed</b><img src=x onerror="window.pwned=1">'
        chat.locator("#text").fill(markup)
        chat.locator("#send").click()
        expect(chat.locator(".msg.user .text").last).to_have_text(markup)
        assert chat.locator(".msg b, .msg img").count() == 0
        assert chat.evaluate("window.pwned") is None

        chat.locator('button[data-lang="en"]').click()
        expect(chat.locator("#text")).to_have_attribute("placeholder", "Type your message here")
        expect(chat.locator("#case")).to_contain_text(f"Your case: no. {number_text}")
        shot(chat, "7-chat-english")
        browser.close()

    assert problems == []
