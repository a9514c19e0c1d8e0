"""What a front end hands the conversation: one `Turn` per message or button press."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cases import Reporter


@dataclass(frozen=True)
class ConversationKey:
    """Dialog state is kept per platform, workspace/tenant, conversation and user."""

    platform: str
    workspace: str
    conversation: str
    user: str

    def as_id(self) -> str:
        return "|".join((self.platform, self.workspace, self.conversation, self.user))


@dataclass(frozen=True)
class Turn:
    """One thing the person did: typed `text`, or pressed the button whose id is `choice`.

    `delivery_id` is the platform's id for this delivery (Slack's trigger or event id, Teams'
    activity id); a turn whose id was already handled is answered from memory, not run again.
    """

    key: ConversationKey
    reporter: Reporter
    text: str = ""
    choice: str = ""
    delivery_id: str = ""
