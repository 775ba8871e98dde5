"""Process-wide settings, read once from the environment (prefix ``CALLWRIGHT_``).

``DATABASE_URL`` and ``REDIS_URL`` are also read without the prefix, as every hosting
platform sets them that way. Development mode runs on embedded defaults (a SQLite file
and a secret key file under ``data_dir``); production mode refuses to start without an
explicit secret key.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Environment", "Settings", "SettingsError"]

_MIN_SECRET_KEY_LENGTH = 32
# Values people paste from examples; never accepted in production.
_KNOWN_WEAK_KEYS = frozenset({"change-me", "changeme", "secret", "dev", "development"})


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Everything the process needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="CALLWRIGHT_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".callwright")
    database_url: Annotated[
        str | None,
        Field(validation_alias=AliasChoices("CALLWRIGHT_DATABASE_URL", "DATABASE_URL")),
    ] = None
    redis_url: Annotated[
        str | None,
        Field(validation_alias=AliasChoices("CALLWRIGHT_REDIS_URL", "REDIS_URL")),
    ] = None
    secret_key: str | None = None
    # Prefix of every Redis key, so that deployments can share one Redis.
    redis_namespace: str = Field(default="callwright", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    # Request budgets, in requests per minute (GCRA, so bursts up to the budget pass).
    rate_limit_per_key_per_minute: int = Field(default=600, ge=1)
    rate_limit_per_ip_per_minute: int = Field(default=1200, ge=1)
    # Password guesses per client address and email: far below the general budget.
    rate_limit_login_per_minute: int = Field(default=10, ge=1)
    rate_limit_enabled: bool = True
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)

    session_ttl_hours: int = Field(default=24 * 7, ge=1)
    # Serve migrates the database itself when true; the embedded SQLite default does.
    auto_migrate: bool | None = None

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Hosting platforms hand out postgres:// URLs; SQLAlchemy needs the async driver.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        return value

    @model_validator(mode="after")
    def _refuse_weak_production_key(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            key = self.secret_key
            if key is None or len(key) < _MIN_SECRET_KEY_LENGTH or key in _KNOWN_WEAK_KEYS:
                raise SettingsError(
                    "CALLWRIGHT_SECRET_KEY must be set to a random value of at least "
                    f"{_MIN_SECRET_KEY_LENGTH} characters in production "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(48))' makes one)"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'callwright.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.is_sqlite

    def resolved_secret_key(self) -> str:
        """The key that encrypts secrets at rest.

        In development without an explicit key, a random key is created once in
        ``data_dir/secret_key`` (mode 0600) so that no two installations share one.
        """
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
