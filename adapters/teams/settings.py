"""The Teams bot registration, read from the environment (the names Azure's templates use).

The password is a secret: it is kept out of `repr` and never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.errors import ConfigError

APP_TYPES = {"singletenant": "SingleTenant", "multitenant": "MultiTenant", "userassignedmsi": "UserAssignedMSI"}


@dataclass(frozen=True)
class TeamsSettings:
    """`app_id` empty means the Bot Framework Emulator: no authentication, localhost only."""

    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_tenant_id: str = ""
    app_type: str = "SingleTenant"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TeamsSettings:
        """Read MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId and MicrosoftAppType.

        Raises:
            ConfigError: naming every missing or wrong variable (never the password's value).
        """
        app_id = environ.get("MicrosoftAppId", "").strip()
        raw_type = environ.get("MicrosoftAppType", "").strip() or "SingleTenant"
        app_type = APP_TYPES.get(raw_type.lower())
        if app_type is None:
            raise ConfigError(
                f"environment: MicrosoftAppType must be one of {', '.join(APP_TYPES.values())}, not {raw_type!r}"
            )
        settings = cls(
            app_id=app_id,
            app_password=environ.get("MicrosoftAppPassword", ""),
            app_tenant_id=environ.get("MicrosoftAppTenantId", "").strip(),
            app_type=app_type if app_id else "MultiTenant",
        )
        missing = settings.missing()
        if missing:
            raise ConfigError(f"environment: MicrosoftAppType={app_type} also needs {' and '.join(missing)}")
        return settings

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)

    def missing(self) -> list[str]:
        if not self.app_id:
            return []
        needed = {"MicrosoftAppTenantId": self.app_tenant_id}
        if self.app_type == "SingleTenant":
            needed["MicrosoftAppPassword"] = self.app_password
        if self.app_type == "MultiTenant":
            needed = {"MicrosoftAppPassword": self.app_password}
        return [name for name, value in needed.items() if not value]

    def botbuilder_configuration(self) -> object:
        """The attribute bag `ConfigurationBotFrameworkAuthentication` reads."""
        return _BotConfiguration(
            APP_ID=self.app_id,
            APP_PASSWORD=self.app_password,
            APP_TENANTID=self.app_tenant_id,
            # Without an app id botbuilder runs unauthenticated only in its MultiTenant mode.
            APP_TYPE=self.app_type if self.app_id else "MultiTenant",
        )


@dataclass(frozen=True)
class _BotConfiguration:
    APP_ID: str
    APP_PASSWORD: str = field(repr=False)
    APP_TENANTID: str
    APP_TYPE: str
