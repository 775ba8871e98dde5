"""The knowledge base API: an assistant's documents (upload a file, or give a URL or
text), their processing status, re-processing, and search.

``POST .../documents`` takes either ``multipart/form-data`` (a ``file`` part, and an
optional ``name``) or ``application/json`` (``{"url"}`` or ``{"text"}``); anything
else is a 415. Processing runs in the background once the request has committed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from starlette.datastructures import UploadFile

from callwright.api.deps import CurrentPrincipal, DbSession
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.documents import UnsupportedDocumentType
from callwright.domain.knowledge.schemas import (
    DocumentResponse,
    DocumentSource,
    SearchRequest,
    SearchResponse,
)
from callwright.domain.knowledge.service import KnowledgeService
from callwright.domain.validation import validate_as
from callwright.errors import BadRequest, ValidationFailed

__all__ = ["DOCUMENTS_PATH", "router"]

router = APIRouter(prefix="/api/v1/assistants", tags=["knowledge"], route_class=CallwrightRoute)

DOCUMENTS_PATH = r"^/api/v1/assistants/[^/]+/documents$"
"""Upload requests: the body size limit for them is the document limit, and their body
reaches the route unread (``BodySizeLimitMiddleware`` counts it as it is read), so every
handler on this path authenticates (``KnowledgeDep``) before it reads the body."""

AssistantIdPath = Annotated[
    str, Path(description="The integer id, or the assistant's external_id.", max_length=200)
]
DocumentIdPath = Annotated[int, Path(description="The document's id.", ge=1, le=2**63 - 1)]

_MAX_NAME_PART = 255
_UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The document."},
        "name": {"type": "string", "maxLength": _MAX_NAME_PART, "description": "Its name."},
    },
}


class MalformedJson(BadRequest):
    code = "malformed_json"


async def get_knowledge(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> KnowledgeService:
    context: KnowledgeContext = request.app.state.knowledge
    return KnowledgeService(session, principal, context)


KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]


def _notify_after_commit(knowledge: KnowledgeService, background: BackgroundTasks) -> None:
    # Background tasks run after the response, so after the request's commit: the
    # processor can then see the rows it is told about.
    for document_id in knowledge.to_notify:
        background.add_task(knowledge.context.notify, document_id)


async def _upload(
    request: Request, knowledge: KnowledgeService, assistant_id: str
) -> dict[str, Any]:
    async with request.form(max_files=1, max_fields=2) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed(
                "multipart uploads need a 'file' part",
                details=[
                    {
                        "field": "file",
                        "message": "a file is required",
                        "type": "missing",
                        "loc": ["body", "file"],
                    }
                ],
            )
        name = form.get("name")
        filename = name if isinstance(name, str) and name.strip() else upload.filename
        if filename is not None and len(filename) > _MAX_NAME_PART:
            filename = filename[-_MAX_NAME_PART:]
        data = await upload.read()
        return await knowledge.upload(assistant_id, filename, upload.content_type, data)


@router.post(
    "/{assistant_id}/documents",
    operation_id="create_document",
    status_code=201,
    response_model=DocumentResponse,
    responses=errors(401, 403, 404, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
                "application/json": {"schema": DocumentSource.model_json_schema()},
            },
        }
    },
)
async def create_document(
    assistant_id: AssistantIdPath,
    request: Request,
    knowledge: KnowledgeDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Add a document: a file (txt, md, html, pdf, docx, csv, json) as multipart, or
    JSON ``{"url"}`` (fetched by the server) or ``{"text"}``. It is stored ``pending``
    and, with ``rag_settings.auto_process``, processed in the background."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        document = await _upload(request, knowledge, assistant_id)
    elif media_type == "application/json":
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedJson(f"the request body is not valid JSON: {exc}") from exc
        document = await knowledge.add_source(assistant_id, validate_as(DocumentSource, body))
    else:
        raise UnsupportedDocumentType(
            f"send multipart/form-data with a 'file' part, or application/json with url or "
            f"text (got {media_type or 'no content type'})"
        )
    _notify_after_commit(knowledge, background)
    return document


@router.get(
    "/{assistant_id}/documents",
    operation_id="list_documents",
    response_model=list[DocumentResponse],
    responses=errors(401, 404, 422),
)
async def list_documents(
    assistant_id: AssistantIdPath,
    knowledge: KnowledgeDep,
    background: BackgroundTasks,
    skip: Annotated[int, Query(ge=0, le=2**31, description="Documents to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[dict[str, Any]]:
    """The assistant's documents, newest first, with their processing status."""
    documents = await knowledge.list(assistant_id, skip=skip, limit=limit)
    _notify_after_commit(knowledge, background)
    return documents


@router.get(
    "/{assistant_id}/documents/{document_id}",
    operation_id="get_document",
    response_model=DocumentResponse,
    responses=errors(401, 404, 422),
)
async def get_document(
    assistant_id: AssistantIdPath,
    document_id: DocumentIdPath,
    knowledge: KnowledgeDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """One document: ``status`` is pending, processing, ready or failed (``error``
    says why)."""
    document = await knowledge.get(assistant_id, document_id)
    _notify_after_commit(knowledge, background)
    return document


@router.delete(
    "/{assistant_id}/documents/{document_id}",
    operation_id="delete_document",
    status_code=204,
    responses=errors(401, 403, 404, 422),
)
async def delete_document(
    assistant_id: AssistantIdPath, document_id: DocumentIdPath, knowledge: KnowledgeDep
) -> None:
    """Delete the document and its chunks; searches stop finding it at once."""
    await knowledge.delete(assistant_id, document_id)


@router.post(
    "/{assistant_id}/documents/{document_id}/process",
    operation_id="process_document",
    status_code=202,
    response_model=DocumentResponse,
    responses=errors(401, 403, 404, 422),
)
async def process_document(
    assistant_id: AssistantIdPath,
    document_id: DocumentIdPath,
    knowledge: KnowledgeDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """(Re-)process the document now, with the assistant's current rag_settings (a
    URL is fetched again). Needed when ``auto_process`` is off."""
    document = await knowledge.reprocess(assistant_id, document_id)
    _notify_after_commit(knowledge, background)
    return document


@router.post(
    "/{assistant_id}/knowledge/search",
    operation_id="search_knowledge",
    response_model=SearchResponse,
    responses=errors(401, 403, 404, 422),
)
async def search_knowledge(
    assistant_id: AssistantIdPath,
    body: SearchRequest,
    knowledge: KnowledgeDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """The chunks closest to ``query`` scoring at least ``similarity_threshold``
    (cosine), at most ``search_limit``, best first; both default to the assistant's
    rag_settings. ``metadata`` is given when ``include_metadata`` is on."""
    found = await knowledge.search(assistant_id, body)
    _notify_after_commit(knowledge, background)
    return found
