"""The Assistants API (seeds 000 and 003), with the dialect views of seeds 001, 002
and 004 on Get and List (``?format=``), import from any dialect, and duplicate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from callwright.api.deps import AssistantsDep
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.assistants.dialects import DIALECTS
from callwright.domain.assistants.schemas import AssistantIn, AssistantPatch, AssistantResponse
from callwright.domain.assistants.service import StoredAssistant
from callwright.domain.validation import validate_as

__all__ = ["AssistantIdPath", "router", "single_view"]

router = APIRouter(prefix="/api/v1/assistants", tags=["assistants"], route_class=CallwrightRoute)

Format = Literal["canonical", "vapi", "envelope", "details"]
AssistantIdPath = Annotated[
    str,
    # No pattern here on purpose: a malformed id is a 400 from the service, not a 422.
    Path(description="The integer id, or the assistant's external_id.", max_length=200),
]
FormatQuery = Annotated[
    Format | None,
    Query(
        alias="format",
        description="Render in another vendor's shape: vapi (seed 001, camelCase), "
        "envelope (seed 002, {success, data}), details (seed 004, assistant_*).",
    ),
]

_ONE_MODELS: tuple[type[BaseModel], ...] = (
    AssistantResponse,
    *(dialect.one_model for dialect in DIALECTS.values()),
)
_LIST_MODELS: tuple[Any, ...] = (
    list[AssistantResponse],
    *(dialect.list_model for dialect in DIALECTS.values()),
)


def _canonical(stored: StoredAssistant) -> dict[str, Any]:
    return AssistantResponse.model_validate(stored.public()).model_dump(mode="json")


def single_view(stored: StoredAssistant, response_format: Format | None) -> JSONResponse:
    if response_format in (None, "canonical"):
        return JSONResponse(_canonical(stored))
    dialect = DIALECTS[response_format]
    return JSONResponse(
        dialect.one_model.model_validate(dialect.render(stored.public())).model_dump(mode="json")
    )


def _union(models: tuple[Any, ...]) -> Any:
    union: Any = models[0]
    for model in models[1:]:
        union = union | model
    return union


@router.get(
    "",
    operation_id="list_assistants",
    response_model=_union(_LIST_MODELS),
    responses=errors(401, 422),
)
async def list_assistants(
    assistants: AssistantsDep,
    skip: Annotated[int, Query(ge=0, le=2**31, description="Assistants to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    active_only: Annotated[bool, Query(description="Only active assistants.")] = False,
    my_assistants_only: Annotated[
        bool, Query(description="Only assistants created by the caller's user.")
    ] = False,
    my_assistants: Annotated[bool, Query(description="Alias of my_assistants_only.")] = False,
    name: Annotated[
        str | None,
        Query(
            max_length=200,
            # A NUL is no text a database stores (PostgreSQL refuses it): a 422, not a 500.
            pattern=r"^[^\x00]*$",
            description="Only assistants whose name contains this text (case-insensitive).",
        ),
    ] = None,
    response_format: FormatQuery = None,
) -> Response:
    """List the organization's assistants, newest first."""
    rows = await assistants.list(
        skip=skip,
        limit=limit,
        active_only=active_only,
        mine_only=my_assistants_only or my_assistants,
        name_contains=name,
    )
    if response_format in (None, "canonical"):
        return JSONResponse([_canonical(row) for row in rows])
    dialect = DIALECTS[response_format]
    rendered = dialect.render_list([row.public() for row in rows])
    return JSONResponse(dialect.list_model.model_validate(rendered).model_dump(mode="json"))


@router.post(
    "",
    operation_id="create_assistant",
    status_code=201,
    responses=errors(401, 403, 409, 422),
)
async def create_assistant(body: AssistantIn, assistants: AssistantsDep) -> AssistantResponse:
    """Create an assistant; fields left out take their documented defaults."""
    stored = await assistants.create(body)
    return AssistantResponse.model_validate(stored.public())


@router.post(
    "/import",
    operation_id="import_assistant",
    status_code=201,
    responses=errors(401, 403, 409, 422),
)
async def import_assistant(
    assistants: AssistantsDep,
    body: Annotated[dict[str, Any], Body(description="An assistant in the given format.")],
    source_format: Annotated[
        Format, Query(alias="format", description="The shape of the body.")
    ] = "canonical",
) -> AssistantResponse:
    """Create an assistant from another vendor's shape (or the canonical one)."""
    canonical = body if source_format == "canonical" else DIALECTS[source_format].to_canonical(body)
    stored = await assistants.create(validate_as(AssistantIn, canonical))
    return AssistantResponse.model_validate(stored.public())


@router.get(
    "/{assistant_id}",
    operation_id="get_assistant",
    response_model=_union(_ONE_MODELS),
    responses=errors(401, 404, 422),
)
async def get_assistant(
    assistant_id: AssistantIdPath, assistants: AssistantsDep, response_format: FormatQuery = None
) -> Response:
    """Retrieve one assistant by integer id or external_id."""
    return single_view(await assistants.get(assistant_id), response_format)


@router.put(
    "/{assistant_id}",
    operation_id="replace_assistant",
    responses=errors(401, 403, 404, 409, 422),
)
async def replace_assistant(
    assistant_id: AssistantIdPath, body: AssistantIn, assistants: AssistantsDep
) -> AssistantResponse:
    """Replace the whole assistant: fields left out return to their defaults.
    A masked secret sent back keeps the stored secret."""
    stored = await assistants.replace(assistant_id, body.model_dump(mode="json"))
    return AssistantResponse.model_validate(stored.public())


@router.patch(
    "/{assistant_id}",
    operation_id="update_assistant",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_assistant(
    assistant_id: AssistantIdPath, body: AssistantPatch, assistants: AssistantsDep
) -> AssistantResponse:
    """Change only the fields sent: nested settings objects merge, lists and free-form
    maps are replaced. A masked secret sent back keeps the stored secret."""
    patch = body.model_dump(mode="json", exclude_unset=True)
    stored = await assistants.update(assistant_id, patch)
    return AssistantResponse.model_validate(stored.public())


@router.delete(
    "/{assistant_id}",
    operation_id="delete_assistant",
    status_code=204,
    responses=errors(401, 403, 404, 422),
)
async def delete_assistant(assistant_id: AssistantIdPath, assistants: AssistantsDep) -> None:
    """Soft delete: the assistant disappears from the API; its calls keep their history."""
    await assistants.delete(assistant_id)


class DuplicateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


@router.post(
    "/{assistant_id}/duplicate",
    operation_id="duplicate_assistant",
    status_code=201,
    responses=errors(401, 403, 404, 409, 422),
)
async def duplicate_assistant(
    assistant_id: AssistantIdPath,
    assistants: AssistantsDep,
    body: Annotated[DuplicateIn | None, Body()] = None,
) -> AssistantResponse:
    """Copy an assistant (secrets included, external_id cleared)."""
    stored = await assistants.duplicate(assistant_id, body.name if body else None)
    return AssistantResponse.model_validate(stored.public())
