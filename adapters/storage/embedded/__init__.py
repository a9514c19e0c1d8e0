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
    <data>/overrides/      rota overrides made in chat, one file (overrides.py); also written by the
                           operator's command line beside the running bot, under a lock of its own
"""

from __future__ import annotations

from pathlib import Path

from adapters.storage.embedded.cases import CaseStore, EmbeddedCases
from adapters.storage.embedded.documents import EmbeddedConversations, EmbeddedDeliveryLog, EmbeddedRecords
from adapters.storage.embedded.files import FolderLock
from adapters.storage.embedded.overrides import EmbeddedOverrides
from adapters.storage.embedded.pages import PageBook


class EmbeddedStorage:
    """Every port, on the data folder `data_dir` (see the module's docstring)."""

    def __init__(self, data_dir: Path, *, first_number: int = 10001, read_only: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self._lock = None if read_only else FolderLock(self.data_dir)
        try:
            self.cases = EmbeddedCases(
                CaseStore(self.data_dir / "cases", first_number=first_number, read_only=read_only)
            )
            self.overrides = EmbeddedOverrides(self.data_dir / "overrides")
            if read_only:
                return
            self.pages = PageBook(self.data_dir / "oncall")
            self.conversations = EmbeddedConversations(self.data_dir / "conversations")
            self.deliveries = EmbeddedDeliveryLog(self.data_dir / "deliveries")
            self.records = EmbeddedRecords(self.data_dir)
        except BaseException:
            self._release()
            raise

    async def close(self) -> None:
        """Finish the writes already queued, then let the folder go."""
        await self.cases.close()
        self.overrides.close()
        if self._lock is not None:
            self.pages.close()
            self.conversations.close()
            self.deliveries.close()
            self.records.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
