"""What the bot tells a monitoring system, without knowing which one listens.

The core calls an `Observer` where something worth counting happens (a case is created, a page
sent, acknowledged or escalated, a delivery retried or given up, a description triaged). The
composition root binds an implementation (`adapters.metrics` for Prometheus); everything else gets
`NO_OBSERVER`. Calls sit on the path of a turn or a page, so an implementation keeps them to a
counter increment: no I/O, no waiting, never an exception.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from bot.cases import Case
from bot.categories import Category


class Observer(Protocol):
    def case_created(self, case: Case) -> None:
        """A new case got its number."""

    def triaged(self, category: Category, confidence: int) -> None:
        """A description was read as `category` with `confidence` (0-100)."""

    def paged(self, platform: str, step: str) -> None:
        """A page went out to one technician; `step` is primary, backup or everyone."""

    def escalated(self, step: str, reason: str) -> None:
        """A page moved on to `step` because nobody answered in time (timeout) or could be reached (unreachable)."""

    def acknowledged(self, case: Case, waited: timedelta) -> None:
        """A technician acknowledged `case`, `waited` after it was created."""

    def delivery_retried(self, platform: str) -> None:
        """A platform failed for a moment and the message is tried again."""

    def delivery_failed(self, platform: str) -> None:
        """A message to someone outside the turn (a page, a post, an update) could not be delivered."""


class NoObserver:
    """Counts nothing: the terminal chat, the command line and tests that do not look."""

    def case_created(self, case: Case) -> None:
        pass

    def triaged(self, category: Category, confidence: int) -> None:
        pass

    def paged(self, platform: str, step: str) -> None:
        pass

    def escalated(self, step: str, reason: str) -> None:
        pass

    def acknowledged(self, case: Case, waited: timedelta) -> None:
        pass

    def delivery_retried(self, platform: str) -> None:
        pass

    def delivery_failed(self, platform: str) -> None:
        pass


NO_OBSERVER: Observer = NoObserver()
