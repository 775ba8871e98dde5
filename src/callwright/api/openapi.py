"""Documented error responses shared by the routes, so /openapi.json tells the truth
about every status a route can answer."""

from __future__ import annotations

from typing import Any

from callwright.api.errors import ErrorBody

__all__ = ["errors"]

_DESCRIPTIONS = {
    400: "Malformed input: invalid JSON, a malformed id or header.",
    401: "Missing, invalid, revoked or inactive credentials.",
    403: "Authenticated but not allowed (e.g. a cookie-authenticated write without CSRF token).",
    404: "Not found in the caller's scope (another organization's resource answers the same).",
    409: "Conflicts with an existing resource.",
    413: "Request body too large.",
    415: "Unsupported media type (e.g. a document format that cannot be read).",
    422: "Validation failed; `details` names each bad field.",
    429: "Rate limited; retry after the number of seconds in `Retry-After`.",
    502: "The carrier (Twilio) refused the request or could not be reached.",
    503: "At capacity (the server refuses new calls rather than degrade those it holds), "
    "or the server holding the call cannot be reached.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Responses for ``statuses``, plus those every route can answer (400, 413, 429)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in sorted({400, 413, 429, *statuses}):
        response: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
        documented[status] = response
    return documented
