"""`GET /metrics`: what the bot did, in the Prometheus format, for the provider's monitoring.

`PrometheusMetrics` is the server's `bot.observe.Observer`: the core tells it about cases, pages,
acknowledgements, escalations, deliveries and triage, and it counts them (one counter increment
per event, nothing else on the path of a turn). Its middleware times every request by route, the
pattern it matched ("/cases/{number}"), never the raw path, so a scan of random URLs cannot grow the
number of series. Each app has its own `CollectorRegistry`, so two servers (or tests) in one
process never share or clash over a metric.

Who may read it: on a loopback `HOST` anyone on this machine; with `SUPPORTBOT_METRICS_TOKEN` set
only a request with `Authorization: Bearer <token>`; beyond loopback without a token it is not
served at all, and the start-up log says what to set.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from adapters.net import is_loopback_host
from bot.cases import Case
from bot.categories import Category

logger = logging.getLogger(__name__)

PATH = "/metrics"
TOKEN_VARIABLE = "SUPPORTBOT_METRICS_TOKEN"
# Methods outside this set are counted as "other": the method is the client's to choose.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route took (404, 405)
MINUTE = 60.0
# From "at once" to a whole night; the default ladder escalates after 10 and 20 minutes.
ACK_BUCKETS = tuple(m * MINUTE for m in (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 240, 480))
CONFIDENCE_BUCKETS = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
# Seconds; fewer than the library's 15 default buckets, as this histogram has a series per route.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PrometheusMetrics:
    """The bot's metrics on a registry of their own; `bot.observe.Observer` for the core."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory, CPU and open files of the process
        PlatformCollector(registry=self.registry)  # the Python version
        r = self.registry
        self._cases = Counter(
            "supportbot_cases_created",
            "Cases created, by category, whether critical and whether reported outside opening hours.",
            ["category", "critical", "after_hours"],
            registry=r,
        )
        self._pages = Counter(
            "supportbot_pages_sent",
            "Pages delivered to a technician, by platform and escalation step (primary, backup, everyone).",
            ["platform", "step"],
            registry=r,
        )
        self._escalations = Counter(
            "supportbot_escalations",
            "Pages moved on to the next step: nobody acknowledged in time (timeout) or nobody was reached.",
            ["step", "reason"],
            registry=r,
        )
        self._acknowledged = Counter(
            "supportbot_acknowledged",
            "Cases acknowledged by a technician: after-hours pages (page) or opening-hours team posts (team).",
            ["kind"],
            registry=r,
        )
        self._time_to_ack = Histogram(
            "supportbot_time_to_acknowledge_seconds",
            "From the case's creation to a technician's acknowledgement.",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self._retried = Counter(
            "supportbot_deliveries_retried",
            "Messages tried again after a platform failed for a moment (rate limit, 5xx, time-out).",
            ["platform"],
            registry=r,
        )
        self._failed = Counter(
            "supportbot_deliveries_failed",
            "Pages, team posts and updates a platform could not deliver, retries included.",
            ["platform"],
            registry=r,
        )
        self._confidence = Histogram(
            "supportbot_triage_confidence",
            "How sure the bot was (0-100) of each problem description it read, by the category it chose.",
            ["category"],
            buckets=CONFIDENCE_BUCKETS,
            registry=r,
        )
        self._latency = Histogram(
            "supportbot_http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    # -- bot.observe.Observer -------------------------------------------------------------------

    def case_created(self, case: Case) -> None:
        self._cases.labels(case.category.value, _flag(case.critical), _flag(case.after_hours)).inc()

    def triaged(self, category: Category, confidence: int) -> None:
        self._confidence.labels(category.value).observe(confidence)

    def paged(self, platform: str, step: str) -> None:
        self._pages.labels(platform, step).inc()

    def escalated(self, step: str, reason: str) -> None:
        self._escalations.labels(step, reason).inc()

    def acknowledged(self, case: Case, waited: timedelta) -> None:
        kind = "page" if case.page_requested else "team"
        self._acknowledged.labels(kind).inc()
        self._time_to_ack.labels(kind).observe(max(waited.total_seconds(), 0.0))

    def delivery_retried(self, platform: str) -> None:
        self._retried.labels(platform).inc()

    def delivery_failed(self, platform: str) -> None:
        self._failed.labels(platform).inc()

    # -- HTTP -------------------------------------------------------------------------------------

    @property
    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        """Times every request, labelled by the route it matched and its method."""

        @web.middleware
        async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                return await handler(request)
            finally:
                resource = request.match_info.route.resource
                route = resource.canonical if resource is not None else UNMATCHED
                method = request.method if request.method in METHODS else "other"
                self._latency.labels(route, method).observe(time.perf_counter() - started)

        return timed

    def scrape_handler(self, token: str) -> Handler:
        """`GET /metrics`; with a `token`, only for a request that carries it as a bearer token."""

        async def scrape(request: web.Request) -> web.Response:
            if token and not _carries(request, token):
                logger.warning("refused a /metrics request from %s: missing or wrong bearer token", request.remote)
                return web.Response(
                    status=401,
                    text=f"401 Unauthorized: send the header 'Authorization: Bearer <{TOKEN_VARIABLE}>'.\n",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
            encode, content_type = choose_encoder(request.headers.get("Accept", ""))
            # Rendering takes milliseconds of pure Python; in a thread the event loop gets the GIL every 5 ms.
            body = await asyncio.to_thread(encode, self.registry)
            return web.Response(body=body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

        return scrape


def mount(app: web.Application, metrics: PrometheusMetrics, *, host: str, environ: Mapping[str, str]) -> None:
    """Serve `GET /metrics` as the module docstring says, and log how (or what to set to have it)."""
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token and not is_loopback_host(host):
        logger.warning(
            "metrics: %s is off because HOST=%s is not a loopback address; set %s to serve it to a scraper"
            " that sends 'Authorization: Bearer <token>'",
            PATH,
            host,
            TOKEN_VARIABLE,
        )
        return
    app.router.add_get(PATH, metrics.scrape_handler(token))
    if token:
        logger.info("metrics: %s, for requests with the bearer token in %s", PATH, TOKEN_VARIABLE)
    else:
        logger.info("metrics: %s, open to this machine (set %s to require a bearer token)", PATH, TOKEN_VARIABLE)


def _carries(request: web.Request, token: str) -> bool:
    """Whether the request's Authorization header is `Bearer <token>` (the scheme in any case)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _flag(value: bool) -> str:
    return "true" if value else "false"
