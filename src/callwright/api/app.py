"""The ASGI application: ``create_app(settings)`` wires state, middleware, errors, routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources.abc import Traversable

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from callwright import __version__
from callwright.api.deps import AppState
from callwright.api.errors import install_error_handlers
from callwright.api.middleware import BodySizeLimitMiddleware, IpRateLimitMiddleware
from callwright.api.ratelimit import create_rate_limiter
from callwright.api.routes import (
    api_keys,
    assistant_tests,
    assistant_versions,
    assistants,
    auth,
    campaigns,
    compat,
    credentials,
    dashboard,
    health,
    knowledge,
    organization,
    phone_numbers,
    playground,
    telephony,
    tools,
    validate,
    webhooks,
)
from callwright.api.routes import (
    calls as calls_routes,
)
from callwright.api.routes.metrics import metrics_router
from callwright.clock import MonotonicClock
from callwright.domain.accounts.call_limit import LiveCallCount
from callwright.domain.campaigns.dialer import CallServiceDialer
from callwright.domain.campaigns.scheduler import CampaignScheduler
from callwright.domain.knowledge.context import MAX_DOCUMENT_BYTES, KnowledgeContext
from callwright.domain.knowledge.processing import DocumentProcessor
from callwright.domain.signing_secrets import signing_secret_for
from callwright.domain.webhooks.dispatcher import WebhookDispatcher
from callwright.engine.events import EndReason
from callwright.observability.eventloop import watch_event_loop
from callwright.observability.middleware import HttpMetricsMiddleware
from callwright.runtime.analysis import AnalysisWorker
from callwright.runtime.calls import CallRuntime
from callwright.runtime.control import ControlRelay
from callwright.runtime.drain import Drain, signal_drain
from callwright.runtime.evaluations import TestRunWorker
from callwright.runtime.heap import glibc_malloc_trim, return_free_memory, settle_heap
from callwright.runtime.nodes import LocalNode, WallClock, new_node_id
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.providers_offline import OfflineProviders
from callwright.runtime.realtime import realtime_model_factory
from callwright.runtime.recordings import recording_store_for
from callwright.runtime.registry import ProviderFactory, cloud_provider_factory, stored_credentials
from callwright.runtime.webhooks import OutboxCallWebhooks
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings, SettingsError
from callwright.store.base import utcnow
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import check_at_head

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_DESCRIPTION = """Voice AI assistants you host yourself.

Authenticate with `Authorization: Bearer <api key>`, `x-api-key: <api key>`, or the
`auth-token` cookie set by `POST /auth/login` (cookie-authenticated writes also send
`X-CSRF-Token`). Errors are `{"error", "code", "details"}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    provider_factory: ProviderFactory | None = None,
    freeze_heap_after_startup: bool = False,
    dashboard_directory: Traversable = dashboard.DEFAULT_BUILD_DIRECTORY,
    wall_clock: WallClock = utcnow,
    drain_on_signals: bool = False,
) -> FastAPI:
    """The app. ``provider_factory`` replaces the source of each call's providers (tests
    and embedders); by default a call gets its vendors' cloud adapters where their keys
    resolve (the assistant's, its organization's, the environment's) and this
    process's offline models otherwise, loaded on first use (or at start-up with
    ``warm_up_models``). ``freeze_heap_after_startup`` (the server process, not tests
    that build many apps) moves start-up's objects out of the garbage collector's way.
    ``dashboard_directory`` holds the dashboard's build (``./dev`` writes it).
    ``wall_clock`` dates the node's heartbeats and the sweep (tests expire a node).
    ``drain_on_signals`` (the server process) makes SIGTERM and SIGINT drain the node
    before the server stops (``runtime.drain``)."""
    settings = settings or Settings()
    try:
        outbound = OutboundPolicy.from_settings(settings)
    except ValueError as exc:
        raise SettingsError(f"CALLWRIGHT_OUTBOUND_ALLOWED_HOSTS: {exc}") from exc
    rate_limiter = create_rate_limiter(settings.redis_url, settings.redis_namespace)
    # Live control of calls held by other processes (none reachable without Redis).
    relay = (
        ControlRelay(settings.redis_url, namespace=settings.redis_namespace)
        if settings.redis_url
        else None
    )
    offline = OfflineProviders()
    cloud = CloudProviders(outbound)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        try:
            # Refuse to serve a schema this code does not know (DatabaseNotMigrated).
            await check_at_head(engine)
            session_factory = create_session_factory(engine)
            secret_box = SecretBox(settings.resolved_secret_key())
            node_id = new_node_id()
            recordings = recording_store_for(settings)

            async def signing_secret(session: AsyncSession, organization_id: int) -> str:
                return await signing_secret_for(session, settings, organization_id)

            documents_context = KnowledgeContext(
                session_factory, secret_box, settings=settings, outbound=outbound
            )
            providers = provider_factory or cloud_provider_factory(
                server=settings,
                offline=offline,
                cloud=cloud,
                credentials=stored_credentials(session_factory, secret_box),
            )
            calls = CallRuntime(
                settings=settings,
                session_factory=session_factory,
                node_id=node_id,
                secret_box=secret_box,
                recordings=recordings,
                providers=providers,
                signing_secret=signing_secret,
                webhooks=OutboxCallWebhooks(settings),
                knowledge=documents_context,
                relay=relay,
                realtime=realtime_model_factory(
                    server=settings,
                    cloud=cloud,
                    credentials=stored_credentials(session_factory, secret_box),
                ),
            )
            # This process joins the fleet; calls of nodes that are gone are ended (and
            # their closing webhooks queued) before it serves.
            node = LocalNode(
                session_factory,
                heartbeat_interval_s=settings.node_heartbeat_interval_s,
                expiry_s=settings.node_expiry_s,
                wall_clock=wall_clock,
                node_id=node_id,
                on_swept=calls.ended_reports.swept,
                after_beat=calls.settle_places,
            )
            await node.start()
            app.state.callwright = AppState(
                settings=settings,
                engine=engine,
                session_factory=session_factory,
                secret_box=secret_box,
                rate_limiter=rate_limiter,
                calls=calls,
                node=node,
                relay=relay,
                recordings=recordings,
                outbound=outbound,
            )
            app.state.knowledge = documents_context
            drain = Drain(
                calls,
                node,
                session_factory,
                timeout_s=settings.drain_timeout_s,
                webhooks_timeout_s=settings.drain_webhooks_timeout_s,
                deliver_here=settings.webhook_delivery_enabled,
            )
            # Background work lives as long as the app, and ends before the engine does.
            async with (
                signal_drain(drain, enabled=drain_on_signals) as stop_server,
                asyncio.TaskGroup() as background,
            ):
                draining = background.create_task(drain.run(stop_server), name="drain")
                heartbeat = background.create_task(node.run(), name="node-heartbeat")
                control = None
                if relay is not None:
                    control = background.create_task(
                        relay.serve(node.id, calls.act), name="call-control"
                    )
                dispatcher = None
                if settings.webhook_delivery_enabled:
                    dispatcher = background.create_task(
                        WebhookDispatcher(session_factory, settings).run(),
                        name="webhook-dispatcher",
                    )
                analysis = None
                if settings.analysis_enabled:
                    analysis = background.create_task(
                        AnalysisWorker(session_factory, secret_box, providers, settings).run(),
                        name="analysis-worker",
                    )
                test_runs = None
                if settings.test_runs_enabled:
                    worker = TestRunWorker(
                        session_factory,
                        secret_box,
                        providers,
                        offline,
                        settings,
                        recordings,
                        outbound=outbound,
                        knowledge=documents_context,
                    )
                    test_runs = background.create_task(worker.run(), name="test-run-worker")
                documents = background.create_task(
                    DocumentProcessor(documents_context).run(), name="knowledge-processor"
                )
                scheduling = None
                if settings.campaign_scheduler_enabled:
                    scheduler = CampaignScheduler(
                        session_factory,
                        CallServiceDialer(secret_box, settings, calls),
                        clock=MonotonicClock(),
                        poll_seconds=settings.campaign_poll_interval_seconds,
                        live_calls=LiveCallCount.from_settings(settings),
                        taking_calls=lambda: not calls.draining,
                    )
                    scheduling = background.create_task(scheduler.run(), name="campaign-scheduler")
                if settings.warm_up_models and provider_factory is None:
                    background.create_task(offline.warm_up(), name="warm-up")
                lag = None
                if settings.metrics_enabled:
                    lag = background.create_task(watch_event_loop(), name="event-loop-lag")
                trimming = None
                trim = glibc_malloc_trim() if settings.heap_trim_interval_s > 0 else None
                if trim is not None:
                    trimming = background.create_task(
                        return_free_memory(settings.heap_trim_interval_s, trim), name="heap-trim"
                    )
                if freeze_heap_after_startup:
                    # What start-up allocated lives as long as the process: keep it out
                    # of the collector's full passes, which otherwise stall every call at
                    # once, and make those passes rare (decision 025).
                    settle_heap()
                try:
                    yield
                finally:
                    if scheduling is not None:
                        # No new calls once shutting down (a dial cut short here is settled
                        # as interrupted when its lease expires).
                        scheduling.cancel()
                    draining.cancel()
                    # Calls still up end with a reason and a complete record.
                    await calls.end_all(EndReason.SERVER_SHUTDOWN)
                    heartbeat.cancel()
                    if control is not None:
                        control.cancel()
                    await node.stop()
                    if dispatcher is not None:
                        dispatcher.cancel()
                    if analysis is not None:
                        analysis.cancel()
                    if test_runs is not None:
                        test_runs.cancel()
                    documents.cancel()
                    if lag is not None:
                        lag.cancel()
                    if trimming is not None:
                        trimming.cancel()
                    documents_context.indexes.close()
            await documents_context.embedders.aclose()
        finally:
            await cloud.aclose()
            await offline.aclose()
            await rate_limiter.aclose()
            if relay is not None:
                await relay.aclose()
            await engine.dispose()

    app = FastAPI(
        title="callwright",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    routers = [
        health.router,
        auth.router,
        api_keys.router,
        assistants.router,
        assistant_versions.router,
        assistant_tests.router,
        tools.router,
        credentials.router,
        validate.router,
        knowledge.router,
        webhooks.router,
        organization.router,
        phone_numbers.router,
        calls_routes.router,
        campaigns.router,
        campaigns.do_not_call_router,
        telephony.router,
        compat.router,
        playground.router,
    ]
    if settings.metrics_enabled:
        routers.append(metrics_router(token=settings.metrics_token))
    for router in routers:
        app.include_router(router)
    # Last, checked against the first path segment of every other route (FastAPI's own
    # /docs and /openapi.json included): a dashboard page never shadows the API.
    taken = {
        path.split("/")[1]
        for route in [*app.routes, *(route for router in routers for route in router.routes)]
        if (path := getattr(route, "path", None))
    }
    app.include_router(
        dashboard.dashboard_router(dashboard.DashboardBuild.load(dashboard_directory), taken)
    )
    # Outermost first: the IP budget is checked before the body is read.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        # Document uploads: the document limit plus room for the multipart framing.
        larger=((knowledge.DOCUMENTS_PATH, MAX_DOCUMENT_BYTES + 65_536),),
    )
    if settings.rate_limit_enabled:
        app.add_middleware(
            IpRateLimitMiddleware,
            limiter=rate_limiter,
            per_minute=settings.rate_limit_per_ip_per_minute,
        )
    # Outermost of all: request counts and durations include the other middleware.
    app.add_middleware(HttpMetricsMiddleware)
    return app
