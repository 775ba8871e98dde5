"""Dependencies: the request's unit of work, the authenticated principal, and the
services built on them. ``Annotated`` aliases keep handler signatures short.

Every dependency is ``async def`` (FastAPI runs a plain ``def`` one in a worker thread,
a thread hop per dependency per request), and the chain is kept shallow: the app state
comes from the request rather than from a dependency of its own, and services take the
``Authenticated`` result directly. FastAPI re-walks a dependency's whole subtree each
time it appears, cached or not, so each level costs on every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callwright.api.ratelimit import RateLimiter
from callwright.domain.accounts.service import AccountsService, ApiKeyCache
from callwright.domain.assistants.service import AssistantService
from callwright.domain.principal import Principal
from callwright.domain.tools.service import ToolService
from callwright.errors import CsrfFailed, RateLimited, Unauthorized
from callwright.runtime.calls import CallRuntime
from callwright.runtime.control import ControlRelay
from callwright.runtime.nodes import LocalNode
from callwright.runtime.recordings import RecordingStore
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.security.tokens import digests_equal
from callwright.settings import Settings
from callwright.store.models import AuthSession

__all__ = [
    "AUTH_COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "AccountsDep",
    "AppState",
    "AssistantsDep",
    "CurrentAuthSession",
    "CurrentPrincipal",
    "DbSession",
    "StateDep",
    "ToolsDep",
    "public_base_url",
]

AUTH_COOKIE = "auth-token"  # seed 001
CSRF_COOKIE = "csrf-token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class AppState:
    """What the app holds for its lifetime, built once at start-up."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    rate_limiter: RateLimiter
    calls: CallRuntime
    # This process as a node of the fleet (its id, heartbeat and the orphan sweep).
    node: LocalNode
    # Commands to calls held by other nodes, over Redis (None without REDIS_URL).
    relay: ControlRelay | None
    recordings: RecordingStore
    # The outbound-URL policy every user-given URL is checked against (decision 014).
    outbound: OutboundPolicy
    # Lately authenticated API keys (a few seconds), so that a request skips their queries.
    api_key_cache: ApiKeyCache = field(default_factory=ApiKeyCache)


def public_base_url(settings: Settings, request: Request) -> str:
    """This server's public base URL: the configured one, else the request's own."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    url = request.url
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return f"{scheme}://{url.netloc}"


def _app_state(request: Request) -> AppState:
    state: AppState = request.app.state.callwright
    return state


async def get_state(request: Request) -> AppState:
    return _app_state(request)


StateDep = Annotated[AppState, Depends(get_state)]


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: committed once when the handler returns,
    rolled back if it raises. Services flush; only this commits. For a read-only
    request the commit only ends the read transaction (a rollback would cost the same
    round trip): reads write nothing, API-key last-used times at most once a minute."""
    async with _app_state(request).session_factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent, so a client never reads
# a response whose writes might still fail to commit.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <api key>'")
    return token.strip()


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    auth_session: AuthSession | None


async def authenticate(request: Request, session: DbSession) -> Authenticated:
    """Bearer, then x-api-key, then the auth-token cookie. A credential that is
    present but wrong is a 401: it never falls through to the next method. An API key
    that authenticated in the last few seconds costs no query (``ApiKeyCache``); a
    cookie session is read every time."""
    state = _app_state(request)
    accounts = AccountsService(session, state.api_key_cache)
    api_key = _bearer_token(request) or request.headers.get("x-api-key")
    auth_session: AuthSession | None = None
    if api_key:
        principal = await accounts.authenticate_api_key(api_key)
    elif (cookie := request.cookies.get(AUTH_COOKIE)) is not None:
        principal, auth_session = await accounts.authenticate_session(cookie)
        if request.method not in _SAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER, "")
            if not presented or not digests_equal(presented, auth_session.csrf_token_hash):
                raise CsrfFailed(
                    f"cookie-authenticated writes need the {CSRF_HEADER} header "
                    "with the csrf_token returned by /auth/login"
                )
    else:
        raise Unauthorized(
            "authentication required: send 'Authorization: Bearer <api key>', "
            "'x-api-key: <api key>' or log in at /auth/login"
        )
    if state.settings.rate_limit_enabled:
        decision = await state.rate_limiter.hit(
            principal.rate_limit_identity, state.settings.rate_limit_per_key_per_minute
        )
        if not decision.allowed:
            raise RateLimited(
                f"request budget exceeded: retry in {decision.retry_after_seconds} s",
                retry_after_seconds=decision.retry_after_seconds,
            )
    return Authenticated(principal, auth_session)


AuthenticatedDep = Annotated[Authenticated, Depends(authenticate)]


async def current_principal(authenticated: AuthenticatedDep) -> Principal:
    return authenticated.principal


async def current_auth_session(authenticated: AuthenticatedDep) -> AuthSession | None:
    return authenticated.auth_session


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentAuthSession = Annotated[AuthSession | None, Depends(current_auth_session)]


async def get_accounts(request: Request, session: DbSession) -> AccountsService:
    return AccountsService(session, _app_state(request).api_key_cache)


async def get_assistants(
    request: Request, session: DbSession, authenticated: AuthenticatedDep
) -> AssistantService:
    state = _app_state(request)
    return AssistantService(
        session, authenticated.principal, state.secret_box, outbound=state.outbound
    )


async def get_tools(
    request: Request, session: DbSession, authenticated: AuthenticatedDep
) -> ToolService:
    state = _app_state(request)
    return ToolService(session, authenticated.principal, state.secret_box, outbound=state.outbound)


AccountsDep = Annotated[AccountsService, Depends(get_accounts)]
AssistantsDep = Annotated[AssistantService, Depends(get_assistants)]
ToolsDep = Annotated[ToolService, Depends(get_tools)]
