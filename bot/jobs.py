"""Background jobs: work that goes on after a person has been answered (a page, a Slack reply after the ack).

Why a class of its own: a task nobody holds a reference to may be garbage collected mid-run, an
exception in one is lost unless somebody asks for it, and at shutdown each one must either finish
(the page goes out) or be cancelled knowingly. `Jobs` keeps every running task, logs what fails,
lets tests and the shutdown wait for all of them (`settled`, `stop`), and nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from bot.errors import log_failure

logger = logging.getLogger(__name__)


class Jobs:
    """Tasks started by the service and held until they end; errors are logged, never raised to anyone."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._running)

    def start(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` as a task named `name` (a case number in the name makes the log readable)."""
        task = asyncio.create_task(self._logged(name, work), name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def settled(self) -> None:
        """Return once no job is running, including jobs that the running ones started meanwhile."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def stop(self, *, grace: float) -> None:
        """Let the running jobs finish for up to `grace` seconds, then cancel the rest and wait for them."""
        if not self._running:
            return
        _, late = await asyncio.wait(set(self._running), timeout=grace)
        for task in late:
            logger.warning("%s had not finished after %g s at shutdown; cancelling it", task.get_name(), grace)
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    @staticmethod
    async def _logged(name: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_failure(logger, f"{name} failed", exc)
