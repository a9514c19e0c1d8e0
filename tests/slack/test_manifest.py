"""The Slack app manifest is valid against Slack's schema and asks only for what the bot uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from adapters.slack import EVENTS_PATH, REDIRECT_PATH
from adapters.slack.settings import BOT_SCOPES

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifest" / "slack" / "manifest.yaml"
SCHEMA = REPO.parent / "shared" / "schemas" / "slack-manifest.schema.1.0.0.json"


def load_manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_is_valid_against_slacks_schema() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA} (it lives in ../shared next to the repository)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(load_manifest(), schema)


def test_manifest_matches_what_the_bot_does() -> None:
    manifest = load_manifest()
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert "user" not in manifest["oauth_config"]["scopes"]
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/support" and command["url"].endswith(EVENTS_PATH)
    settings = manifest["settings"]
    assert settings["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert "message.im" in settings["event_subscriptions"]["bot_events"]
    assert manifest["oauth_config"]["redirect_urls"][0].endswith(REDIRECT_PATH)
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_read_only_enabled"] is False
    # Placeholders only: no real host, id or secret is committed.
    text = MANIFEST.read_text(encoding="utf-8")
    assert "supportbot.example.com" in text and "xox" not in text
