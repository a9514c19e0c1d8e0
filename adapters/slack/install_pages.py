"""The pages a customer's Slack admin sees while installing the app: install, success and failure.

Bolt keeps the OAuth mechanics (the state and its cookie, the authorize URL, the code exchange, the
status codes); this module only says, in Danish unless the browser prefers English, what the app is,
what employees do once it is installed, and what went wrong in plain words with the way forward.
Everything put into the HTML is escaped; the pages load nothing from elsewhere.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter
from urllib.parse import urlencode

from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ProviderSettings
from bot.errors import BotError
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, text

logger = logging.getLogger(__name__)

APP_REDIRECT = "https://slack.com/app_redirect"  # Slack's deep link: opens the app's messages in that workspace
MAX_CODE = 100  # characters of an error code shown or logged; the code comes from the query string

# bolt's failure reasons (and Slack's `error` parameter), grouped by what the admin can do about them.
CANCELLED = "access_denied"
EXPIRED = frozenset({"invalid_state", "missing_code", "invalid_code"})
OTHER_BROWSER = "invalid_browser"
NOT_SAVED = "storage_error"

STYLE = """
:root{color-scheme:light dark}
body{margin:0;background:#f4f4f4;color:#1d1c1d;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:34rem;margin:0 auto;padding:1.5rem 1.25rem 2rem;background:#fff;min-height:100vh;box-sizing:border-box}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .25rem}
ul{padding-left:1.25rem}
li{margin:.35rem 0}
a{color:#1264a3}
a[href^="tel:"]{white-space:nowrap}
.button{display:inline-block;margin:.5rem 0;padding:.8rem 1.5rem;border-radius:8px;background:#4a154b;color:#fff;
font-weight:600;text-decoration:none}
.small{font-size:.9rem;color:#616061}
code{word-break:break-all}
@media (prefers-color-scheme:dark){body{background:#1a1d21;color:#e8e8e8}main{background:#222529}
a{color:#8ab4f8}.button{background:#7c3085;color:#fff}.small{color:#ababad}}
"""


class Html(str):
    """Markup that is already safe to put into a page (escaped text or tags built here)."""


def preferred_language(accept_language: str) -> str:
    """The catalog language the browser ranks highest by its q-values; Danish when it names none of them."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in accept_language.split(","):
        tag, *params = item.split(";")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(float(value), 1.0)
                except ValueError:
                    q = 0.0
        language = tag.strip().split("-")[0].lower()
        if language in LANGUAGES and q > best_q:  # on a tie the browser's first choice wins
            best, best_q = language, q
    return best


def request_language(request: AsyncBoltRequest) -> str:
    """`?lang=` when the admin chose on our page, else what the browser asks for."""
    chosen = _first(request.query, "lang")
    if chosen in LANGUAGES:
        return chosen
    return preferred_language(",".join(request.headers.get("accept-language", [])))


def _first(values: Mapping[str, Sequence[str]], name: str) -> str:
    found = values.get(name) or [""]
    return found[0]


def _fill(key: str, language: str, **params: str) -> Html:
    """The text `slack.<key>` as HTML: its words and every plain value escaped, `Html` values kept as they are."""
    parts: list[str] = []
    for literal, field, _, _ in Formatter().parse(text(f"slack.{key}", language)):
        parts.append(html.escape(literal))
        if field is not None:
            value = params[field]
            parts.append(value if isinstance(value, Html) else html.escape(value))
    return Html("".join(parts))


def _items(language: str, *keys: str) -> str:
    return "".join(f"<li>{_fill(key, language)}</li>" for key in keys)


def _link(href: str, label: str, *, css: str = "") -> Html:
    css_class = f' class="{css}"' if css else ""
    return Html(f'<a{css_class} href="{html.escape(href)}">{html.escape(label)}</a>')


def _page(language: str, title: Html, body: str) -> str:
    # The CSP forbids scripts and outside resources outright: a value that escaped escaping still cannot run.
    return f"""<!doctype html>
<html lang="{html.escape(language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def _shown_code(reason: str) -> str:
    return reason[:MAX_CODE]


@dataclass(frozen=True)
class InstallPages:
    """The three pages, in the provider's name; `callback_options()` hands two of them to bolt."""

    provider: ProviderSettings
    install_path: str

    def install(self, authorize_url: str, language: str, *, team: str = "") -> str:
        """What the app is and does, and the button to Slack's consent screen."""
        steps = _items(language, "install_step_write", "install_step_case", "install_step_oncall")
        other = next(code for code in LANGUAGES if code != language)
        switch = f"{self.install_path}?{urlencode({'lang': other, **({'team': team} if team else {})})}"
        title = _fill("install_title", language, provider=self.provider.name)
        body = f"""<h1>{title}</h1>
<p>{_fill("install_intro", language, provider=self.provider.name)}</p>
<h2>{_fill("install_how", language)}</h2>
<ul>{steps}</ul>
<p>{_link(authorize_url, text("slack.install_button", language), css="button")}</p>
<p class="small">{_fill("install_permissions", language)}</p>
<p class="small">{self._contact("install_questions", language)}</p>
<p class="small" lang="{other}">{_link(switch, text("slack.install_other_language", language))}</p>"""
        return _page(language, title, body)

    def success(self, installation: Installation, language: str) -> str:
        """Installed: where, what employees do now, and a link into Slack."""
        workspace = (
            installation.team_name or installation.enterprise_name or text("slack.install_workspace_unknown", language)
        )
        if installation.is_enterprise_install and installation.enterprise_url and installation.app_id:
            # An org-wide install reaches no one until the admin picks its workspaces (as bolt's own page links).
            where = _fill("install_done_org", language, workspace=workspace)
            url = f"{installation.enterprise_url}manage/organization/apps/profile/{installation.app_id}/workspaces/add"
            button = _link(url, text("slack.install_done_choose", language), css="button")
        else:
            where = _fill("install_done_intro", language, workspace=workspace, provider=self.provider.name)
            ids = {"app": installation.app_id, "team": installation.team_id}
            url = f"{APP_REDIRECT}?{urlencode({name: value for name, value in ids.items() if value})}"
            button = _link(url, text("slack.install_done_open", language), css="button")
        title = _fill("install_done_title", language)
        steps = _items(language, "install_done_step_write", "install_done_step_case")
        body = f"""<h1>{title}</h1>
<p>{where}</p>
<h2>{_fill("install_done_how", language)}</h2>
<ul>{steps}</ul>
<p>{_fill("install_done_tip", language)}</p>
<p>{button}</p>
<p class="small">{self._contact("install_questions", language)}</p>"""
        return _page(language, title, body)

    def failure(self, reason: str, language: str) -> str:
        """Not installed: the problem in plain words, starting again, and who to call if it keeps failing."""
        cancelled = reason == CANCELLED
        title = _fill("install_cancelled_title" if cancelled else "install_failed_title", language)
        explained = f"<p>{_fill(_failure_key(reason), language)}</p>"
        if not cancelled:  # the code is what the provider's support asks for when it keeps failing
            code = Html(f"<code>{html.escape(_shown_code(reason))}</code>")
            explained += f'\n<p class="small">{_fill("install_failed_code", language, code=code)}</p>'
        again = f"{self.install_path}?{urlencode({'lang': language})}"
        contact = self._contact("install_questions" if cancelled else "install_failed_help", language)
        body = f"""<h1>{title}</h1>
{explained}
<p>{_link(again, text("slack.install_again", language), css="button")}</p>
<p class="small">{contact}</p>"""
        return _page(language, title, body)

    def callback_options(self) -> AsyncCallbackOptions:
        """bolt's success and failure hooks: our pages, with bolt's status codes and its state cookie deleted."""
        return AsyncCallbackOptions(success=self._on_success, failure=self._on_failure)

    async def _on_success(self, args: AsyncSuccessArgs) -> BoltResponse:
        return _response(200, self.success(args.installation, request_language(args.request)), args.settings)

    async def _on_failure(self, args: AsyncFailureArgs) -> BoltResponse:
        level = logging.INFO if args.reason == CANCELLED else logging.WARNING
        logger.log(level, "Slack: an installation did not complete (%r)", _shown_code(args.reason))
        page = self.failure(args.reason, request_language(args.request))
        return _response(args.suggested_status_code, page, args.settings)

    def _contact(self, key: str, language: str) -> Html:
        phone, email = self.provider.phone, self.provider.email
        return _fill(
            key,
            language,
            provider=self.provider.name,
            phone=_link("tel:" + re.sub(r"[^0-9+]", "", phone), phone),
            email=_link(f"mailto:{email}", email),
        )


def _failure_key(reason: str) -> str:
    if reason == CANCELLED:
        return "install_cancelled"
    if reason in EXPIRED:
        return "install_failed_expired"
    if reason == OTHER_BROWSER:
        return "install_failed_browser"
    if reason == NOT_SAVED:
        return "install_failed_not_saved"
    return "install_failed_other"


def _response(status: int, page: str, settings: AsyncOAuthSettings) -> BoltResponse:
    # The same status and cookie deletion as bolt's own pages; never cached, the URL held a one-time code.
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Set-Cookie": settings.state_utils.build_set_cookie_for_deletion(),
        "Cache-Control": "no-store",
    }
    return BoltResponse(status=status, body=page, headers=headers)


class InstallFlow(AsyncOAuthFlow):
    """bolt's OAuth flow with our install page; a store that cannot save becomes bolt's `storage_error` page."""

    def __init__(self, *, pages: InstallPages, client: AsyncWebClient, settings: AsyncOAuthSettings) -> None:
        super().__init__(client=client, settings=settings)
        self.pages = pages

    async def build_install_page_html(self, url: str, request: AsyncBoltRequest) -> str:
        return self.pages.install(url, request_language(request), team=_first(request.query, "team"))

    async def store_installation(self, request: AsyncBoltRequest, installation: Installation) -> None:
        try:
            await super().store_installation(request, installation)
        except (BotError, OSError) as exc:
            logger.error("Slack: the installation for workspace %s could not be saved: %s", installation.team_id, exc)
            raise BoltError("the installation could not be saved") from exc
