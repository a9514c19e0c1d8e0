"""GET /oncall/report on the real server: the report page for a technician signed in to the inbox, a 403 page
that says what to do for anyone else, and a clear message (never a 500) for a query it cannot use."""

from __future__ import annotations

import re

from adapters.local.passes import INBOX
from adapters.server import SERVICES
from tests.test_local_security import Browser, links_of, server  # noqa: F401


async def sign_in(browser: Browser, tech: str = "vagt") -> None:
    response = await browser.client.get(f"/oncall?key={links_of(browser).issue(INBOX, tech)}", allow_redirects=False)
    assert response.status == 303


async def page(browser: Browser, query: str = "") -> tuple[int, str, dict[str, str]]:
    response = await browser.client.get(f"/oncall/report{query}", allow_redirects=False)
    return response.status, await response.text(), dict(response.headers)


async def test_a_signed_in_technician_sees_the_report_with_its_form(server: list[Browser]) -> None:  # noqa: F811
    technician, employee, _ = server
    number = await employee.report()  # Saturday night, on-call paged
    await employee.client.app[SERVICES].oncall.settled()
    await sign_in(technician)
    status, body, headers = await page(technician)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<h1>Rapport over supportsager</h1>" in body
    assert "2026-10-30 til og med 2026-11-28" in body, "without dates: the last 30 days"
    assert '<form method="get" action="/oncall/report">' in body and 'name="customer"' in body
    assert "<svg" in body and 'id="cases-per-week"' in body, "the charts are drawn"
    assert "<td>Intet internet på kontoret</td>" in body
    assert '<a class="back" href="/oncall">← Tilbage til indbakken</a>' in body, "a way back on a phone"
    assert "form-action 'self'" in headers["Content-Security-Policy"] and "script-src" not in body
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"

    status, body, _ = await page(technician, "?from=2026-11-01&to=2026-11-27&customer=Demo+A%2FS")
    assert status == 200 and "Der er ingen sager i perioden." in body, f"case {number} is from the 28th"
    assert 'value="2026-11-01"' in body and 'value="Demo A/S"' in body


async def test_without_the_inbox_cookie_the_page_says_to_open_the_inbox_link_first(
    server: list[Browser],  # noqa: F811
) -> None:
    stranger = server[1]
    status, body, headers = await page(stranger, "?tech=vagt")
    assert status == 403 and headers["Content-Type"].startswith("text/html")
    assert "Åbn først dit eget link til vagtindbakken" in body
    assert "First open your own link to the on-call inbox" in body
    assert "Rapport over supportsager" not in body
    forged = links_of(stranger).issue(INBOX, "vagt")[:-4] + "AAAA"
    await stranger.client.get(f"/oncall?key={forged}", allow_redirects=False)
    assert (await page(stranger))[0] == 403


async def test_a_query_it_cannot_use_gets_a_clear_message_on_the_page(server: list[Browser]) -> None:  # noqa: F811
    technician, employee, _ = server
    await employee.report()
    await sign_in(technician)
    expected = {
        "?from=2026-13-45": "&#x27;2026-13-45&#x27; er ikke en dato. Skriv den som ÅÅÅÅ-MM-DD",
        "?to=i+morgen": "&#x27;i morgen&#x27; er ikke en dato.",
        "?from=2026-11-30&to=2026-11-01": "Perioden slutter (2026-11-01), før den begynder (2026-11-30).",
        "?customer=Acme": "Ingen sager har kunden &#x27;Acme&#x27;. Kunder med sager: Demo A/S.",
        "?from=" + "9" * 5000: "er ikke en dato.",
    }
    for query, message in expected.items():
        status, body, _ = await page(technician, query)
        assert status == 400, query
        [notice] = re.findall(r'<p class="notice" role="alert">(.*?)</p>', body)
        assert message in notice, (query, notice)
        assert '<form method="get"' in body and "<h1>Rapport over supportsager</h1>" in body
