"""The composition root: one aiohttp application for every front end.

`create_app` builds the services once, lets each front end mount its routes and register its
messenger (or say why it stays off), and runs the on-call timers while the app runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.util
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from adapters.wiring import Services, build_services
from bot.clock import Clock
from bot.config import Settings

logger = logging.getLogger(__name__)

# Front ends in the order they are mounted: platform name -> the package with `mount(app, services, environ)`.
FRONT_ENDS = {"local": "adapters.local", "slack": "adapters.slack", "teams": "adapters.teams"}
SERVICES = web.AppKey("services", Services)
FRONT_END_STATUS = web.AppKey("front_ends", dict[str, str])
ONCALL_TASK = web.AppKey("oncall_task", asyncio.Task[None])
GC_FREEZE_TASK = web.AppKey("gc_freeze_task", asyncio.Task[None])


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "front_ends": request.app[FRONT_END_STATUS]})


def create_app(
    settings: Settings, *, environ: Mapping[str, str] | None = None, clock: Clock | None = None
) -> web.Application:
    """The application with every front end that can run; `environ` holds the front ends' credentials."""
    env = os.environ if environ is None else environ
    services = build_services(settings, clock=clock)
    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES] = services
    app.router.add_get("/healthz", health)
    app[FRONT_END_STATUS] = mount_front_ends(app, services, env)
    app.cleanup_ctx.append(_oncall_loop)
    app.cleanup_ctx.append(_freeze_long_lived_objects)  # after _oncall_loop: stopped before the store closes
    return app


def mount_front_ends(app: web.Application, services: Services, environ: Mapping[str, str]) -> dict[str, str]:
    """Mount every front end that is installed and configured; log each one as enabled or why not.

    A front end package has `mount(app, services, environ) -> str | None` (None: enabled, else why
    not) and may have `enabled_as(environ) -> str`, a note on how it runs ("" when fully).
    """
    status: dict[str, str] = {}
    for platform, package in FRONT_ENDS.items():
        module = importlib.import_module(package) if importlib.util.find_spec(package) is not None else None
        reason = f"the {package} package is not installed" if module is None else module.mount(app, services, environ)
        if module is not None and reason is None:
            # A front end that runs in a restricted mode says so (Teams without authentication).
            describe = getattr(module, "enabled_as", None)
            note = describe(environ) if describe is not None else ""
            status[platform] = f"enabled {note}" if note else "enabled"
            logger.info("front end %s: %s", platform, status[platform])
        else:
            status[platform] = f"disabled: {reason}"
            logger.info("front end %s: disabled, %s", platform, reason)
    if not any(value.startswith("enabled") for value in status.values()):
        logger.warning("no front end is enabled: nobody can reach the bot and no page can be delivered")
    return status


async def _oncall_loop(app: web.Application) -> AsyncIterator[None]:
    """Run the on-call timers (escalations, reminders) while the app runs; stop them, then close the files.

    The loop first logs what is wrong with the rota (nobody on call, a technician on no enabled
    front end), so that shows at start-up rather than at 03:00.
    """
    services = app[SERVICES]
    task = asyncio.create_task(services.oncall.run(), name="oncall-timers")
    task.add_done_callback(_report_stopped)
    app[ONCALL_TASK] = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await services.close()


def _report_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the on-call timers stopped: escalations and reminders will not fire", exc_info=task.exception())


async def _freeze_long_lived_objects(app: web.Application) -> AsyncIterator[None]:
    """Exempt from garbage collection what lives as long as the server (`gc.freeze()`), twice at start-up.

    Why: each full (generation-2) collection walks every tracked object in the process and stalls the
    event loop meanwhile (150-260 ms with a large case file; issue 7 allows 20 ms). What exists at
    start-up (modules, the services, the catalogs) and what the case store's background warm-up
    builds lives until the server stops, so walking it is pure cost; `gc.freeze()`, CPython's
    documented remedy, moves it to the permanent generation and later collections walk only what
    conversations create. The first freeze, here before the server listens, takes no time; the
    second, once the warm-up has finished, follows a `gc.collect()` that walks only what was made
    since (a millisecond or two), so the loop never waits on a collection of the whole heap. Garbage
    that exists at the first freeze (a handful of objects) is kept until shutdown, when everything is
    unfrozen, which also gives another app in the same process (the tests) a collectable heap.
    It is process-wide policy, so it lives here in the composition root and not in the case store,
    which the CLI and the tests use too.
    """
    gc.freeze()
    task = asyncio.create_task(_freeze_after_warm_up(app[SERVICES]), name="gc-freeze")
    app[GC_FREEZE_TASK] = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    gc.unfreeze()


async def _freeze_after_warm_up(services: Services) -> None:
    try:
        await services.store.warm_up()
    except Exception:  # the store has logged it, and raises it again to whoever asks it for cases
        logger.warning("the case store could not be read at start-up; its summary is not frozen", exc_info=True)
        return
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    took = (time.perf_counter() - started) * 1000
    logger.info("gc.freeze() once the cases were read: %d objects exempt, %.1f ms", gc.get_freeze_count(), took)
