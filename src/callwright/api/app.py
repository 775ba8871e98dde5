"""The ASGI application: ``create_app(settings)`` wires state, middleware, errors, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from callwright import __version__
from callwright.api.deps import AppState
from callwright.api.errors import install_error_handlers
from callwright.api.middleware import BodySizeLimitMiddleware, IpRateLimitMiddleware
from callwright.api.ratelimit import create_rate_limiter
from callwright.api.routes import api_keys, assistants, auth, compat, health, tools
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import check_at_head

__all__ = ["create_app"]

_DESCRIPTION = """Voice AI assistants you host yourself.

Authenticate with `Authorization: Bearer <api key>`, `x-api-key: <api key>`, or the
`auth-token` cookie set by `POST /auth/login` (cookie-authenticated writes also send
`X-CSRF-Token`). Errors are `{"error", "code", "details"}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rate_limiter = create_rate_limiter(settings.redis_url, settings.redis_namespace)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        try:
            # Refuse to serve a schema this code does not know (DatabaseNotMigrated).
            await check_at_head(engine)
            app.state.callwright = AppState(
                settings=settings,
                engine=engine,
                session_factory=create_session_factory(engine),
                secret_box=SecretBox(settings.resolved_secret_key()),
                rate_limiter=rate_limiter,
            )
            yield
        finally:
            await rate_limiter.aclose()
            await engine.dispose()

    app = FastAPI(
        title="callwright",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (
        health.router,
        auth.router,
        api_keys.router,
        assistants.router,
        tools.router,
        compat.router,
    ):
        app.include_router(router)
    # Outermost first: the IP budget is checked before the body is read.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    if settings.rate_limit_enabled:
        app.add_middleware(
            IpRateLimitMiddleware,
            limiter=rate_limiter,
            per_minute=settings.rate_limit_per_ip_per_minute,
        )
    return app
