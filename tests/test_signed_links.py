"""One key and one revocation table for every secret link: inbox links, chat cookies and calendar feeds."""

from __future__ import annotations

import subprocess
from pathlib import Path

from adapters.calendar_feed import PURPOSE as CALENDAR
from adapters.local.passes import CHAT, INBOX
from adapters.signed_links import OLD_SECRET_VARIABLE, SECRET_VARIABLE, SignedLinks
from tests.commands import bot_command


def test_a_token_opens_only_what_it_was_issued_for(tmp_path: Path) -> None:
    links = SignedLinks.for_data(tmp_path, {})
    inbox, chat, calendar = links.issue(INBOX, "vagt"), links.issue(CHAT, "vagt"), links.issue(CALENDAR, "vagt")

    assert [links.verify(INBOX, inbox), links.verify(CHAT, chat), links.verify(CALENDAR, calendar)] == ["vagt"] * 3
    assert links.verify(CHAT, inbox) is None and links.verify(CALENDAR, inbox) is None
    assert links.verify(INBOX, chat) is None and links.verify(INBOX, calendar) is None


def test_revoking_one_kind_of_link_leaves_the_others_and_all_share_one_key_and_one_table(tmp_path: Path) -> None:
    links = SignedLinks.for_data(tmp_path, {})
    inbox, calendar = links.issue(INBOX, "vagt"), links.issue(CALENDAR, "vagt")

    new_inbox = links.revoke(INBOX, "vagt")

    assert links.verify(INBOX, inbox) is None and links.verify(INBOX, new_inbox) == "vagt"
    assert links.verify(CALENDAR, calendar) == "vagt", "the calendar link of the same person still works"
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == ["generations.json", "secret.key"]
    assert SignedLinks.for_data(tmp_path, {}).verify(INBOX, new_inbox) == "vagt", "another process agrees"


def oncall(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return bot_command("oncall", *args, env=env)


def test_the_old_secret_variable_still_signs_for_one_release_and_says_it_is_deprecated(tmp_path: Path) -> None:
    old, new = "o" * 40, "n" * 40
    data = {"SUPPORTBOT_DATA": str(tmp_path)}

    done = oncall(data | {OLD_SECRET_VARIABLE: old}, "link", "vagt")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().rpartition("key=")[2]
    assert SignedLinks.for_data(tmp_path / "elsewhere", {SECRET_VARIABLE: old}).verify(INBOX, token) == "vagt"
    assert f"{OLD_SECRET_VARIABLE} is deprecated: rename it to {SECRET_VARIABLE}" in done.stderr
    assert old not in done.stderr and not (tmp_path / "links" / "secret.key").exists()

    both = oncall(data | {OLD_SECRET_VARIABLE: old, SECRET_VARIABLE: new}, "link", "vagt")

    token = both.stdout.strip().rpartition("key=")[2]
    assert SignedLinks.for_data(tmp_path / "elsewhere", {SECRET_VARIABLE: new}).verify(INBOX, token) == "vagt"
    assert f"it is ignored, {SECRET_VARIABLE} is set" in both.stderr
    assert old not in both.stderr and new not in both.stderr
