"""Rules of the Credential resource: which fields each provider takes, one live
credential per provider per organization, secrets encrypted and masked, soft delete.

Only organization-scoped keys may write: a credential serves every assistant of the
organization, which a user-scoped key cannot otherwise reach. Any key may read the
(masked) list, to see what its assistants can rely on.

A Twilio credential is proven before it is stored: Twilio must accept its AccountSid and
AuthToken (a claimed AccountSid with a made-up token is refused, 422), and when Twilio
cannot be reached nothing is stored (``TwilioUnavailable``, 502).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.domain.secrets import (
    decrypt_secrets,
    encrypt_secrets,
    mask_secrets,
    restore_masked_secrets,
)
from callwright.domain.validation import check_outbound_urls, summary, validate_as
from callwright.errors import Conflict, Forbidden, NotFound, ValidationFailed
from callwright.providers.vendors import CATALOG
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import ProviderCredential
from callwright.transports.twilio.rest import TwilioAuthenticationFailed, TwilioClient

from .repository import CredentialRepository
from .schemas import IDENTITY_FIELDS, CredentialIn

__all__ = ["CredentialService", "StoredCredential", "check_fields", "prove_twilio_credentials"]

_TWILIO = frozenset({"account_sid", "auth_token"})
_FIELDS = ("api_key", "base_url", "region", "account_sid", "auth_token", *IDENTITY_FIELDS)


def _rules(provider: str) -> tuple[frozenset[str], frozenset[str]]:
    """The fields a provider's credential requires and the ones it accepts."""
    account = CATALOG.account(provider)
    if account is None:  # twilio
        return _TWILIO, _TWILIO
    return frozenset(account.required), frozenset(account.fields)


def _detail(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind, "loc": ["body", field]}


def check_fields(provider: str, document: dict[str, Any]) -> None:
    """Refuse (422, naming each field) what ``provider`` does not take or lacks."""
    required, accepted = _rules(provider)
    details = []
    for name in _FIELDS:
        present = document.get(name) is not None
        if name in required and not present:
            details.append(_detail(name, f"required for {provider} credentials", "missing"))
        elif present and name not in accepted:
            takes = ", ".join(sorted(accepted))
            message = f"not used by {provider} credentials (they take {takes})"
            details.append(_detail(name, message, "extra_forbidden"))
    account = CATALOG.account(provider)
    regional = account is not None and account.needs_region
    if regional and document.get("region") is None and document.get("base_url") is None:
        label = account.label if account is not None else provider
        message = f"{provider} credentials need the {label} region (e.g. eastus) or a base_url"
        details.append(_detail("region", message, "missing"))
    if details:
        raise ValidationFailed(summary(details), details=details)


@dataclass(frozen=True, slots=True)
class StoredCredential:
    row: ProviderCredential
    config: dict[str, Any]  # decrypted: never render this directly

    def public(self) -> dict[str, Any]:
        """The resource, secrets masked."""
        masked = mask_secrets(self.config)
        return {
            "id": self.row.id,
            "organization_id": self.row.organization_id,
            "provider": self.row.provider,
            **{name: masked.get(name) for name in _FIELDS},
            "created_at": self.row.created_at,
            "updated_at": self.row.updated_at,
        }


async def prove_twilio_credentials(config: dict[str, Any], settings: Settings) -> None:
    """Refuse (422, naming ``auth_token``) an AccountSid and AuthToken that Twilio does
    not accept; Twilio out of reach propagates as ``TwilioUnavailable``."""
    try:
        async with TwilioClient(
            config["account_sid"], config["auth_token"], base_url=settings.twilio_api_base_url
        ) as client:
            await client.fetch_account()
    except TwilioAuthenticationFailed as exc:
        message = (
            f"Twilio refused these credentials: auth_token is not the AuthToken of account "
            f"{config['account_sid']}"
        )
        raise ValidationFailed(
            message, details=[_detail("auth_token", message, "refused")]
        ) from exc


class CredentialService:
    def __init__(
        self, session: AsyncSession, principal: Principal, box: SecretBox, settings: Settings
    ) -> None:
        self._principal = principal
        self._box = box
        self._settings = settings
        # An endpoint stored beside a key is a user's URL (security.outbound).
        self._outbound = OutboundPolicy.from_settings(settings)
        self._credentials = CredentialRepository(session, principal)

    # -- reading ---------------------------------------------------------------------

    def _load(self, row: ProviderCredential) -> StoredCredential:
        return StoredCredential(row, decrypt_secrets(dict(row.config), self._box))

    async def _find(self, credential_id: int, *, for_update: bool = False) -> ProviderCredential:
        row = await self._credentials.get(credential_id, for_update=for_update)
        if row is None:
            raise NotFound(f"credential {credential_id} not found")
        return row

    async def get(self, credential_id: int) -> StoredCredential:
        return self._load(await self._find(credential_id))

    async def list(self) -> list[StoredCredential]:
        return [self._load(row) for row in await self._credentials.list()]

    # -- writing ---------------------------------------------------------------------

    def _check_scope(self) -> None:
        if self._principal.scope != "organization":
            raise Forbidden(
                "only an organization-scoped key can change the organization's credentials"
            )

    async def _store(
        self, row: ProviderCredential, config: dict[str, Any], *, new: bool
    ) -> StoredCredential:
        row.config = encrypt_secrets(config, self._box)
        row.updated_at = utcnow()
        # Two concurrent creates for one provider both pass the check; the index decides.
        try:
            if new:
                await self._credentials.add(row)
            else:
                await self._credentials.flush()
        except IntegrityError as exc:
            raise _duplicate(row.provider) from exc
        return self._load(row)

    async def create(self, document: dict[str, Any]) -> StoredCredential:
        self._check_scope()
        # Nothing is stored yet, so a masked value here can only be a mistake.
        body = validate_as(CredentialIn, restore_masked_secrets(document, {}))
        config = body.model_dump(exclude={"provider"}, exclude_none=True)
        check_fields(body.provider, config)
        check_outbound_urls(body, self._outbound)
        if await self._credentials.provider_in_use(body.provider):
            raise _duplicate(body.provider)
        if body.provider == "twilio":
            await prove_twilio_credentials(config, self._settings)
        row = ProviderCredential(
            organization_id=self._principal.organization_id,
            provider=body.provider,
            created_at=utcnow(),
        )
        return await self._store(row, config, new=True)

    async def update(self, credential_id: int, patch: dict[str, Any]) -> StoredCredential:
        """PATCH: the fields sent replace the stored ones; null removes one."""
        self._check_scope()
        row = await self._find(credential_id, for_update=True)
        provider = patch.pop("provider", None)
        if provider is not None and provider != row.provider:
            message = f"a {row.provider} credential cannot become {provider}: create a new one"
            raise ValidationFailed(message, details=[_detail("provider", message, "immutable")])
        stored = self._load(row).config
        merged = {**stored, **restore_masked_secrets(patch, stored)}
        body = validate_as(CredentialIn, {**merged, "provider": row.provider})
        config = body.model_dump(exclude={"provider"}, exclude_none=True)
        check_fields(row.provider, config)
        check_outbound_urls(body, self._outbound)
        if row.provider == "twilio" and config != stored:
            await prove_twilio_credentials(config, self._settings)
        return await self._store(row, config, new=False)

    async def delete(self, credential_id: int) -> None:
        """Soft delete: assistants fall back to the server's environment at once."""
        self._check_scope()
        row = await self._find(credential_id, for_update=True)
        row.deleted_at = utcnow()
        await self._credentials.flush()


def _duplicate(provider: str) -> Conflict:
    return Conflict(
        f"the organization already has a {provider} credential: change it with PATCH "
        "or delete it first"
    )
