"""The secret that signs an organization's outgoing requests: webhooks, tool calls and
the end-call URL, all with one scheme (``security.signing``; decisions 007 and 008).

Until an organization rotates it, the secret is derived from the server's secret key
(nothing stored, every node agrees); rotating stores a random one, encrypted. The API
shows it whole — receivers need it to verify — but only to organization-scoped keys.

``signing_secret_for`` reads the secret in the caller's transaction. Code that signs
many requests (the webhook dispatcher) uses a ``SigningSecretCache`` instead: a few
seconds of staleness across processes buys one query per organization per few seconds
rather than one per request.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.principal import Principal
from callwright.errors import Forbidden, NotFound
from callwright.security.crypto import SecretBox
from callwright.security.signing import organization_signing_secret
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.cache import CacheFamily, ExpiringCache
from callwright.store.models import Organization

__all__ = [
    "CACHE_TTL_S",
    "SigningSecret",
    "SigningSecretCache",
    "SigningSecretService",
    "rotate_signing_secret",
    "signing_secret_for",
]

_SECRET_BYTES = 32
# How long a cached secret is used without asking the database: the longest a rotation
# made by another server process goes unnoticed by this one.
CACHE_TTL_S = 5.0
# Past this many organizations, expired entries are dropped before another is added.
_CACHE_PRUNE_AT = 1024


@functools.lru_cache(maxsize=8)
def _box(secret_key: str) -> SecretBox:
    return SecretBox(secret_key)


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """An organization's current signing secret and where it comes from."""

    secret: str
    source: Literal["derived", "rotated"]


async def _current(
    session: AsyncSession, settings: Settings, organization_id: int
) -> SigningSecret:
    query = select(Organization.signing_secret).where(Organization.id == organization_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"organization {organization_id} not found")
    key = settings.resolved_secret_key()
    stored: str | None = row[0]
    if stored:
        return SigningSecret(_box(key).decrypt(stored), "rotated")
    return SigningSecret(organization_signing_secret(key, organization_id), "derived")


async def signing_secret_for(
    session: AsyncSession, settings: Settings, organization_id: int
) -> str:
    """The HMAC key for ``organization_id``'s outgoing requests, for the runtime (no
    principal involved), as the caller's transaction sees it (never cached). Raises
    ``SecretDecryptionError`` if the server's secret key changed since the secret was
    rotated."""
    return (await _current(session, settings, organization_id)).secret


_SIGNING_SECRETS: CacheFamily[int] = CacheFamily()


class SigningSecretCache:
    """Organizations' current signing secrets as this process last read them, so that
    signing a request costs no query, key file read, HKDF or decryption (one per
    dispatcher: a cache belongs to one database, through its session factory).

    An entry is used for ``ttl_s`` seconds, so a rotation committed by another server
    process signs this one's requests within ``ttl_s``; one committed in this process
    (``rotate_signing_secret``) drops the organization from every cache at once
    (``store.cache``)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        ttl_s: float = CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._secrets: ExpiringCache[int, str] = ExpiringCache(
            _SIGNING_SECRETS, ttl_s=ttl_s, clock=clock, max_entries=_CACHE_PRUNE_AT
        )

    async def get(self, organization_id: int) -> str:
        """The organization's secret, read in a session of its own when not cached.
        Raises ``NotFound`` or ``SecretDecryptionError`` as ``signing_secret_for`` does;
        neither is cached, so the next request tries again."""
        secret = self._secrets.get(organization_id)
        if secret is not None:
            return secret
        generation = self._secrets.generation
        async with self._sessions() as session:
            secret = await signing_secret_for(session, self._settings, organization_id)
        self._secrets.store(organization_id, secret, generation)
        return secret


async def rotate_signing_secret(
    session: AsyncSession, settings: Settings, organization_id: int
) -> str:
    """Store a new random secret (encrypted) in the caller's transaction; it signs
    everything sent after the commit. Returns it in clear. This process's caches drop
    the old secret when the transaction commits — not before, or a read in between
    could cache the old secret again; other processes' caches within ``CACHE_TTL_S``."""
    secret = secrets.token_hex(_SECRET_BYTES)
    encrypted = _box(settings.resolved_secret_key()).encrypt(secret)
    result = await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(signing_secret=encrypted, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise NotFound(f"organization {organization_id} not found")
    _SIGNING_SECRETS.invalidate_after_commit(session, organization_id)
    return secret


class SigningSecretService:
    """The signing secret as the API shows it: organization-scoped keys only (a
    user-scoped key could otherwise forge any of the organization's webhooks)."""

    def __init__(self, session: AsyncSession, principal: Principal, settings: Settings) -> None:
        self._session = session
        self._principal = principal
        self._settings = settings

    def _check_scope(self) -> None:
        if self._principal.scope != "organization":
            raise Forbidden("only an organization-scoped key can read or rotate the signing secret")

    async def get(self) -> SigningSecret:
        self._check_scope()
        return await _current(self._session, self._settings, self._principal.organization_id)

    async def rotate(self) -> SigningSecret:
        self._check_scope()
        organization_id = self._principal.organization_id
        return SigningSecret(
            await rotate_signing_secret(self._session, self._settings, organization_id),
            "rotated",
        )
