"""The delivery log and signing secret as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SigningSecretOut",
    "WebhookDeliveryOut",
    "WebhookEventDetail",
    "WebhookEventOut",
    "WebhookEventStatus",
]

WebhookEventStatus = Literal["pending", "delivered", "failed"]


class WebhookEventOut(BaseModel):
    """One outbox event. ``id`` is the event id receivers see in
    ``X-Callwright-Event-Id``; ``next_attempt_at`` matters only while pending."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: str = Field(validation_alias="event_id", examples=["evt_3f0c5b1e9a8d4c2b8f7e6d5c4b3a2910"])
    call_id: int | None
    event_type: str = Field(examples=["end-of-call-report"])
    url: str
    status: WebhookEventStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookDeliveryOut(BaseModel):
    """One delivery attempt: the receiver's HTTP status, or why there was none."""

    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float
    created_at: datetime


class WebhookEventDetail(WebhookEventOut):
    """An event with the body it sends and every attempt so far, oldest first."""

    payload: dict[str, Any]
    deliveries: list[WebhookDeliveryOut]


class SigningSecretOut(BaseModel):
    """The organization's signing secret, and how requests carry the signature."""

    signing_secret: str
    source: Literal["derived", "rotated"] = Field(
        description="derived from the server's secret key until first rotated"
    )
    algorithm: Literal["HMAC-SHA256"] = "HMAC-SHA256"
    signed_content: str = "{timestamp}.{raw body}"
    signature_header: str
    timestamp_header: str
