"""Platform-neutral outgoing messages. Adapters render them as Block Kit, Adaptive Cards or HTML.

The text is already in the recipient's language; adapters only lay it out and escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Choice:
    """A button. `id` comes back in the press; `style` is a hint ("primary", "danger")."""

    id: str
    label: str
    style: str = ""


@dataclass(frozen=True)
class Fact:
    """A labelled value, shown as a field on a card (case number, customer, ...)."""

    label: str
    value: str


@dataclass(frozen=True)
class Message:
    """One message to one person: a text, optional facts, optional buttons."""

    text: str
    title: str = ""
    facts: tuple[Fact, ...] = ()
    choices: tuple[Choice, ...] = ()
    # Free text the message invites ("describe the problem"); adapters that cannot take free text
    # in place (a Slack slash command) open a modal or point to the DM instead.
    expects_text: bool = False
    # Messages with the same non-empty key replace each other in place where the platform allows.
    key: str = ""
    # The language the text is in ("da", "en"; empty: not said), so a page can follow the conversation's.
    language: str = ""
    metadata: dict[str, str] = field(default_factory=dict, compare=False)
