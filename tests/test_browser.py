"""A real browser against the real server: Saturday night, an outage, on-call acknowledges, the employee hears it;
a message sent while the server cannot be reached is kept, marked, and sent once when it can.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright. Screenshots go to
$SUPPORTBOT_SCREENSHOTS, or to the test's tmp folder; their paths are printed (`pytest -s`).
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.test_server import Served, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Route

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


@dataclass
class Session:
    """A running server, a headless Chromium and what the test collects: screenshots and page problems."""

    served: Served
    browser: Browser
    shots: Path
    problems: list[str] = field(default_factory=list)
    # Whether a failed request is part of the test (the console reports each one as an error).
    requests_may_fail: bool = False

    def shot(self, page: Page, name: str) -> None:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path))
        print(f"screenshot: {path}")

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if self.requests_may_fail and message.text.startswith("Failed to load resource"):
            return
        self.problems.append(f"console: {message.text}")

    def phone(self) -> Page:
        """A Danish employee's phone (the browser says Danish, as the provider's customers' browsers do)."""
        size = {"width": 390, "height": 844}
        context = self.browser.new_context(locale="da-DK", viewport=size, is_mobile=True, has_touch=True)
        return self.watch(context.new_page())

    def desk(self) -> Page:
        return self.watch(self.browser.new_context(locale="da-DK", viewport={"width": 1100, "height": 900}).new_page())


@contextmanager
def session(tmp_path: Path) -> Iterator[Session]:
    """The server on Saturday night and Chromium; at the end, no page may have reported a problem."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's Chromium is not installed at /usr/bin/chromium; run `make test` as root (it installs it "
            "with apt) or `apt-get install chromium` to enable the browser test"
        )
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("SUPPORTBOT_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=WAIT_MS)
    with serving(tmp_path, "--now", "2026-11-28T22:30") as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        kit = Session(served, browser, shots)
        try:
            yield kit
        finally:
            browser.close()
    assert kit.problems == []


def inbox_link(served: Served, tech: str) -> str:
    """The technician's secret inbox link, as the server printed it at start-up."""
    found = re.search(rf"^on-call inbox for {tech}: (\S+)$", served.log.read_text(encoding="utf-8"), re.MULTILINE)
    assert found, served.log.read_text(encoding="utf-8")
    return found.group(1)


def test_saturday_night_outage_is_paged_acknowledged_and_the_employee_sees_it(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with session(tmp_path) as kit:
        served, shot = kit.served, kit.shot
        chat = kit.phone()
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
            expect(chat.locator(".msg.pending")).to_have_count(0)
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
        # The page goes out after the answer; then the news that it did arrives by itself.
        expect(chat.locator(".msg.bot").last).to_contain_text(f"Vagten er nu tilkaldt om din sag {number_text}")
        bot_messages = chat.locator(".msg.bot").count()

        inbox = kit.desk()
        inbox.goto(f"{served.url}/oncall")  # without the technician's link: how to get one
        expect(inbox.locator("#status")).to_contain_text("python -m bot oncall link")
        expect(inbox.locator("#waiting .card")).to_have_count(0)
        inbox.goto(inbox_link(served, "vagt"))  # the link `make run` printed at start-up
        expect(inbox).to_have_url(f"{served.url}/oncall")
        expect(inbox.locator("#tech")).to_have_text("Morten")
        ack = inbox.locator(f'#waiting button[data-choice="oncall:ack:{number_text}"]')
        expect(ack).to_be_visible()
        waiting = inbox.locator("#waiting .card").first
        expect(waiting).to_contain_text(number_text)
        expect(waiting).to_contain_text("Mette Hansen")
        # The number to call back is a tap-to-call link, digits only.
        expect(waiting.locator("a.tel")).to_have_text("22 33 44 55")
        expect(waiting.locator("a.tel")).to_have_attribute("href", "tel:22334455")
        expect(inbox.locator("#active-heading")).to_be_hidden()
        shot(inbox, "4-inbox-page")
        ack.click()
        expect(inbox.locator("#active .reply").first).to_contain_text(number_text)
        expect(ack).to_have_count(0)
        expect(inbox.locator("#waiting .card")).to_have_count(0)
        expect(inbox.locator("#waiting-empty")).to_be_visible()
        expect(inbox.locator("#active .card").first).to_contain_text("Morten")
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

        # A pasted log folds to a few lines in the person's own bubble.
        log = "\n".join(f"2026-11-28 22:3{i % 10} ERROR upstream timed out (110) {i}" for i in range(60))
        chat.locator("#text").fill(log)
        chat.locator("#send").click()
        long_bubble = chat.locator(".msg.user:not(.pending)").last
        expect(long_bubble.locator(".more")).to_have_text("Vis alt")
        folded = long_bubble.bounding_box()
        assert folded and folded["height"] < 300, folded
        shot(chat, "7-chat-long-folded")
        long_bubble.locator(".more").click()
        expect(long_bubble.locator(".more")).to_have_text("Vis mindre")
        unfolded = long_bubble.bounding_box()
        assert unfolded and unfolded["height"] > 3 * folded["height"], unfolded

        chat.locator('button[data-lang="en"]').click()
        expect(chat.locator("#text")).to_have_attribute("placeholder", "Type your message here")
        expect(chat.locator("#case")).to_contain_text(f"Your case: no. {number_text}")
        expect(long_bubble.locator(".more")).to_have_text("Show less")
        expect(chat.locator(".msg.user .at").first).to_contain_text("You ·")
        shot(chat, "8-chat-english")

        resolve = inbox.locator(f'#active button[data-choice="oncall:resolve:{number_text}"]')
        resolve.click()
        expect(inbox.locator("#done .card.closed")).to_contain_text(number_text)
        expect(inbox.locator("#active .card")).to_have_count(0)
        expect(inbox.locator("#active-heading")).to_be_hidden()
        shot(inbox, "9-inbox-resolved")


def test_a_message_the_server_did_not_answer_is_kept_marked_and_sent_once_when_it_can_be(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with session(tmp_path) as kit:
        kit.requests_may_fail = True
        chat = kit.phone()
        chat.goto(f"{kit.served.url}/")
        chat.locator("#text").fill("printeren virker ikke")
        chat.locator("#text").press("Enter")
        expect(chat.locator(".msg.bot")).not_to_have_count(0)
        polls: list[str] = []

        def answer_lost(route: Route) -> None:
            """The connection drops: a message reaches the server, but its answer never comes back."""
            if route.request.method == "POST":
                route.fetch()
            else:
                polls.append(route.request.url)
            route.abort()

        def polls_fail(count: int) -> None:
            """Let the poller fail `count` more times (each poll starts after the last one was handled)."""
            seen = len(polls)
            for _ in range(200):
                if len(polls) >= seen + count:
                    return
                chat.evaluate("window.dispatchEvent(new Event('online'))")
                chat.wait_for_timeout(100)
            raise AssertionError(f"the chat polled {len(polls) - seen} times, not {count}")

        chat.route("**/local/api/**", answer_lost)
        polls_fail(2)
        status = chat.locator("#status")
        expect(status).to_contain_text("Ingen forbindelse til serveren")
        expect(status.locator("a.tel")).to_have_text("+45 7021 1813")
        chat.locator("#text").fill("hallo?")
        chat.locator("#text").press("Enter")
        unsent = chat.locator(".msg.unsent")
        expect(unsent).to_contain_text("hallo?")
        expect(unsent).to_contain_text("Ikke sendt endnu")
        expect(chat.locator("#text")).to_have_value("")  # not left in the box to be sent twice
        expect(status).to_contain_text("Din besked er ikke sendt endnu")
        expect(status.locator("a.tel")).to_have_attribute("href", "tel:+4570211813")
        expect(chat.locator(".msg.bot button[data-choice]:not([disabled])")).to_have_count(0)

        # The poller finds no server either; the message and the phone number stay.
        polls_fail(2)
        expect(unsent).to_be_visible()
        expect(status).to_contain_text("ring på +45 7021 1813 og tryk 2")
        kit.shot(chat, "10-chat-unsent")
        chat.locator('button[data-lang="en"]').click()
        expect(status).to_contain_text("Your message hasn't been sent yet")
        expect(unsent).to_contain_text("Not sent yet")
        chat.locator('button[data-lang="da"]').click()

        # The connection is back: it goes by itself, with the same delivery id, so the server keeps it once.
        chat.unroute("**/local/api/**")
        expect(chat.locator(".msg.pending")).to_have_count(0)
        expect(status).to_be_hidden()
        expect(chat.locator(".msg.user .text", has_text="hallo?")).to_have_count(1)
        [cookie] = [c for c in chat.context.cookies() if c["name"] == "supportbot_chat"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        request = urllib.request.Request(
            f"{kit.served.url}/local/api/messages?after=0", headers={"Cookie": f"supportbot_chat={cookie['value']}"}
        )
        with urllib.request.urlopen(request, timeout=5) as feed:
            said = [e["text"] for e in json.load(feed)["entries"] if e["role"] == "user"]
        assert said == ["printeren virker ikke", "hallo?"]

        # The server got it and failed: marked "Ikke sendt", and it waits for the person's "Send igen".
        chat.route(
            "**/local/api/turn",
            lambda route: route.fulfill(status=500, json={"error": "Internal error; the server log says more."}),
        )
        chat.locator("#text").fill("er der nogen?")
        chat.locator("#send").click()
        expect(unsent).to_contain_text("Ikke sendt")
        expect(status).to_contain_text('Tryk "Send igen"')
        kit.shot(chat, "11-chat-send-failed")
        chat.unroute("**/local/api/turn")
        unsent.locator(".resend").click()
        expect(chat.locator(".msg.pending")).to_have_count(0)
        expect(chat.locator(".msg.user .text", has_text="er der nogen?")).to_have_count(1)
        expect(status).to_be_hidden()

        # "Start forfra": the browser becomes a new employee, with an empty chat of its own.
        chat.once("dialog", lambda dialog: dialog.accept())
        chat.locator("#restart").click()
        expect(chat.locator(".msg.user")).to_have_count(0)
        [new_cookie] = [c for c in chat.context.cookies() if c["name"] == "supportbot_chat"]
        assert new_cookie["value"] != cookie["value"]
        chat.locator("#text").fill("hej")
        chat.locator("#text").press("Enter")
        expect(chat.locator(".msg.user")).to_have_count(1)


def test_an_english_browser_gets_english_and_the_first_message_decides_too(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with session(tmp_path) as kit:
        english = kit.watch(kit.browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}).new_page())
        english.goto(f"{kit.served.url}/")
        expect(english.locator("#text")).to_have_attribute("placeholder", "Type your message here")
        english.locator("#text").fill("the printer is not working")
        english.locator("#text").press("Enter")
        expect(english.locator(".msg.bot").last).to_contain_text("Is it just you, or are others affected too?")
        expect(english.locator(".msg.bot button[data-choice]").first).to_have_text("Just me")
        kit.shot(english, "12-chat-english-browser")

        # A Danish browser whose person writes clearly in English is answered in English as well.
        danish = kit.phone()
        danish.goto(f"{kit.served.url}/")
        expect(danish.locator("#text")).to_have_attribute("placeholder", "Skriv din besked her")
        danish.locator("#text").fill("my account is locked")
        danish.locator("#text").press("Enter")
        expect(danish.locator(".msg.bot").last).to_contain_text("I understand that your account is locked.")
        expect(danish.locator("#text")).to_have_attribute("placeholder", "Type your message here")  # the page follows
        expect(danish.locator('button[data-lang="en"]')).to_have_attribute("aria-pressed", "true")
        kit.shot(danish, "13-chat-english-text-in-a-danish-browser")
