"""The secret that signs an organization's outgoing requests: webhooks, tool calls and
the end-call URL, all with one scheme (``engine.tools.sign``; decisions 007 and 008).

Until an organization rotates it, the secret is derived from the server's secret key
(nothing stored, every node agrees); rotating stores a random one, encrypted. The API
shows it whole — receivers need it to verify — but only to organization-scoped keys.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.errors import Forbidden, NotFound
from callwright.security.crypto import SecretBox, organization_signing_secret
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import Organization

__all__ = [
    "SigningSecret",
    "SigningSecretService",
    "rotate_signing_secret",
    "signing_secret_for",
]

_SECRET_BYTES = 32


@functools.lru_cache(maxsize=8)
def _box(secret_key: str) -> SecretBox:
    return SecretBox(secret_key)


async def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    # Development reads (or creates) the key file: file I/O stays off the loop.
    return await asyncio.to_thread(settings.resolved_secret_key)


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
    key = await _secret_key(settings)
    stored: str | None = row[0]
    if stored:
        return SigningSecret(_box(key).decrypt(stored), "rotated")
    return SigningSecret(organization_signing_secret(key, organization_id), "derived")


async def signing_secret_for(
    session: AsyncSession, settings: Settings, organization_id: int
) -> str:
    """The HMAC key for ``organization_id``'s outgoing requests, for the runtime (no
    principal involved). Raises ``SecretDecryptionError`` if the server's secret key
    changed since the secret was rotated."""
    return (await _current(session, settings, organization_id)).secret


async def rotate_signing_secret(
    session: AsyncSession, settings: Settings, organization_id: int
) -> str:
    """Store a new random secret (encrypted) in the caller's transaction; it signs
    everything sent after the commit. Returns it in clear."""
    secret = secrets.token_hex(_SECRET_BYTES)
    encrypted = _box(await _secret_key(settings)).encrypt(secret)
    result = await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(signing_secret=encrypted, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise NotFound(f"organization {organization_id} not found")
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
