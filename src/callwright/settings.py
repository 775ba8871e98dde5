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
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callwright.errors import InternalError

__all__ = ["Environment", "Settings", "SettingsError"]

_MIN_SECRET_KEY_LENGTH = 32
# Values people paste from examples; never accepted in production.
_KNOWN_WEAK_KEYS = frozenset({"change-me", "changeme", "secret", "dev", "development"})


def _env(*names: str) -> AliasChoices:
    """``CALLWRIGHT_<first name>``, then the vendor's own variable names."""
    return AliasChoices(f"CALLWRIGHT_{names[0]}", *names)


class SettingsError(InternalError):
    """The configuration cannot be used; the message says what to change."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Everything the process needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="CALLWRIGHT_", extra="ignore")
    # resolved_secret_key's read of the development key file, with the directory it read.
    _key_file_read: tuple[Path, str] | None = PrivateAttr(default=None)

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

    # Webhooks (the durable outbox, decision 008). A failed delivery is retried after
    # base·2^(n−1) seconds (upper half random), at most max_delay apart, and given up
    # ("failed") after max_attempts; the defaults cover a receiver down for ~10 hours.
    webhook_delivery_enabled: bool = True
    webhook_retry_base_delay_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_delay_seconds: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=20, ge=1, le=1000)
    # How often a server looks for due events written by other processes or retries;
    # events enqueued in this process are picked up at once.
    webhook_poll_interval_seconds: float = Field(default=2.0, gt=0)
    webhook_delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    webhook_max_concurrent_deliveries: int = Field(default=4, ge=1, le=64)
    # Campaigns: every process runs a scheduler unless disabled; it looks for work this
    # often (rows due, calls ended) and dials through this server's public_url.
    campaign_scheduler_enabled: bool = True
    campaign_poll_interval_seconds: float = Field(default=2.0, gt=0)
    # Post-call analysis (an assistant's analysis_plan): the end-of-call report waits
    # up to analysis_wait_s for it, then goes without it.
    analysis_enabled: bool = True
    analysis_wait_s: float = Field(default=15.0, ge=0, le=600)
    analysis_max_concurrent: int = Field(default=2, ge=1, le=64)
    analysis_max_attempts: int = Field(default=5, ge=1, le=100)
    analysis_retry_base_delay_seconds: float = Field(default=30.0, gt=0)
    analysis_lease_seconds: float = Field(default=300.0, gt=0)
    analysis_poll_interval_seconds: float = Field(default=5.0, gt=0)
    # Test runs of assistants' test suites (simulated calls, off the request): each
    # process runs up to test_runs_max_concurrent runs, one test at a time per run.
    test_runs_enabled: bool = True
    test_runs_max_concurrent: int = Field(default=1, ge=1, le=16)
    test_runs_lease_seconds: float = Field(default=3600.0, gt=0)
    test_runs_poll_interval_seconds: float = Field(default=5.0, gt=0)
    # Serve migrates the database itself when true; the embedded SQLite default does.
    auto_migrate: bool | None = None

    # Calls. ``public_url`` is how carriers and browsers reach this server (TwiML stream
    # URLs and Twilio's request signatures are built from it); unset, each request's own
    # scheme and host are used, which is right unless a proxy rewrites the Host header.
    public_url: str | None = None
    # Calls this process holds at once; beyond it new calls are refused (busy / 503)
    # rather than degrading the calls already up.
    max_concurrent_calls: int = Field(default=50, ge=1)
    # The concurrent-call limit a new organization starts with, across every process
    # and node (None: unlimited); each organization changes its own through
    # PATCH /api/v1/organization.
    organization_max_concurrent_calls: int | None = Field(default=None, ge=1)
    twilio_api_base_url: str = "https://api.twilio.com"
    # How long a carrier or browser has to open a call's media stream after it is issued.
    stream_token_ttl_s: int = Field(default=300, ge=5)
    # Each server process (node) refreshes its heartbeat this often; one silent for
    # node_expiry_s is taken for dead and its calls are ended by the others' sweep.
    node_heartbeat_interval_s: float = Field(default=5.0, gt=0)
    node_expiry_s: float = Field(default=30.0, gt=0)
    # SIGTERM drains a process (runtime.drain): new calls are refused, calls in progress
    # have drain_timeout_s to end before they are ended with server-shutdown (after
    # their end-call message), then their webhooks drain_webhooks_timeout_s to go out.
    drain_timeout_s: float = Field(default=30.0, ge=0)
    drain_webhooks_timeout_s: float = Field(default=10.0, ge=0)
    # Observability: Prometheus text at /metrics (protect it with a token, or keep it
    # behind the firewall); logs as text or one JSON object per line.
    metrics_enabled: bool = True
    metrics_token: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    # How long the recording link in an end-of-call report stays valid.
    recording_link_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    # Offline models: load them at start-up rather than on the first call.
    warm_up_models: bool = False
    # Silero VAD frames of all calls queued within this window run as one batch (cheaper
    # per call under load; a VAD decision is 32 ms coarse anyway). 0: no waiting.
    vad_batch_window_ms: float = Field(default=5.0, ge=0, le=20)
    # Every this many seconds the process gives the memory it freed back to the system
    # (glibc's malloc_trim, runtime/heap.py; decision 026): without it the resident size
    # stays at the most the process ever held. 0: never.
    heap_trim_interval_s: float = Field(default=30.0, ge=0)

    # The outbound-URL policy (security/outbound.py) for every URL a user gives the server
    # to call (webhooks, end_call_url, tools, an assistant's or organization's provider
    # base_url, knowledge URLs): https only, never an internal address. Allowed hosts
    # (comma-separated host names, addresses or networks, each host with an optional
    # port: "ollama.internal:11434, 10.0.0.0/8") may be internal and may use http://;
    # outbound_allow_http allows http:// to public hosts too.
    outbound_allowed_hosts: str = ""
    outbound_allow_http: bool = False

    # Knowledge documents are parsed in a worker process per document, never in the
    # server's: its address space in MiB (RLIMIT_AS) and CPU seconds (RLIMIT_CPU; it is
    # killed after twice that in wall-clock time). A document over either fails with
    # the limit named. The unpacked limit counts the bytes decompressed from a DOCX as
    # they are read (the zip's declared sizes are not trusted).
    knowledge_parser_memory_mb: int = Field(default=1024, ge=64, le=65_536)
    knowledge_parser_time_limit_s: int = Field(default=120, ge=1, le=3600)
    knowledge_max_unpacked_bytes: int = Field(default=100 * 1024 * 1024, ge=1024 * 1024)

    # Cloud providers: the server-wide keys, the last resort after an assistant's own key
    # and its organization's stored credential (decision 010). Each key is also read
    # from the vendor's conventional variable; base URLs point a vendor elsewhere (a
    # proxy, a regional or self-hosted endpoint, a test fake) and default to the vendor.
    openai_api_key: str | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    anthropic_api_key: str | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"))
    gemini_api_key: str | None = Field(
        None, validation_alias=_env("GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    groq_api_key: str | None = Field(None, validation_alias=_env("GROQ_API_KEY"))
    xai_api_key: str | None = Field(None, validation_alias=_env("XAI_API_KEY"))
    deepgram_api_key: str | None = Field(None, validation_alias=_env("DEEPGRAM_API_KEY"))
    assemblyai_api_key: str | None = Field(None, validation_alias=_env("ASSEMBLYAI_API_KEY"))
    elevenlabs_api_key: str | None = Field(None, validation_alias=_env("ELEVENLABS_API_KEY"))
    cartesia_api_key: str | None = Field(None, validation_alias=_env("CARTESIA_API_KEY"))
    azure_speech_key: str | None = Field(None, validation_alias=_env("AZURE_SPEECH_KEY"))
    azure_speech_region: str | None = Field(None, validation_alias=_env("AZURE_SPEECH_REGION"))
    # Vendors with no field of their own (``providers.vendors`` names their variables,
    # e.g. PLAYHT_API_KEY) read them from the environment the settings were read from.
    provider_environment: dict[str, str] = Field(
        default_factory=lambda: dict(os.environ), repr=False, exclude=True
    )
    # An OpenAI-compatible server for llm_provider "custom" (Ollama, vLLM, llama.cpp).
    custom_llm_base_url: str | None = None
    custom_llm_api_key: str | None = None
    # The SDKs' own variables are honoured, so that setting them means the same here.
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    anthropic_base_url: str | None = Field(None, validation_alias=_env("ANTHROPIC_BASE_URL"))
    gemini_base_url: str | None = None
    groq_base_url: str | None = None
    xai_base_url: str | None = None
    deepgram_base_url: str | None = None
    assemblyai_base_url: str | None = None
    elevenlabs_base_url: str | None = None
    cartesia_base_url: str | None = None
    azure_tts_base_url: str | None = None
    # Recordings: a local folder (data_dir/recordings) unless an S3 bucket is set.
    recordings_s3_bucket: str | None = None
    recordings_s3_prefix: str = "recordings"
    recordings_s3_endpoint_url: str | None = None
    recordings_s3_region: str | None = None
    recordings_s3_access_key_id: str | None = None
    recordings_s3_secret_access_key: str | None = None

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
    def _node_expiry_outlasts_heartbeats(self) -> Settings:
        if self.node_expiry_s < 2 * self.node_heartbeat_interval_s:
            raise SettingsError(
                f"CALLWRIGHT_NODE_EXPIRY_S ({self.node_expiry_s}) must be at least twice "
                f"CALLWRIGHT_NODE_HEARTBEAT_INTERVAL_S ({self.node_heartbeat_interval_s}): "
                "a node one heartbeat late would be taken for dead"
            )
        return self

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
        # The file is read once per settings object (the app does it at start-up), not
        # on every stream token or signed link: it never changes under a running server.
        cached = self._key_file_read
        if cached is not None and cached[0] == self.data_dir:
            return cached[1]
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
        self._key_file_read = (self.data_dir, key)
        return key
