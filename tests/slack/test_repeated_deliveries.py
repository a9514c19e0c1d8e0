"""Slack's retries and double presses are taken once; what is remembered for that stays bounded."""

from __future__ import annotations

from adapters.slack.frontend import RecentDeliveries


def test_a_retry_within_the_window_is_ignored_and_remembered_no_longer_than_that() -> None:
    seen = RecentDeliveries(window=600.0, limit=100)
    assert seen.first_time("Ev1", 1000.0)
    assert not seen.first_time("Ev1", 1001.0), "a double press a second later"
    assert not seen.first_time("Ev1", 1590.0), "Slack's last retry, minutes later"
    assert seen.first_time("Ev2", 1700.0)
    assert len(seen) == 1, "the delivery from 700 s ago is forgotten"
    assert seen.first_time("Ev1", 1701.0), "pressed again much later: a new delivery, answered as a stale button"


def test_a_flood_of_deliveries_is_remembered_up_to_the_limit_newest_kept() -> None:
    seen = RecentDeliveries(window=600.0, limit=100)
    for n in range(250):
        assert seen.first_time(f"Ev{n}", 1000.0 + n / 1000)
    assert len(seen) == 100
    assert not seen.first_time("Ev249", 1001.0)
    assert seen.first_time("Ev0", 1001.0)
