"""Organization credentials (``/api/v1/credentials``) and the assistant validation report
(``POST /api/v1/assistants/{id}/validate``).

A credential holds what one vendor needs, for every assistant of the organization that
has no key of its own: an ``api_key`` (and optionally a ``base_url``; Azure also a
``region``; a vendor may name more, e.g. an account's ``user_id``: ``providers.vendors``),
or for Twilio an ``account_sid`` and ``auth_token``. Which fields a provider takes is
checked by the service, naming each field that is missing or not used.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from callwright.providers.vendors import CATALOG
from callwright.security.outbound import OUTBOUND_URL

__all__ = [
    "CREDENTIAL_PROVIDERS",
    "IDENTITY_FIELDS",
    "AssistantValidation",
    "CheckKind",
    "CredentialIn",
    "CredentialPatch",
    "CredentialProvider",
    "CredentialResponse",
    "EndpointSource",
    "ProviderCheck",
]

# The accounts an organization may store (providers.vendors), and the carrier.
CREDENTIAL_PROVIDERS = (*(a.name for a in CATALOG.accounts() if a.stored), "twilio")
if TYPE_CHECKING:
    CredentialProvider = str
else:
    CredentialProvider = Literal[CREDENTIAL_PROVIDERS]
# Fields that identify a vendor account beside its key (PlayHT's user_id, ...).
IDENTITY_FIELDS = tuple(
    dict.fromkeys(name for account in CATALOG.accounts() for name, _ in account.identity)
)

# Keys are pasted from dashboards; surrounding whitespace is never part of one.
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
# WebSocket vendors (Deepgram, ElevenLabs, ...) are also reachable as ws(s)://.
EndpointUrl = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=r"^(https?|wss?)://[^\s/?#]+[^\s]*$"),
    OUTBOUND_URL,
]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{2,40}$")]
AccountSid = Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")]
Identity = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class _CommonFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: Secret | None = Field(
        None, description="The vendor's API key (every provider but twilio). Encrypted, masked."
    )
    base_url: EndpointUrl | None = Field(
        None, description="Another endpoint for the vendor (a proxy, a region, self-hosted)."
    )
    region: Region | None = Field(
        None, description="Azure Speech region (e.g. eastus); azure only."
    )
    account_sid: AccountSid | None = Field(None, description="Twilio AccountSid; twilio only.")
    auth_token: Secret | None = Field(
        None, description="Twilio auth token; twilio only. Encrypted, masked."
    )


def _identity_fields() -> dict[str, Any]:
    users = {
        name: [account.name for account in CATALOG.accounts() if name in dict(account.identity)]
        for name in IDENTITY_FIELDS
    }
    return {
        name: (Identity | None, Field(None, description=f"{', '.join(users[name])} only."))
        for name in IDENTITY_FIELDS
    }


if TYPE_CHECKING:
    _CredentialFields = _CommonFields
else:
    _CredentialFields = create_model(
        "_CredentialFields", __base__=_CommonFields, **_identity_fields()
    )


class CredentialIn(_CredentialFields):
    """Body of create (POST): one credential per provider per organization."""

    provider: CredentialProvider


class CredentialPatch(_CredentialFields):
    """Body of PATCH: the fields sent replace the stored ones (null removes an optional
    one); a masked secret sent back keeps the stored secret. The provider cannot change."""

    provider: CredentialProvider | None = None


class _CredentialResponse(BaseModel):
    """A stored credential; ``api_key`` and ``auth_token`` are masked."""

    id: int
    organization_id: int
    provider: CredentialProvider
    api_key: str | None
    base_url: str | None
    region: str | None
    account_sid: str | None
    auth_token: str | None
    created_at: datetime
    updated_at: datetime


if TYPE_CHECKING:
    CredentialResponse = _CredentialResponse
else:
    CredentialResponse = create_model(
        "CredentialResponse",
        __base__=_CredentialResponse,
        __doc__=_CredentialResponse.__doc__,
        **dict.fromkeys(IDENTITY_FIELDS, (str | None, None)),
    )


CheckKind = Literal["llm", "llm-fallback", "stt", "tts", "embeddings", "realtime", "telephony"]
CheckSource = Literal["assistant", "organization", "environment", "offline"]
EndpointSource = Literal["assistant", "organization", "environment", "vendor"]


class ProviderCheck(BaseModel):
    """One provider the assistant uses: what it needs, what is missing, and where what
    it has comes from (``source`` of its key, or ``offline`` for an offline model)."""

    kind: CheckKind
    provider: str
    field: str = Field(description="The assistant setting that configures it.")
    ok: bool
    needs: list[str]
    missing: list[str]
    source: CheckSource | None
    endpoint_source: EndpointSource | None = Field(
        None,
        description="Where the endpoint its key is sent to comes from: the same place as "
        "the key, or the vendor's endpoint (the server's base URL for the vendor, else the "
        "vendor's public API). A key is never sent to an endpoint from anywhere else.",
    )
    message: str
    unsupported: list[str] = Field(
        default_factory=list,
        description="Settings changed from their defaults that this provider has no "
        "equivalent for (they do nothing with it), e.g. tts_settings.stability.",
    )


class AssistantValidation(BaseModel):
    """Whether every provider the assistant configures can serve a call as configured."""

    assistant_id: int
    ok: bool
    providers: list[ProviderCheck]
