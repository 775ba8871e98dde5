"""Google Gemini over its REST API (no SDK): ``POST {base}/v1beta/models/{model}:
streamGenerateContent?alt=sse`` with the key in ``x-goog-api-key``.

The wire format (the request body built from an ``LLMRequest``, the server-sent events
parsed into text, tool calls and usage, google.rpc error bodies) is ``gemini_wire``'s.
Here: the HTTP stream and its first-byte deadline, the thought signatures of the
function calls seen (the last 256 call ids, sent back with those calls: Gemini 3
refuses a function call without it), and each dropped setting warned about once.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Final

import httpx

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    FIRST_BYTE_TIMEOUT_S,
    first_within,
    http_client,
    translate_http_error,
)
from callwright.providers.errors import ProviderAuthError
from callwright.providers.llm.gemini_wire import (
    PROVIDER,
    candidate_parts,
    error_of,
    part_event,
    request_body,
    sse_objects,
    usage_of,
)
from callwright.providers.llm.settings_support import GEMINI_DEFAULT_MODEL
from callwright.providers.protocols import LLMEvent, LLMRequest, ToolCall, Usage
from callwright.security.outbound import OutboundPolicy

__all__ = ["GeminiLLM", "create"]

_BASE_URL: Final = "https://generativelanguage.googleapis.com"
_DEFAULT_MODEL: Final = GEMINI_DEFAULT_MODEL
_MAX_SIGNATURES: Final = 256

_logger = logging.getLogger(__name__)


class GeminiLLM:
    """A streaming Gemini model (see the module docstring for the mapping).

    ``base_url``: the API root (None is Google's). ``default_model``: used when the
    request names none. ``first_byte_timeout_s``: how long the first event may take
    before ``ProviderTimeout``. Close with ``aclose``.
    """

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        default_model: str = _DEFAULT_MODEL,
        first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ProviderAuthError(PROVIDER, "no API key configured")
        self._default_model = default_model
        self._first_byte_timeout_s = first_byte_timeout_s
        # Between bytes; never shorter than the wait allowed for the first one.
        read_timeout_s = max(FIRST_BYTE_TIMEOUT_S, first_byte_timeout_s)
        self._warned: set[str] = set()
        # Thought signatures of the function calls this adapter has seen, by call id.
        self._signatures: OrderedDict[str, str] = OrderedDict()
        self._client = http_client(
            base_url or _BASE_URL,
            {"x-goog-api-key": api_key},
            read_timeout_s=read_timeout_s,
            outbound=outbound,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        # Closing the returned generator closes _events too: the request is aborted.
        return first_within(self.name, self._events(request), self._first_byte_timeout_s)

    async def _events(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        model = (request.model or self._default_model).removeprefix("models/")
        body = request_body(request, model, self._signatures, self._warn)
        url = f"/v1beta/models/{model}:streamGenerateContent"
        try:
            async with self._client.stream(
                "POST", url, params={"alt": "sse"}, json=body
            ) as response:
                if not response.is_success:
                    raw = (await response.aread()).decode("utf-8", "replace")
                    raise error_of(response.status_code, raw, response.headers.get("retry-after"))
                usage: Usage | None = None
                async for chunk in sse_objects(response.aiter_lines()):
                    if "error" in chunk:  # a failure reported inside the stream
                        raise error_of(500, json.dumps(chunk), None)
                    if (chunk_usage := usage_of(chunk)) is not None:
                        usage = chunk_usage
                    for part in candidate_parts(chunk):
                        if event := self._event(part):
                            yield event
                if usage is not None:
                    yield usage
        except httpx.HTTPError as exc:
            raise translate_http_error(self.name, exc) from exc

    def _event(self, part: Mapping[str, Any]) -> LLMEvent | None:
        event = part_event(part)
        if isinstance(event, ToolCall) and (signature := part.get("thoughtSignature")):
            self._signatures[event.id] = signature
            while len(self._signatures) > _MAX_SIGNATURES:
                self._signatures.popitem(last=False)
        return event

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            _logger.warning("gemini: %s", message)


def create(c: Connection) -> GeminiLLM:
    """The catalog's factory."""
    return GeminiLLM(c.api_key, base_url=c.base_url, outbound=c.outbound)
