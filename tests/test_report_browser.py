"""The report page with a few hundred generated cases, opened from a file in headless Chromium with every
network request refused: both charts draw (SVG with bars and lines), and a screenshot is kept."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.reports import page
from adapters.reports.tables import Words
from bot.config import load_settings
from bot.report import Period, build_report
from tests.report_cases import ZONE, generated
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


def test_the_page_opens_offline_and_draws_both_charts(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (make test installs it as root)")
    from playwright.sync_api import Route, sync_playwright

    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data")})
    report = build_report(generated(300), period=Period(), fee=Decimal("1000.00"), zone=ZONE)
    target = tmp_path / "rapport.html"
    target.write_text(page.render(report, Words(settings, "da"), made="2026-11-16 08:00"), encoding="utf-8")
    fetched: list[str] = []

    def refuse(route: Route) -> None:
        fetched.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.route("http*://**", refuse)
            tab.goto(target.as_uri())
            bars = tab.locator("#cases-per-week svg path[clip-path]")
            assert bars.count() >= 10 * 7, "ten weeks of stacked bars"
            lines = tab.locator("#acknowledge-per-week svg g[id^='line2d'] path")
            assert lines.count() >= 2
            box = tab.locator("#cases-per-week svg").bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 200, "drawn at a readable size"
            assert tab.locator("h1").inner_text() == "Rapport over supportsager"
            assert tab.locator("table").count() >= 4
            shots = Path(os.environ.get("SUPPORTBOT_SCREENSHOTS") or tmp_path)
            shots.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(shots / "report.png"), full_page=True)
            print(f"screenshot: {shots / 'report.png'}")
        finally:
            browser.close()
    assert fetched == []
