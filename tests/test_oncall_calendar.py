"""The calendar feed over real HTTP: parsed back with icalendar and compared with the rota; its secret links."""

from __future__ import annotations

import logging
import stat
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from icalendar import Calendar, Event, Timezone

from adapters.calendar_feed import PATH_PREFIX, PURPOSE, calendar_link
from adapters.commands.serve import AccessLog
from adapters.server import create_app
from adapters.signed_links import SignedLinks
from adapters.storage import open_storage
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.oncall.overrides import offer, take
from bot.oncall.rota import Rota
from tests.commands import bot_command
from tests.rota_config import technician

CPH = ZoneInfo("Europe/Copenhagen")
HOUR = timedelta(hours=1)
WEEKS = timedelta(weeks=12)

CONFIG = f"""
[oncall]
rotation_start = "2026-01-05"
rotation = [
  {{ primary = "morten", backup = "sara" }},
  {{ primary = "sara", backup = "ib" }},
  {{ primary = "ib", backup = "morten" }},
]
overrides = [{{ start = "2026-03-27T16:00", end = "2026-03-31T08:00", primary = "sara" }}]

{technician("morten", "Morten", local=True)}
{technician("sara", "Sara", language="en", local=True)}
{technician("ib", "Ib", local=True)}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CPH)


def env_for(tmp_path: Path, config: str = CONFIG) -> dict[str, str]:
    path = tmp_path / "supportbot.toml"
    path.write_text(config, encoding="utf-8")
    return {"SUPPORTBOT_CONFIG": str(path), "SUPPORTBOT_DATA": str(tmp_path / "data")}


@dataclass
class Feeds:
    client: TestClient
    settings: Settings
    clock: ManualClock
    env: dict[str, str]

    def path(self, tech: str | None) -> str:
        link = calendar_link(self.settings, self.env, tech)
        return link[link.index(PATH_PREFIX) :]

    async def fetch(self, tech: str | None) -> Calendar:
        response = await self.client.get(self.path(tech))
        assert response.status == 200, await response.text()
        assert response.content_type == "text/calendar"
        return Calendar.from_ical(await response.read())


async def serve(env: dict[str, str], clock: ManualClock, **runner: object) -> TestClient:
    """The app on 127.0.0.1; `runner` goes to its AppRunner (the access logger)."""
    server = TestServer(create_app(load_settings(env), environ=env, clock=clock))
    await server.start_server(**runner)
    client = TestClient(server)
    await client.start_server()
    return client


@pytest.fixture
async def feeds(tmp_path: Path) -> AsyncIterator[Feeds]:
    env = env_for(tmp_path)
    clock = ManualClock(at("2026-03-18T12:00"))
    client = await serve(env, clock)
    yield Feeds(client, load_settings(env), clock, env)
    await client.close()


def events(calendar: Calendar) -> list[Event]:
    return list(calendar.walk("VEVENT"))


def covering(calendar: Calendar, moment: datetime) -> list[str]:
    return sorted(str(e["SUMMARY"]) for e in events(calendar) if e.start <= moment < e.end)


def rota_of(feeds: Feeds) -> Rota:
    return Rota(feeds.settings.oncall, feeds.settings.hours.timezone)


async def test_the_whole_rota_feed_says_what_the_rota_says_every_hour_of_12_weeks(feeds: Feeds) -> None:
    calendar = await feeds.fetch(None)
    rota, now = rota_of(feeds), feeds.clock.now()

    moment = now
    while moment < now + WEEKS:
        on_call = rota.on_call(moment)
        assert on_call.primary and on_call.backup
        expected = [f"Vagt: backup – {on_call.backup.name}", f"Vagt: primær – {on_call.primary.name}"]
        assert covering(calendar, moment) == expected, moment
        moment += HOUR
    assert str(calendar["X-WR-CALNAME"]) == "Vagtplan"
    # The config's override (Sara covers from Friday 27 March 16.00) is its own event, and says so.
    cover = next(e for e in events(calendar) if e.start == at("2026-03-27T16:00"))
    assert (str(cover["SUMMARY"]), cover.end) == ("Vagt: primær – Sara", at("2026-03-31T08:00"))
    assert "Afløsning" in str(cover["DESCRIPTION"])


async def test_overrides_made_in_chat_show_in_the_feed_and_win_over_the_configs(feeds: Feeds) -> None:
    """Taken in chat (here through the port, as the CLI writes beside the server): Ib takes back a Saturday
    inside the config's override for Sara, Morten covers a Saturday of Sara's; an offer nobody took
    changes nothing."""
    now = feeds.clock.now()
    storage = open_storage(feeds.settings, read_only=True)
    try:
        await storage.overrides.add(take(at("2026-03-28T08:00"), at("2026-03-29T08:00"), technician="ib", now=now))
        await storage.overrides.add(take(at("2026-03-21T08:00"), at("2026-03-22T08:00"), technician="morten", now=now))
        await storage.overrides.add(offer(at("2026-03-20T08:00"), at("2026-03-21T08:00"), requester="sara", now=now))
    finally:
        await storage.close()
    calendar = await feeds.fetch(None)

    assert covering(calendar, at("2026-03-28T12:00")) == ["Vagt: backup – Morten", "Vagt: primær – Ib"]
    assert covering(calendar, at("2026-03-27T18:00")) == ["Vagt: backup – Morten", "Vagt: primær – Sara"]
    assert covering(calendar, at("2026-03-29T12:00")) == ["Vagt: backup – Morten", "Vagt: primær – Sara"]
    assert covering(calendar, at("2026-03-20T12:00")) == ["Vagt: backup – Ib", "Vagt: primær – Sara"]
    assert covering(calendar, at("2026-03-21T12:00")) == ["Vagt: backup – Ib", "Vagt: primær – Morten"]
    cover = next(e for e in events(calendar) if e.start == at("2026-03-21T08:00"))
    assert (str(cover["SUMMARY"]), cover.end) == ("Vagt: primær – Morten", at("2026-03-22T08:00"))
    assert "Afløsning" in str(cover["DESCRIPTION"])


async def test_a_technicians_feed_holds_only_their_shifts_in_their_language(feeds: Feeds) -> None:
    sara, morten = await feeds.fetch("sara"), await feeds.fetch("morten")
    rota, now = rota_of(feeds), feeds.clock.now()

    moment = now
    while moment < now + WEEKS:
        on_call = rota.on_call(moment)
        roles = {"primary": on_call.primary and on_call.primary.id, "backup": on_call.backup and on_call.backup.id}
        expected_sara = sorted(
            {"primary": "On call: primary", "backup": "On call: backup"}[r] for r, t in roles.items() if t == "sara"
        )
        expected_morten = sorted(
            {"primary": "Vagt: primær", "backup": "Vagt: backup"}[r] for r, t in roles.items() if t == "morten"
        )
        assert covering(sara, moment) == expected_sara, moment
        assert covering(morten, moment) == expected_morten, moment
        moment += HOUR
    assert str(sara["X-WR-CALNAME"]) == "On-call rota for Sara"
    assert {str(e["SUMMARY"]) for e in events(sara)} == {"On call: primary", "On call: backup"}
    assert all(str(e["TRANSP"]) == "TRANSPARENT" for e in events(sara))


def offset_by_vtimezone(calendar: Calendar, event: Event, name: str) -> timedelta | None:
    """The UTC offset of the event's local DTSTART/DTEND, read from the feed's own VTIMEZONE (not the tz database)."""
    prop = event[name]
    assert prop.params["TZID"] == "Europe/Copenhagen"
    zones = {str(z["TZID"]): z for z in calendar.walk("VTIMEZONE")}
    assert isinstance(zones["Europe/Copenhagen"], Timezone)
    own = zones["Europe/Copenhagen"].to_tz()
    return prop.dt.replace(tzinfo=None).replace(tzinfo=own).utcoffset()


async def test_events_are_in_local_time_with_a_vtimezone_across_both_daylight_saving_changes(feeds: Feeds) -> None:
    spring = await feeds.fetch(None)
    feeds.clock.set(at("2026-10-07T12:00"))
    autumn = await feeds.fetch(None)

    # Autumn: the primary week from Monday 19 October 8.00 summer time to Monday 26 October 8.00 winter time.
    week = next(e for e in events(autumn) if e.start == at("2026-10-19T08:00") and "primær" in str(e["SUMMARY"]))
    assert week.end == at("2026-10-26T08:00")
    assert offset_by_vtimezone(autumn, week, "DTSTART") == timedelta(hours=2)
    assert offset_by_vtimezone(autumn, week, "DTEND") == timedelta(hours=1)
    assert week.end.astimezone(UTC) - week.start.astimezone(UTC) == timedelta(hours=169)
    # Spring: Morten's backup week starts in winter time and ends in summer time.
    backup = next(e for e in events(spring) if e.start == at("2026-03-23T08:00") and "backup" in str(e["SUMMARY"]))
    assert offset_by_vtimezone(spring, backup, "DTSTART") == timedelta(hours=1)
    assert offset_by_vtimezone(spring, backup, "DTEND") == timedelta(hours=2)
    assert backup.end == at("2026-03-31T08:00")  # Morten backs Sara's cover up until it ends
    after = next(e for e in events(spring) if e.start == at("2026-04-06T08:00") and "primær" in str(e["SUMMARY"]))
    assert after.to_ical().decode().count("TZID=Europe/Copenhagen:20260406T080000") == 1


async def test_uids_name_the_same_shifts_from_one_fetch_to_the_next(feeds: Feeds) -> None:
    first = await feeds.fetch(None)
    feeds.clock.advance(timedelta(days=3, hours=5))
    later = await feeds.fetch(None)

    def by_uid(calendar: Calendar) -> dict[str, tuple[datetime, datetime, str]]:
        found = {str(e["UID"]): (e.start, e.end, str(e["SUMMARY"])) for e in events(calendar)}
        assert len(found) == len(events(calendar)), "a UID is used twice"
        return found

    before, after = by_uid(first), by_uid(later)
    shared = before.keys() & after.keys()
    assert len(shared) >= 2 * 11
    assert {uid: before[uid] for uid in shared} == {uid: after[uid] for uid in shared}
    # The shift ids are the same in a technician's feed, so an event moves rather than duplicates.
    sara = await feeds.fetch("sara")
    assert {str(e["UID"]) for e in events(sara)} <= after.keys()


async def test_the_feed_tells_calendar_apps_how_often_to_refresh(feeds: Feeds) -> None:
    response = await feeds.client.get(feeds.path(None))
    body = (await response.read()).decode()

    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in body
    assert "X-PUBLISHED-TTL:PT1H" in body
    assert response.headers["Cache-Control"] == "private, max-age=300"


async def test_forged_malformed_revoked_and_unknown_tokens_all_get_the_same_404(feeds: Feeds, tmp_path: Path) -> None:
    good = feeds.path("sara").removeprefix(PATH_PREFIX).removesuffix(".ics")
    subject, generation, signature = good.split(".")
    morten = feeds.path("morten").removeprefix(PATH_PREFIX).removesuffix(".ics").split(".")[0]
    links = SignedLinks.for_data(feeds.settings.data_dir, {})
    elsewhere = SignedLinks.for_data(tmp_path / "other-data", {})
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    tokens = [
        f"{subject}.{generation}.{flipped}",  # forged signature
        f"{morten}.{generation}.{signature}",  # someone else's subject
        f"{subject}.{int(generation) + 1}.{signature}",  # another generation
        "nonsense",
        f"{subject}.{generation}",
        links.issue(PURPOSE, "tech:olga"),  # signed, but no such technician
        links.issue(PURPOSE, "sara"),  # signed, but not a feed subject
        links.issue("another-purpose", "tech:sara"),
        elsewhere.issue(PURPOSE, "tech:sara"),  # signed with another key
    ]
    unknown = await feeds.client.get("/no/such/page")
    expected = (unknown.status, await unknown.text())
    assert expected[0] == 404

    for token in tokens:
        response = await feeds.client.get(f"{PATH_PREFIX}{token}.ics")
        assert (response.status, await response.text()) == expected, token

    fresh = calendar_link(feeds.settings, feeds.env, "sara", revoke=True)
    old = await feeds.client.get(f"{PATH_PREFIX}{good}.ics")
    assert (old.status, await old.text()) == expected
    assert (await feeds.client.get(fresh[fresh.index(PATH_PREFIX) :])).status == 200
    assert (await feeds.client.get(feeds.path("morten"))).status == 200  # only Sara's links ended
    assert (await feeds.client.get(feeds.path(None))).status == 200


async def test_the_signing_key_is_made_once_readable_only_by_its_owner(feeds: Feeds) -> None:
    key = feeds.settings.data_dir / "links" / "secret.key"
    before = feeds.path("sara")

    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert feeds.path("sara") == before
    assert key.read_bytes() not in before.encode()


async def test_a_key_from_the_environment_signs_instead_and_a_short_one_turns_only_the_feed_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = env_for(tmp_path) | {"SUPPORTBOT_LINK_SECRET": "k" * 40}
    settings = load_settings(env)
    client = await serve(env, ManualClock(at("2026-03-18T12:00")))
    try:
        link = calendar_link(settings, env, "ib")
        assert (await client.get(link[link.index(PATH_PREFIX) :])).status == 200
        assert not (settings.data_dir / "links" / "secret.key").exists()
        file_signed = calendar_link(settings, {}, "ib")
        assert (await client.get(file_signed[file_signed.index(PATH_PREFIX) :])).status == 404
    finally:
        await client.close()

    caplog.set_level(logging.INFO, logger="adapters.server")
    short = env | {"SUPPORTBOT_LINK_SECRET": "too short"}
    client = await serve(short, ManualClock(at("2026-03-18T12:00")))
    try:
        assert (await client.get(link[link.index(PATH_PREFIX) :])).status == 404
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()
    assert "on-call calendar feed: disabled, SUPPORTBOT_LINK_SECRET must be at least 32 characters long" in caplog.text
    assert "too short" not in caplog.text


async def test_the_access_log_never_shows_a_feeds_token(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    env, clock = env_for(tmp_path), ManualClock(at("2026-03-18T12:00"))
    client = await serve(env, clock, access_log_class=AccessLog)  # one bot on the data folder, as always
    try:
        path = Feeds(client, load_settings(env), clock, env).path("sara")
        assert (await client.get(path)).status == 200
    finally:
        await client.close()

    token = path.removeprefix(PATH_PREFIX)
    assert f'"GET {PATH_PREFIX}…" 200' in caplog.text
    assert token not in caplog.text


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return bot_command("oncall", *args, env=env)


async def test_calendar_link_prints_the_address_and_revoke_ends_it_while_the_server_runs(feeds: Feeds) -> None:
    public = feeds.env | {"SUPPORTBOT_PUBLIC_URL": "https://support.example.dk/"}
    printed = cli(public, "calendar-link", "sara")
    whole = cli(public, "calendar-link")
    assert printed.returncode == 0 and whole.returncode == 0, printed.stderr + whole.stderr
    link, rota_link = printed.stdout.strip(), whole.stdout.strip()
    assert link.startswith("https://support.example.dk/oncall/calendar/") and link.endswith(".ics")
    assert link != rota_link
    path = link.removeprefix("https://support.example.dk")
    assert (await feeds.client.get(path)).status == 200

    revoked = cli(public, "calendar-link", "sara", "--revoke")
    assert revoked.returncode == 0, revoked.stderr
    assert (await feeds.client.get(path)).status == 404
    assert (await feeds.client.get(revoked.stdout.strip().removeprefix("https://support.example.dk"))).status == 200
    assert (await feeds.client.get(rota_link.removeprefix("https://support.example.dk"))).status == 200


def test_calendar_link_for_someone_not_on_the_rota_says_who_is(tmp_path: Path) -> None:
    done = cli(env_for(tmp_path), "calendar-link", "olga")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "'olga' is not a technician in [[oncall.technicians]] (technicians: morten, sara, ib)" in done.stderr


@pytest.mark.parametrize(
    ("host", "start"),
    [("0.0.0.0", "http://127.0.0.1:4000/"), ("::1", "http://[::1]:4000/"), ("10.0.0.7", "http://127.0.0.1:4000/")],
)
def test_without_a_public_url_the_link_is_this_machines_own_address(tmp_path: Path, host: str, start: str) -> None:
    env = env_for(tmp_path) | {"HOST": host, "PORT": "4000"}
    assert calendar_link(load_settings(env), env, "sara").startswith(start + "oncall/calendar/")
