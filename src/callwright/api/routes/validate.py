"""``POST /api/v1/assistants/{id}/validate``: whether every provider an assistant
configures has what it needs, and where each value comes from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep
from callwright.api.openapi import errors
from callwright.api.routes.assistants import AssistantIdPath
from callwright.api.routing import CallwrightRoute
from callwright.domain.credentials.checks import AssistantValidator
from callwright.domain.credentials.schemas import AssistantValidation

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/assistants", tags=["assistants"], route_class=CallwrightRoute)


async def get_validator(
    session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> AssistantValidator:
    return AssistantValidator(session, principal, state.secret_box, state.settings)


ValidatorDep = Annotated[AssistantValidator, Depends(get_validator)]


@router.post(
    "/{assistant_id}/validate",
    operation_id="validate_assistant",
    responses=errors(401, 404, 422),
)
async def validate_assistant(
    assistant_id: AssistantIdPath, validator: ValidatorDep
) -> AssistantValidation:
    """Check each provider the assistant configures (the LLM and its enabled fallbacks,
    the transcriber, the voice, embeddings when retrieval is on, Twilio for its numbers):
    what it needs, what is missing, and whether its key comes from the assistant, the
    organization's credentials, the server's environment or an offline model. ``ok`` is
    false when anything is missing; nothing is changed."""
    return await validator.validate(assistant_id)
