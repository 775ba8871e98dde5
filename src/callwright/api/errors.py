"""Exception handlers: every error leaves as ``{"error", "code", "details"}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from callwright.domain.validation import summary, validation_details
from callwright.errors import CallwrightError, InternalError, RateLimited

__all__ = ["ErrorBody", "error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


class ErrorBody(BaseModel):
    """Every error response."""

    error: str
    code: str
    details: list[dict[str, Any]]


def error_response(
    status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _callwright_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CallwrightError)
    if isinstance(exc, InternalError):
        # The server's own set-up is wrong: nothing for the caller to read or act on.
        return await _unexpected(request, exc)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    if exc.status_code >= 500:
        logger.error("internal error: %s", exc.message)
    return error_response(exc.status_code, exc.body(), headers)


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    invalid = [error for error in errors if error.get("type") == "json_invalid"]
    if invalid:
        reason = str(invalid[0].get("ctx", {}).get("error", "")) or "not valid JSON"
        return error_response(
            400,
            {
                "error": f"the request body is not valid JSON: {reason}",
                "code": "malformed_json",
                "details": validation_details(errors),
            },
        )
    details = validation_details(errors)
    body = {"error": summary(details), "code": "validation_failed", "details": details}
    return error_response(422, body)


async def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(
        exc.status_code,
        {"error": message, "code": code, "details": []},
        dict(exc.headers) if exc.headers else None,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, {"error": "internal server error", "code": "internal_error", "details": []}
    )


async def _unreachable(request: Request, exc: Exception) -> JSONResponse:
    """The database (or another service a request needs) refused or dropped the
    connection: a 503 the client can retry, not an internal error. asyncpg lets a
    refused connect through as ``ConnectionRefusedError``; a connection lost mid-query
    is a ``DBAPIError`` that invalidated it."""
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated:
        return await _unexpected(request, exc)
    logger.warning(
        "%s %s: a service it needs is unreachable: %s", request.method, request.url.path, exc
    )
    body = {
        "error": "a service this server needs (the database) is unreachable: retry shortly",
        "code": "service_unavailable",
        "details": [],
    }
    return error_response(503, body, {"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CallwrightError, _callwright_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(ConnectionError, _unreachable)
    app.add_exception_handler(DBAPIError, _unreachable)
    app.add_exception_handler(Exception, _unexpected)
