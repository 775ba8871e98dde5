"""Rules for organizations, users, API keys and dashboard sessions.

Services flush but never commit: the request's unit of work commits once.

An API key's successful authentication is kept for a few seconds by an ``ApiKeyCache``
(one per app, so per database): without it every API request paid two queries before
doing anything. Revoking a key drops it from this process's caches when the revoking
transaction commits; other server processes stop accepting it within
``API_KEY_CACHE_TTL_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import KeyScope, Principal
from callwright.errors import Conflict, Forbidden, NotFound, Unauthorized
from callwright.security.passwords import hash_password, verify_password
from callwright.security.tokens import digest, display_prefix, new_api_key, new_session_token
from callwright.store.base import utcnow
from callwright.store.cache import CacheFamily, ExpiringCache
from callwright.store.models import ApiKey, AuthSession, Organization, User

from .repository import AccountsRepository, ApiKeyRepository

__all__ = [
    "API_KEY_CACHE_TTL_S",
    "AccountsService",
    "ApiKeyCache",
    "LoginResult",
    "normalise_email",
]

# last_used_at is a hint, not an audit log: write it at most once a minute per key.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a successful API-key authentication is reused without asking the database:
# the longest a revocation (or a user's deactivation) made by another server process, or
# straight in the database, goes unnoticed by this one.
API_KEY_CACHE_TTL_S = 5.0
_API_KEYS: CacheFamily[str] = CacheFamily()


class ApiKeyCache(ExpiringCache[str, Principal]):
    """Principals of API keys that authenticated lately, by the key's SHA-256 digest
    (never the key itself). Only successes are kept: a wrong or revoked key costs its
    query every time. A revocation committed in this process drops the key from every
    cache at once (``store.cache``). The entry holds exactly the principal the database
    read built (organization, user, scope, key id), and a digest belongs to one key, so
    tenancy is what it was."""

    def __init__(
        self, *, ttl_s: float = API_KEY_CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(_API_KEYS, ttl_s=ttl_s, clock=clock)


@dataclass(frozen=True, slots=True)
class LoginResult:
    auth_session: AuthSession
    user: User
    organization: Organization
    token: str
    csrf_token: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


class AccountsService:
    def __init__(self, session: AsyncSession, key_cache: ApiKeyCache | None = None) -> None:
        self._session = session
        self._accounts = AccountsRepository(session)
        self._key_cache = key_cache

    async def create_organization(
        self, name: str, *, max_concurrent_calls: int | None = None
    ) -> Organization:
        """A new organization; ``max_concurrent_calls`` is its concurrent-call limit
        (the server's ``organization_max_concurrent_calls``; None: unlimited)."""
        return await self._accounts.add_organization(
            name, max_concurrent_calls=max_concurrent_calls
        )

    async def create_user(self, organization_id: int, email: str, password: str | None) -> User:
        if await self._accounts.get_organization(organization_id) is None:
            raise NotFound(f"organization {organization_id} does not exist")
        email = normalise_email(email)
        if await self._accounts.get_user_by_email(email) is not None:
            raise Conflict(f"a user with email {email} already exists")
        password_hash = await hash_password(password) if password else None
        try:
            return await self._accounts.add_user(organization_id, email, password_hash)
        except IntegrityError as exc:
            raise Conflict(f"a user with email {email} already exists") from exc

    async def get_user_by_email(self, email: str) -> User | None:
        return await self._accounts.get_user_by_email(normalise_email(email))

    async def issue_api_key(
        self, organization_id: int, user_id: int, name: str, scope: KeyScope
    ) -> tuple[ApiKey, str]:
        """Create a key; the plaintext is returned here and never again."""
        key = new_api_key()
        row = await self._accounts.add_api_key(
            organization_id, user_id, name, display_prefix(key), digest(key), scope
        )
        return row, key

    async def create_api_key(
        self, principal: Principal, name: str, scope: KeyScope
    ) -> tuple[ApiKey, str]:
        if principal.scope == "user" and scope != "user":
            raise Forbidden("a user-scoped key can only create user-scoped keys")
        return await self.issue_api_key(principal.organization_id, principal.user_id, name, scope)

    async def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        return list(await ApiKeyRepository(self._session, principal).list())

    async def revoke_api_key(self, principal: Principal, key_id: int) -> ApiKey:
        """Revoke in the caller's transaction. This process's key caches drop the key when
        it commits (not before: a read in between could cache it again); even when it was
        already revoked, in case another process did it within the caches' TTL."""
        key = await ApiKeyRepository(self._session, principal).get(key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await self._session.flush()
        _API_KEYS.invalidate_after_commit(self._session, key.key_hash)
        return key

    async def authenticate_api_key(self, presented: str) -> Principal:
        """The key's principal: from the key cache when it authenticated there lately,
        else from the database (which refreshes the cache)."""
        key_hash = digest(presented)
        cache = self._key_cache
        if cache is None:
            return await self._authenticate_api_key_hash(key_hash)
        principal = cache.get(key_hash)
        if principal is None:
            generation = cache.generation
            principal = await self._authenticate_api_key_hash(key_hash)
            cache.store(key_hash, principal, generation)
        return principal

    async def _authenticate_api_key_hash(self, key_hash: str) -> Principal:
        key = await self._accounts.get_api_key_by_hash(key_hash)
        if key is None or key.revoked_at is not None:
            raise Unauthorized("invalid or revoked API key")
        user = await self._accounts.get_user(key.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the API key's user is inactive")
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
            key.last_used_at = now
            await self._session.flush()
        scope: KeyScope = "user" if key.scope == "user" else "organization"
        return Principal(
            organization_id=key.organization_id,
            user_id=key.user_id,
            scope=scope,
            auth_method="api_key",
            api_key_id=key.id,
        )

    async def login(self, email: str, password: str, ttl: timedelta) -> LoginResult:
        user = await self._accounts.get_user_by_email(normalise_email(email))
        # Verify against a dummy hash when the user is unknown: same cost either way.
        valid = await verify_password(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            raise Unauthorized("invalid email or password")
        organization = await self._accounts.get_organization(user.organization_id)
        assert organization is not None  # the foreign key guarantees it
        token, csrf_token = new_session_token(), new_session_token()
        auth_session = await self._accounts.add_auth_session(
            user.id, digest(token), digest(csrf_token), utcnow() + ttl
        )
        return LoginResult(auth_session, user, organization, token, csrf_token)

    async def authenticate_session(self, token: str) -> tuple[Principal, AuthSession]:
        auth_session = await self._accounts.get_auth_session_by_hash(digest(token))
        now = utcnow()
        if (
            auth_session is None
            or auth_session.revoked_at is not None
            or auth_session.expires_at <= now
        ):
            raise Unauthorized("the session has expired or was logged out; log in again")
        user = await self._accounts.get_user(auth_session.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the session's user is inactive")
        principal = Principal(
            organization_id=user.organization_id,
            user_id=user.id,
            scope="organization",
            auth_method="session",
            session_id=auth_session.id,
        )
        return principal, auth_session

    async def logout(self, auth_session: AuthSession) -> None:
        auth_session.revoked_at = utcnow()
        await self._session.flush()

    async def describe(self, principal: Principal) -> tuple[User, Organization, ApiKey | None]:
        user = await self._accounts.get_user(principal.user_id)
        organization = await self._accounts.get_organization(principal.organization_id)
        if user is None or organization is None:
            raise Unauthorized("the principal's user or organization no longer exists")
        api_key = None
        if principal.api_key_id is not None:
            api_key = await ApiKeyRepository(self._session, principal).get(principal.api_key_id)
        return user, organization, api_key

    async def has_any_organization(self) -> bool:
        return await self._accounts.any_organization()
