"""Who is calling: the authenticated principal every repository filters by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["AuthMethod", "KeyScope", "Principal"]

AuthMethod = Literal["api_key", "session"]
KeyScope = Literal["organization", "user"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``scope`` is "organization" (sees every resource of the organization) or "user"
    (sees only resources its user owns; others answer 404, as seed 002 documents).
    """

    organization_id: int
    user_id: int
    scope: KeyScope
    auth_method: AuthMethod
    api_key_id: int | None = None
    session_id: int | None = None

    @property
    def rate_limit_identity(self) -> str:
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return f"session-user:{self.user_id}"
