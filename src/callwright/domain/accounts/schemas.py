"""Request and response bodies of the accounts endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from callwright.domain.principal import AuthMethod, KeyScope

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "LoginIn",
    "LoginOut",
    "MeOut",
    "OrganizationOut",
    "UserOut",
]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class OrganizationOut(BaseModel):
    id: int
    name: str
    created_at: datetime


class UserOut(BaseModel):
    id: int
    organization_id: int
    email: str
    is_active: bool
    created_at: datetime


class LoginOut(BaseModel):
    """The session cookie is set on the response; ``csrf_token`` must be echoed in the
    ``X-CSRF-Token`` header of every cookie-authenticated write."""

    user: UserOut
    organization: OrganizationOut
    csrf_token: str
    expires_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] = "default"
    scope: KeyScope = "organization"


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scope: KeyScope
    user_id: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """Returned once, on creation: ``key`` is never shown again."""

    key: str


class MeOut(BaseModel):
    user: UserOut
    organization: OrganizationOut
    auth_method: AuthMethod
    scope: KeyScope
    api_key: ApiKeyOut | None
