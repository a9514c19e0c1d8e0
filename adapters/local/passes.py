"""Who is who in the local channel: technicians' secret inbox links and employees' chat cookies.

Both are tokens of `adapters.signed_links`. An inbox link carries the technician's id;
`python -m bot oncall revoke <tech>` ends every inbox link and inbox cookie given out before. An
employee's chat cookie carries a random id the server chose, so one browser cannot write as
another reporter.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from adapters.signed_links import SignedLinks
from bot.config import Technician

INBOX = "inbox"  # the purposes of the two kinds of token
CHAT = "chat"
INBOX_COOKIE = "supportbot_inbox"
CHAT_COOKIE = "supportbot_chat"


def new_chat_cookie(links: SignedLinks) -> tuple[str, str]:
    """A new employee: (their user id, the cookie value that proves it)."""
    user = "u-" + secrets.token_hex(10)
    return user, links.issue(CHAT, user)


def inbox_links(links: SignedLinks, technicians: Iterable[Technician], base_url: str) -> dict[str, str]:
    """Each local technician's secret link to the on-call inbox, by technician id."""
    return {t.id: f"{base_url}/oncall?key={links.issue(INBOX, t.id)}" for t in technicians if t.local}
