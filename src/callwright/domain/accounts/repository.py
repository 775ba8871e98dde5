"""Queries for organizations, users, API keys and sessions.

Look-ups by token digest are the only unscoped queries: they are how a principal comes
to exist. Everything else is filtered by the principal's organization (and user, for
user-scoped keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import ApiKey, AuthSession, Organization, User

__all__ = ["AccountsRepository", "ApiKeyRepository"]


class AccountsRepository:
    """Organizations, users and sessions (no principal yet: these create one)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_organization(
        self, name: str, *, max_concurrent_calls: int | None = None
    ) -> Organization:
        organization = Organization(name=name, max_concurrent_calls=max_concurrent_calls)
        self._session.add(organization)
        await self._session.flush()
        return organization

    async def get_organization(self, organization_id: int) -> Organization | None:
        return await self._session.get(Organization, organization_id)

    async def add_user(self, organization_id: int, email: str, password_hash: str | None) -> User:
        user = User(organization_id=organization_id, email=email, password_hash=password_hash)
        self._session.add(user)
        await self._session.flush()
        return user

    async def get_user(self, user_id: int) -> User | None:
        return await self._session.get(User, user_id)

    async def get_user_by_email(self, email: str) -> User | None:
        result = await self._session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def any_organization(self) -> bool:
        result = await self._session.execute(select(Organization.id).limit(1))
        return result.first() is not None

    async def add_auth_session(
        self, user_id: int, token_hash: str, csrf_token_hash: str, expires_at: datetime
    ) -> AuthSession:
        auth_session = AuthSession(
            user_id=user_id,
            token_hash=token_hash,
            csrf_token_hash=csrf_token_hash,
            expires_at=expires_at,
        )
        self._session.add(auth_session)
        await self._session.flush()
        return auth_session

    async def get_auth_session_by_hash(self, token_hash: str) -> AuthSession | None:
        result = await self._session.execute(
            select(AuthSession).where(AuthSession.token_hash == token_hash)
        )
        return result.scalar_one_or_none()

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        result = await self._session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
        return result.scalar_one_or_none()

    async def add_api_key(
        self,
        organization_id: int,
        user_id: int,
        name: str,
        prefix: str,
        key_hash: str,
        scope: str,
    ) -> ApiKey:
        api_key = ApiKey(
            organization_id=organization_id,
            user_id=user_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scope=scope,
        )
        self._session.add(api_key)
        await self._session.flush()
        return api_key


class ApiKeyRepository:
    """API keys visible to one principal."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[ApiKey]:
        query = select(ApiKey).where(ApiKey.organization_id == self._principal.organization_id)
        if self._principal.scope == "user":
            query = query.where(ApiKey.user_id == self._principal.user_id)
        return query

    async def list(self) -> Sequence[ApiKey]:
        result = await self._session.execute(self._visible().order_by(ApiKey.id.desc()))
        return result.scalars().all()

    async def get(self, key_id: int) -> ApiKey | None:
        result = await self._session.execute(self._visible().where(ApiKey.id == key_id))
        return result.scalar_one_or_none()
