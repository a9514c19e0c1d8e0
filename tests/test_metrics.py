"""`GET /metrics` on a real server: what real flows count, route labels, and who may read it."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.metrics import TOKEN_VARIABLE
from adapters.server import SERVICES, create_app
from bot.clock import ManualClock
from bot.config import load_settings
from tests.scrape import Scraped, scrape
from tests.test_local_api import MONDAY_MORNING, SATURDAY_NIGHT, post, report, say, start

TOKEN = "s3cret-scrape-token-0123456789"


def url_of(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def scrape_client(client: TestClient, *, token: str = "") -> Scraped:
    return await scrape(client.session, url_of(client), token=token)


async def start_on(data: Path, *, host: str, environ: dict[str, str]) -> TestClient:
    """The app with `HOST=host` in its settings, listening on 127.0.0.1 for the test."""
    settings = load_settings({"SUPPORTBOT_DATA": str(data), "HOST": host})
    client = TestClient(TestServer(create_app(settings, environ=environ, clock=ManualClock(SATURDAY_NIGHT))))
    await client.start_server()
    return client


async def test_a_night_page_escalated_and_acknowledged_is_counted(tmp_path: Path) -> None:
    client = await start(tmp_path, SATURDAY_NIGHT)
    try:
        services = client.app[SERVICES]
        number = (await report(client))["case"]
        await services.oncall.settled()
        clock = services.clock
        assert isinstance(clock, ManualClock)
        clock.advance(timedelta(minutes=11))  # past the 10 minutes: the backup is paged too
        await services.oncall.tick()
        await services.oncall.settled()
        body = {"tech": "vagt2", "choice": f"oncall:ack:{number}", "delivery_id": "ack-1"}
        await post(client, "/local/api/press", body)

        m = await scrape_client(client)
    finally:
        await client.close()

    created = {"category": "internet_down", "critical": "true", "after_hours": "true"}
    assert m.value("supportbot_cases_created_total", **created) == 1
    assert m.total("supportbot_cases_created_total") == 1
    assert m.value("supportbot_pages_sent_total", platform="local", step="primary") == 1
    # The backup step pages the primary again and the backup.
    assert m.value("supportbot_pages_sent_total", platform="local", step="backup") == 2
    assert m.value("supportbot_escalations_total", step="backup", reason="timeout") == 1
    assert m.total("supportbot_escalations_total") == 1
    assert m.value("supportbot_acknowledged_total", kind="page") == 1
    # Acknowledged 11 minutes after the case was created: in the 15-minute bucket, not the 10-minute one.
    histogram = "supportbot_time_to_acknowledge_seconds"
    assert m.value(f"{histogram}_count", kind="page") == 1
    assert m.value(f"{histogram}_sum", kind="page") == pytest.approx(11 * 60)
    assert m.value(f"{histogram}_bucket", kind="page", le="600.0") == 0
    assert m.value(f"{histogram}_bucket", kind="page", le="900.0") == 1
    assert m.total("supportbot_deliveries_failed_total") == 0
    # "ingen internet, alle er ramt" was read once, as internet_down.
    assert m.value("supportbot_triage_confidence_count", category="internet_down") == 1
    assert 0 < m.value("supportbot_triage_confidence_sum", category="internet_down") <= 100


async def test_an_opening_hours_case_acknowledged_from_the_team_post_is_counted_as_team(tmp_path: Path) -> None:
    client = await start(tmp_path, MONDAY_MORNING)
    try:
        case = await report(client, "printeren virker ikke", answers=(":yes", ":cat:printing_down", ":scope:me"))
        await client.app[SERVICES].oncall.settled()
        await post(client, "/local/api/press", {"tech": "vagt", "choice": f"oncall:ack:{case['case']}"})
        m = await scrape_client(client)
    finally:
        await client.close()
    created = {"category": "printing_down", "critical": "false", "after_hours": "false"}
    assert m.value("supportbot_cases_created_total", **created) == 1
    assert m.total("supportbot_pages_sent_total") == 0
    assert m.value("supportbot_acknowledged_total", kind="team") == 1
    assert m.value("supportbot_time_to_acknowledge_seconds_count", kind="team") == 1


async def test_request_latency_is_labelled_by_route_never_by_raw_path(tmp_path: Path) -> None:
    client = await start(tmp_path, SATURDAY_NIGHT)
    try:
        for text in ("hej", "printeren virker ikke", "den er helt død"):
            await say(client, text)
        for n in range(5):
            response = await client.get(f"/no/such/page-{n}")
            assert response.status == 404
        response = await client.request("PROPFIND", "/healthz")
        assert response.status == 405
        m = await scrape_client(client)
    finally:
        await client.close()

    name = "supportbot_http_request_duration_seconds_count"
    routes = m.label_values(name, "route")
    assert "/local/api/turn" in routes
    assert not any("page-" in route for route in routes), routes
    assert m.value(name, route="unmatched", method="GET") == 5
    assert m.value(name, route="unmatched", method="other") == 1  # a WebDAV method: not worth a series of its own
    assert m.value(name, route="/local/api/turn", method="POST") == 3
    assert m.value("supportbot_http_request_duration_seconds_sum", route="/local/api/turn", method="POST") > 0


async def test_two_apps_in_one_process_count_apart(tmp_path: Path) -> None:
    busy = await start(tmp_path / "busy", SATURDAY_NIGHT)
    idle = await start(tmp_path / "idle", SATURDAY_NIGHT)
    try:
        await report(busy)
        assert (await scrape_client(busy)).total("supportbot_cases_created_total") == 1
        assert (await scrape_client(idle)).total("supportbot_cases_created_total") == 0
    finally:
        await busy.close()
        await idle.close()


async def test_beyond_loopback_without_a_token_metrics_are_off_and_the_log_says_what_to_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.metrics")
    client = await start_on(tmp_path, host="0.0.0.0", environ={})
    try:
        response = await client.get("/metrics")
        assert response.status == 404
    finally:
        await client.close()
    assert f"set {TOKEN_VARIABLE}" in caplog.text
    assert "HOST=0.0.0.0 is not a loopback address" in caplog.text


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
async def test_with_a_token_only_the_right_bearer_reads_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await start_on(tmp_path, host=host, environ={TOKEN_VARIABLE: TOKEN})
    try:
        refused = {
            "no header": {},
            "wrong token": {"Authorization": "Bearer not-the-token"},
            "a prefix of it": {"Authorization": f"Bearer {TOKEN[:-1]}"},
            "another scheme": {"Authorization": f"Basic {TOKEN}"},
            "the token alone": {"Authorization": TOKEN},
            "empty bearer": {"Authorization": "Bearer "},
        }
        for why, headers in refused.items():
            response = await client.get("/metrics", headers=headers)
            assert response.status == 401, why
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN_VARIABLE in await response.text()
        m = await scrape_client(client, token=TOKEN)
        assert m.total("supportbot_cases_created_total") == 0
        response = await client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
        assert response.status == 200, "the scheme is case-insensitive"
    finally:
        await client.close()
    assert "bearer token" in caplog.text
    assert TOKEN not in caplog.text, "the token is a secret: never logged"


async def test_prometheus_may_ask_for_openmetrics(tmp_path: Path) -> None:
    client = await start(tmp_path, SATURDAY_NIGHT)
    try:
        response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await response.text()).rstrip().endswith("# EOF")
    finally:
        await client.close()
