"""Calls API bodies: placing a phone call, starting a browser call, live control,
and the call record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callwright.store.call_status import CallStatus

__all__ = [
    "CallAnalysis",
    "CallAssistant",
    "CallIn",
    "CallResponse",
    "SayIn",
    "ToolLeftOut",
    "WebCallIn",
    "WebCallResponse",
]

E164 = Annotated[
    str,
    Field(pattern=r"^\+[1-9][0-9]{1,14}$", description="A phone number in E.164 form."),
]
Variables = Annotated[
    dict[str, Any],
    Field(
        default_factory=dict,
        description="Values for {{placeholders}} in the welcome message and prompt.",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallIn(_Strict):
    """An outbound phone call: the assistant calls ``customer_number`` from one of the
    organization's numbers."""

    assistant_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    phone_number_id: Annotated[int, Field(ge=1, le=2**63 - 1)] = Field(
        description="The organization's number to call from (its Twilio account places it)."
    )
    customer_number: E164
    variables: Variables
    assistant_overrides: Annotated[
        dict[str, Any],
        Field(
            default_factory=dict,
            description="Assistant settings for this call only, merged like a PATCH.",
        ),
    ]


class WebCallIn(_Strict):
    """A browser call: returns a one-time WebSocket URL for the page to connect to."""

    assistant_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    variables: Variables
    assistant_overrides: Annotated[dict[str, Any], Field(default_factory=dict)]


class WebCallResponse(BaseModel):
    call_id: int
    token: str
    ws_url: str


class SayIn(_Strict):
    message: Annotated[str, Field(min_length=1, max_length=2000)]
    end_call_after_spoken: bool = False


class ToolLeftOut(BaseModel):
    """One of the assistant's stored tools (``tool_ids``) the call could not use."""

    tool_id: int
    reason: str


class CallAssistant(BaseModel):
    """What a call's record keeps of its assistant: the user's own data for it."""

    name: str
    metadata: dict[str, Any]
    custom_settings: dict[str, Any]


class CallAnalysis(BaseModel):
    """What the analysis made of the call: ``status`` pending (queued or running),
    completed, failed (``error`` says which part and why; the other parts are kept) or
    skipped (``error`` says why)."""

    summary: str | None
    structured_data: Any
    success_evaluation: bool | int | str | None
    status: Literal["pending", "completed", "failed", "skipped"]
    error: str | None


class CallResponse(BaseModel):
    """A call and its record."""

    id: int
    organization_id: int
    assistant_id: int | None
    assistant_version: int | None = Field(
        default=None,
        description="The assistant version the call ran (GET /assistants/{id}/versions/{n}); "
        "null until the call starts.",
    )
    phone_number_id: int | None
    type: Literal["inboundPhoneCall", "outboundPhoneCall", "webCall"]
    direction: Literal["inbound", "outbound", "web"]
    status: CallStatus
    from_number: str | None
    to_number: str | None
    customer_number: str | None
    provider_call_id: str | None
    variables: dict[str, Any]
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    end_reason: str | None
    end_detail: str | None
    messages: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    knowledge: list[dict[str, Any]]
    tools_left_out: list[ToolLeftOut] = Field(
        description="The assistant's stored tools this call could not use (deleted, or "
        "not readable by the key that placed the call), and why."
    )
    assistant: CallAssistant | None = Field(
        description="The assistant as the call ran it (its overrides merged): name, "
        "metadata and custom_settings; null for a call that never reached it."
    )
    turns: list[dict[str, Any]]
    usage: dict[str, Any]
    providers: list[dict[str, Any]]
    recording_url: str | None
    analysis: CallAnalysis | None = Field(
        default=None,
        description="The post-call analysis, when the assistant has an analysis_plan.",
    )
    created_at: datetime
    updated_at: datetime
