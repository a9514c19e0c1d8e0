"""The composition root: one aiohttp application for every front end.

`create_app` builds the services once, lets each front end mount its routes and register its
messenger (or say why it stays off), and runs the on-call timers while the app runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any

from aiohttp import web

from adapters import calendar_feed
from adapters import metrics as prometheus
from adapters.collector import Collector, Traffic
from adapters.storage import describe
from adapters.wiring import Services, build_services
from bot.clock import Clock
from bot.config import Settings

logger = logging.getLogger(__name__)

# Front ends in the order they are mounted: platform name -> the package with `mount(app, services, environ)`.
# "twilio" is no chat: it texts and calls technicians for on-call and takes their answers.
FRONT_ENDS = {
    "local": "adapters.local",
    "slack": "adapters.slack",
    "teams": "adapters.teams",
    "twilio": "adapters.twilio",
}
SERVICES = web.AppKey("services", Services)
FRONT_END_STATUS = web.AppKey("front_ends", dict[str, str])
ONCALL_TASK = web.AppKey("oncall_task", asyncio.Task[None])
OUTBOX_TASK = web.AppKey("outbox_task", asyncio.Task[None])
COLLECTOR_TASK = web.AppKey("collector_task", asyncio.Task[None])
COLLECTOR = web.AppKey("collector", Collector)
METRICS = web.AppKey("metrics", prometheus.PrometheusMetrics)


async def health(request: web.Request) -> web.Response:
    """What runs and whether it can work: 503 when the storage cannot be used (a database not answering)."""
    ok, storage = await describe(request.app[SERVICES].storage)
    return web.json_response(
        {"status": "ok" if ok else "degraded", "storage": storage, "front_ends": request.app[FRONT_END_STATUS]},
        status=200 if ok else 503,
    )


def create_app(
    settings: Settings, *, environ: Mapping[str, str] | None = None, clock: Clock | None = None
) -> web.Application:
    """The application with every front end that can run; `environ` holds the front ends' credentials."""
    env = os.environ if environ is None else environ
    metrics = prometheus.PrometheusMetrics()
    services = build_services(settings, clock=clock, observer=metrics, environ=env)
    traffic = Traffic()
    app = web.Application(client_max_size=1024 * 1024, middlewares=[metrics.middleware, traffic.middleware])
    app[SERVICES] = services
    app[COLLECTOR] = Collector(traffic)
    app[METRICS] = metrics
    app.router.add_get("/healthz", health)
    prometheus.mount(app, metrics, host=settings.host, environ=env)
    app[FRONT_END_STATUS] = mount_front_ends(app, services, env)
    reason = calendar_feed.mount(app, services, env)
    if reason is None:
        logger.info("on-call calendar feed: enabled (python -m bot oncall calendar-link prints the links)")
    else:
        logger.warning("on-call calendar feed: disabled, %s", reason)
    app.cleanup_ctx.append(_oncall_loop)
    app.cleanup_ctx.append(_outbox_loop)  # after _oncall_loop: stopped before the storage closes
    app.cleanup_ctx.append(_collect_garbage_quietly)  # after _oncall_loop: stopped before the store closes
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
    await services.record_configuration()
    async with _running(app, ONCALL_TASK, services.oncall.run(), "oncall-timers"):
        yield
    await services.close()


async def _outbox_loop(app: web.Application) -> AsyncIterator[None]:
    """Deliver webhook calls and e-mails from the outbox while the app runs, in a task of their own, so
    a receiver that is down never holds up a conversation or the on-call timers."""
    async with _running(app, OUTBOX_TASK, app[SERVICES].outbox.run(), "outbox"):
        yield


@contextlib.asynccontextmanager
async def _running(
    app: web.Application, key: web.AppKey[asyncio.Task[None]], work: Coroutine[Any, Any, None], name: str
) -> AsyncIterator[None]:
    """`work` as a task kept under `key` while the block runs (an unexpected end is logged), then cancelled."""
    task = asyncio.create_task(work, name=name)
    task.add_done_callback(_report_stopped)
    app[key] = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _report_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the %s task stopped", task.get_name(), exc_info=task.exception())


async def _collect_garbage_quietly(app: web.Application) -> AsyncIterator[None]:
    """Run the garbage-collection policy of `adapters.collector` while the app runs."""
    collector = app[COLLECTOR]
    collector.install()
    task = asyncio.create_task(collector.run(app[SERVICES].store.warm_up), name="gc-collector")
    app[COLLECTOR_TASK] = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    collector.uninstall()
