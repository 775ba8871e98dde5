"""The one exception tree of callwright: every error it raises on purpose is a
``CallwrightError`` carrying an HTTP status and a machine code.

::

    CallwrightError (500, internal_error)
    ├── BadRequest (400, bad_request)
    │   ├── MalformedId (400, malformed_id)
    │   └── api.routes.knowledge.MalformedJson (400, malformed_json)
    ├── Unauthorized (401, unauthorized)
    ├── Forbidden (403, forbidden)
    │   └── CsrfFailed (403, csrf_failed)
    ├── NotFound (404, not_found)
    ├── Conflict (409, conflict)
    │   └── domain.calls.repository.IllegalCallTransition (409, illegal_call_transition)
    ├── PayloadTooLarge (413, payload_too_large)
    ├── ValidationFailed (422, validation_failed)
    │   └── domain.knowledge.parsing.DocumentRejected (422, document_rejected)
    ├── RateLimited (429, rate_limited)
    ├── ServiceBusy (503, busy)
    │   └── domain.accounts.call_limit.OrganizationCallLimit (429, organization_call_limit)
    ├── InternalError (500, internal_error)     the server's own set-up is wrong
    │   ├── settings.SettingsError               the configuration cannot be used
    │   ├── store.migrate.DatabaseNotMigrated    the schema is not at this code's head
    │   └── security.crypto.SecretDecryptionError  a stored secret cannot be decrypted
    │
    │   defined beside the code that raises them:
    ├── domain.analysis.analyzer.AnalysisUnavailable (502, analysis_unavailable)  no LLM answered
    ├── domain.knowledge.parsing.UnsupportedDocumentType (415, unsupported_media_type)
    ├── domain.campaigns.recipients.UnsupportedRecipientsType (415, unsupported_media_type)
    ├── domain.knowledge.parse_isolation.ParserUnavailable (503, parser_unavailable)
    ├── domain.calls.control.CallOwnerUnreachable (503, call_owner_unreachable)
    ├── transports.twilio.rest.TwilioError (502, carrier_error)
    │   ├── TwilioAuthenticationFailed (502, carrier_authentication_failed)
    │   └── TwilioUnavailable (502, carrier_unavailable)
    └── providers.errors.ProviderError (502, provider_error)   retryable unless said
        ├── ProviderTimeout (502, provider_timeout)
        ├── ProviderAuthError (502, provider_auth_failed)        not retryable
        ├── ProviderRateLimited (502, provider_rate_limited)
        ├── ProviderUnavailable (502, provider_unavailable)
        └── ProviderRequestError (502, provider_request_refused)  not retryable

Every error renders as ``{"error": "<message>", "code": "<code>", "details": [...]}``,
except an ``InternalError``: API callers get a bare "internal server error" (as for any
unexpected exception) and the log gets the traceback. Foreign exceptions are translated
at the boundary (``raise ... from exc``). One exception is not a ``CallwrightError``:
``security.outbound.OutboundRefused`` is a ``ValueError`` that never leaves its
callers, each of which translates it (a 422 naming the field, a ``ProviderError``, a
failed tool call or webhook delivery). Private control-flow exceptions
(``engine.tools._Failed``, the knowledge worker's ``_Retry`` and ``_BadRequest``) never
leave their module.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "CallwrightError",
    "Conflict",
    "CsrfFailed",
    "Forbidden",
    "InternalError",
    "MalformedId",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceBusy",
    "Unauthorized",
    "ValidationFailed",
]


class CallwrightError(Exception):
    """Base of every error callwright raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, "details": self.details}


class BadRequest(CallwrightError):
    status_code = 400
    code = "bad_request"


class MalformedId(BadRequest):
    code = "malformed_id"


class Unauthorized(CallwrightError):
    status_code = 401
    code = "unauthorized"


class Forbidden(CallwrightError):
    status_code = 403
    code = "forbidden"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class NotFound(CallwrightError):
    status_code = 404
    code = "not_found"


class Conflict(CallwrightError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(CallwrightError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(CallwrightError):
    status_code = 422
    code = "validation_failed"


class RateLimited(CallwrightError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ServiceBusy(CallwrightError):
    """The server holds as many calls as it may; new ones are refused, not degraded."""

    status_code = 503
    code = "busy"


class InternalError(CallwrightError):
    """The server itself is misconfigured or its stored state unusable; nothing the
    caller can fix (API callers see a bare "internal server error")."""

    status_code = 500
    code = "internal_error"
