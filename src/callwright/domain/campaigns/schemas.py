"""Campaign API bodies."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callwright.domain.types import E164_PATTERN

from .windows import DAYS, zone

__all__ = [
    "OUTCOMES",
    "CallingWindowIn",
    "CampaignIn",
    "CampaignPatch",
    "CampaignProgress",
    "CampaignResponse",
    "DoNotCallIn",
    "DoNotCallResponse",
    "RecipientResponse",
    "RecipientsReport",
    "RejectedRow",
    "RetryPolicy",
    "RetryRule",
    "check_timezone",
]

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
# The outcomes a call can have that a retry policy speaks of.
OUTCOMES = ("busy", "no-answer", "failed", "voicemail")


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA zone this server knows, else a ValueError naming it."""
    try:
        zone(name)
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like Europe/London"
        ) from exc
    return name


def _weekdays() -> list[Day]:
    return ["mon", "tue", "wed", "thu", "fri"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallingWindowIn(_Strict):
    """When calls may start, in each recipient's own time zone."""

    days: list[Day] = Field(default_factory=_weekdays, min_length=1, max_length=7)
    start: time = Field(default=time(9, 0), description="Local time calls may start from.")
    end: time = Field(default=time(17, 0), description="Local time no call starts at or after.")

    @model_validator(mode="after")
    def _ordered(self) -> CallingWindowIn:
        # Checked first: an aware time does not compare with a naive one.
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are local: give no UTC offset")
        if self.start >= self.end:
            raise ValueError("the window's start must be before its end (same day)")
        return self

    def stored(self) -> dict[str, object]:
        return {
            "days": sorted(set(self.days), key=DAYS.index),
            "start": self.start.isoformat("minutes"),
            "end": self.end.isoformat("minutes"),
        }


class RetryRule(_Strict):
    """How often, and after how long, an outcome is tried again."""

    max_retries: Annotated[int, Field(ge=0, le=10)] = 0
    retry_after_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600


class RetryPolicy(_Strict):
    """Retries per outcome; a completed call is never retried."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    busy: RetryRule = Field(
        default_factory=lambda: RetryRule(max_retries=2, retry_after_seconds=600)
    )
    no_answer: RetryRule = Field(
        default_factory=lambda: RetryRule(max_retries=2, retry_after_seconds=3600),
        alias="no-answer",
    )
    failed: RetryRule = Field(
        default_factory=lambda: RetryRule(max_retries=1, retry_after_seconds=600)
    )
    voicemail: RetryRule = Field(default_factory=RetryRule)

    def stored(self) -> dict[str, dict[str, int]]:
        return self.model_dump(by_alias=True)


class CampaignIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    assistant_id: Id
    phone_number_ids: list[Id] = Field(
        min_length=1,
        max_length=50,
        description="The organization's numbers to call from, used in turn.",
    )
    calling_window: CallingWindowIn = Field(default_factory=CallingWindowIn)
    default_timezone: str | None = Field(
        default=None,
        description="The zone of a recipient whose row has no timezone and whose number's "
        "country code is not in the table of representative zones.",
    )
    max_concurrency: Annotated[int, Field(ge=1, le=1000)] = 5
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("phone_number_ids")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("a number is listed twice")
        return value


class CampaignPatch(_Strict):
    """Changes to a campaign that is not running (draft or paused)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    assistant_id: Id | None = None
    phone_number_ids: list[Id] | None = Field(default=None, min_length=1, max_length=50)
    calling_window: CallingWindowIn | None = None
    default_timezone: str | None = None
    max_concurrency: Annotated[int, Field(ge=1, le=1000)] | None = None
    retry_policy: RetryPolicy | None = None

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("phone_number_ids")
    @classmethod
    def _distinct(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a number is listed twice")
        return value


class CampaignProgress(BaseModel):
    total: int = 0
    pending: int = 0
    in_progress: int = 0
    retrying: int = 0
    completed: int = 0
    failed: int = 0
    do_not_call: int = 0
    canceled: int = 0


class CampaignResponse(BaseModel):
    id: int
    organization_id: int
    user_id: int | None
    name: str
    assistant_id: int | None
    phone_number_ids: list[int]
    calling_window: dict[str, object]
    default_timezone: str | None
    max_concurrency: int
    retry_policy: dict[str, dict[str, int]]
    status: str
    progress: CampaignProgress
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RejectedRow(BaseModel):
    row: int = Field(description="1-based: the CSV line after the header, or the JSON index + 1.")
    number: str | None
    reason: str


class RecipientsReport(BaseModel):
    accepted: int
    rejected: list[RejectedRow]


class RecipientResponse(BaseModel):
    id: int
    position: int
    number: str
    timezone: str
    variables: dict[str, object]
    status: str
    attempts: int
    outcome: str | None
    detail: str | None
    next_attempt_at: datetime | None
    call_ids: list[int]
    updated_at: datetime


class DoNotCallIn(_Strict):
    number: Annotated[str, Field(pattern=E164_PATTERN, description="The number in E.164 form.")]
    reason: Annotated[str, Field(max_length=500)] | None = None


class DoNotCallResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    reason: str | None
    created_at: datetime
