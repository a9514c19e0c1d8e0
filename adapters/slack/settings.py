"""The Slack credentials, read from the environment only, and which way the app is reached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_API_URL = "https://slack.com/api/"

# Only the scopes the bot uses: /support, DMs (open, read, write) and the reporter's locale and name.
BOT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "users:read")


@dataclass(frozen=True)
class SlackSettings:
    """Secrets are kept out of `repr` so a logged settings object never leaks them."""

    signing_secret: str = field(default="", repr=False)
    bot_token: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SlackSettings:
        def get(name: str) -> str:
            return environ.get(name, "").strip()

        api_url = get("SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            signing_secret=get("SLACK_SIGNING_SECRET"),
            bot_token=get("SLACK_BOT_TOKEN"),
            client_id=get("SLACK_CLIENT_ID"),
            client_secret=get("SLACK_CLIENT_SECRET"),
            app_token=get("SLACK_APP_TOKEN"),
            api_url=api_url if api_url.endswith("/") else api_url + "/",
        )

    @property
    def oauth(self) -> bool:
        """Many workspaces install the app themselves; tokens come from the installation store."""
        return bool(self.client_id and self.client_secret) and not self.bot_token

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    def disabled_reason(self) -> str | None:
        """Why Slack cannot run with these variables, naming what to set; None when it can."""
        if not (self.bot_token or self.client_id or self.client_secret or self.app_token or self.signing_secret):
            return "no Slack credentials (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or see the README)"
        if self.bot_token and (self.client_id or self.client_secret):
            return "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID/SLACK_CLIENT_SECRET (OAuth), not both"
        if not self.bot_token:
            missing = [
                n
                for n, v in (("SLACK_CLIENT_ID", self.client_id), ("SLACK_CLIENT_SECRET", self.client_secret))
                if not v
            ]
            if missing:
                return f"Slack is half configured: {' and '.join(missing)} missing (or set SLACK_BOT_TOKEN instead)"
        if self.bot_token and not self.bot_token.startswith("xoxb-"):
            return "SLACK_BOT_TOKEN is not a bot token (it starts with xoxb-)"
        if self.app_token and not self.app_token.startswith("xapp-"):
            return "SLACK_APP_TOKEN is not an app-level token (it starts with xapp-)"
        if not self.signing_secret and not (self.socket_mode and not self.oauth):
            return "SLACK_SIGNING_SECRET is missing (Basic Information → App Credentials in the Slack app settings)"
        return None
