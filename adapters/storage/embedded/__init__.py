"""The embedded engine: every port of `bot.ports` on TinyDB files in one data folder.

The only code in the bot that opens data files, fsyncs, renames and locks (`files.py`). One process
writes the folder: `EmbeddedStorage` takes an exclusive lock on `<data>/.lock` and a second bot on
the same folder is refused with one line naming the folder and the other process. A reader (the
operator's `cases` command) opens it `read_only`: no lock, no writes, and every file it reads was
renamed into place whole, so it reads safely beside the running bot.

    <data>/cases/          one file per hundred case numbers     (cases.py)
    <data>/oncall/         page records, one file per hundred    (pages.py)
    <data>/conversations/  dialog state, 32 files by key hash    (documents.py, keyed.py)
    <data>/deliveries/     the delivery log, 32 files
    <data>/teams/, slack/  platform records, 32 files per kind
    <data>/outbox/         webhook calls and e-mails until sent  (outbox.py)
    <data>/audit/          the audit log, one JSON Lines file per month, appended (audit.py)
    <data>/overrides/      rota overrides made in chat, one file (overrides.py); also written by the
                           operator's command line beside the running bot, under a lock of its own
"""

from __future__ import annotations

import logging
from pathlib import Path

from adapters.storage.embedded.audit import EmbeddedAuditLog
from adapters.storage.embedded.cases import CaseStore, EmbeddedCases
from adapters.storage.embedded.documents import EmbeddedConversations, EmbeddedDeliveryLog, EmbeddedRecords
from adapters.storage.embedded.files import FolderLock
from adapters.storage.embedded.outbox import EmbeddedOutbox, OutboxReader
from adapters.storage.embedded.overrides import EmbeddedOverrides
from adapters.storage.embedded.pages import PageBook
from bot.ports import Announcer

logger = logging.getLogger(__name__)

# Single files of earlier versions, no longer read: named at start-up so nothing goes missing unnoticed.
EARLIER_FILES = ("conversations.json", "oncall.json", "teams.json", "local-messages.json", "slack/installations.json")


class EmbeddedStorage:
    """Every port, on the data folder `data_dir` (see the module's docstring)."""

    def __init__(
        self, data_dir: Path, *, first_number: int = 10001, read_only: bool = False, announce: Announcer | None = None
    ) -> None:
        """`announce`: what a change of a case sends out, enqueued in the outbox with the change."""
        self.data_dir = Path(data_dir)
        self._lock = None if read_only else FolderLock(self.data_dir)
        try:
            self.overrides = EmbeddedOverrides(self.data_dir / "overrides")
            if read_only:
                self.cases = EmbeddedCases(
                    CaseStore(self.data_dir / "cases", first_number=first_number, read_only=True)
                )
                self.outbox = OutboxReader(self.data_dir / "outbox")
                # Appends are single O_APPEND writes, so the operator's own changes (an override
                # cancelled) are recorded beside the running bot's.
                self.audit = EmbeddedAuditLog(self.data_dir / "audit")
                return
            # First: these read their files now, so a damaged one stops the start here.
            self.pages = PageBook(self.data_dir / "oncall")
            self.conversations = EmbeddedConversations(self.data_dir / "conversations")
            self.deliveries = EmbeddedDeliveryLog(self.data_dir / "deliveries")
            self.records = EmbeddedRecords(self.data_dir)
            self.outbox = EmbeddedOutbox(self.data_dir / "outbox")
            self.audit = EmbeddedAuditLog(self.data_dir / "audit")
            for name in EARLIER_FILES:
                if (self.data_dir / name).exists():
                    logger.warning(
                        "%s was written by an earlier version and is not read any more", self.data_dir / name
                    )
            store = CaseStore(self.data_dir / "cases", first_number=first_number)
            # Starts building the case summary in the background.
            self.cases = EmbeddedCases(store, announce=announce, outbox=self.outbox)
        except BaseException:
            self._release()
            raise

    async def close(self) -> None:
        """Finish the writes already queued, then let the folder go."""
        await self.cases.close()
        self.audit.close()
        self.overrides.close()
        if self._lock is not None:
            self.pages.close()
            self.conversations.close()
            self.deliveries.close()
            self.records.close()
            self.outbox.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
