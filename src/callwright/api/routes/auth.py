"""Dashboard login (the ``auth-token`` cookie of seed 001), logout and the principal."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from callwright.api.deps import (
    AUTH_COOKIE,
    CSRF_COOKIE,
    AccountsDep,
    CurrentAuthSession,
    CurrentPrincipal,
    StateDep,
)
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.accounts.schemas import (
    ApiKeyOut,
    LoginIn,
    LoginOut,
    MeOut,
    OrganizationOut,
    UserOut,
)
from callwright.domain.accounts.service import normalise_email
from callwright.errors import RateLimited

__all__ = ["router"]

router = APIRouter(tags=["auth"], route_class=CallwrightRoute)


@router.post("/auth/login", operation_id="login", responses=errors(401, 422))
async def login(
    body: LoginIn, request: Request, response: Response, accounts: AccountsDep, state: StateDep
) -> LoginOut:
    """Log in with email and password. Sets the HTTP-only ``auth-token`` cookie and a
    readable ``csrf-token`` cookie; cookie-authenticated writes must send the latter
    back in the ``X-CSRF-Token`` header. Attempts are limited per address and email."""
    if state.settings.rate_limit_enabled:
        address = request.client.host if request.client else "unknown"
        decision = await state.rate_limiter.hit(
            f"login:{address}:{normalise_email(body.email)}",
            state.settings.rate_limit_login_per_minute,
        )
        if not decision.allowed:
            raise RateLimited(
                f"too many login attempts: retry in {decision.retry_after_seconds} s",
                retry_after_seconds=decision.retry_after_seconds,
            )
    ttl = timedelta(hours=state.settings.session_ttl_hours)
    result = await accounts.login(body.email, body.password, ttl)
    secure = state.settings.is_production
    max_age = int(ttl.total_seconds())
    response.set_cookie(
        AUTH_COOKIE,
        result.token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        result.csrf_token,
        max_age=max_age,
        httponly=False,
        secure=secure,
        samesite="lax",
    )
    return LoginOut(
        user=UserOut.model_validate(result.user, from_attributes=True),
        organization=OrganizationOut.model_validate(result.organization, from_attributes=True),
        csrf_token=result.csrf_token,
        expires_at=result.auth_session.expires_at,
    )


@router.post("/auth/logout", operation_id="logout", status_code=204, responses=errors(401, 403))
async def logout(
    response: Response, accounts: AccountsDep, auth_session: CurrentAuthSession
) -> None:
    """End the cookie session (a no-op for API-key callers)."""
    if auth_session is not None:
        await accounts.logout(auth_session)
    response.delete_cookie(AUTH_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.get("/api/v1/me", operation_id="get_me", responses=errors(401))
async def me(principal: CurrentPrincipal, accounts: AccountsDep) -> MeOut:
    """The authenticated principal: user, organization, method and scope."""
    user, organization, api_key = await accounts.describe(principal)
    return MeOut(
        user=UserOut.model_validate(user, from_attributes=True),
        organization=OrganizationOut.model_validate(organization, from_attributes=True),
        auth_method=principal.auth_method,
        scope=principal.scope,
        api_key=ApiKeyOut.model_validate(api_key, from_attributes=True) if api_key else None,
    )
