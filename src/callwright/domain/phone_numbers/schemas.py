"""Phone number API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PhoneNumberIn", "PhoneNumberPatch", "PhoneNumberResponse"]

E164 = Annotated[
    str,
    Field(pattern=r"^\+[1-9][0-9]{1,14}$", description="The number in E.164 form."),
]
AccountSid = Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")]


class PhoneNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: E164
    provider: Literal["twilio"] = "twilio"
    assistant_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    twilio_account_sid: AccountSid | None = Field(
        default=None,
        description="The Twilio account that owns the number; defaults to the assistant's "
        "twilio_config account, then the organization's twilio credential.",
    )
    configure_webhook: bool = Field(
        default=False,
        description="Point the number's voice webhook at this server through Twilio's API.",
    )


class PhoneNumberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assistant_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    configure_webhook: bool = False


class PhoneNumberResponse(BaseModel):
    id: int
    organization_id: int
    user_id: int | None
    number: str
    provider: str
    twilio_account_sid: str
    assistant_id: int | None
    name: str | None
    voice_url: str
    status_callback_url: str
    created_at: datetime
    updated_at: datetime
