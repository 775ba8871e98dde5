"""Gemini API ``models.streamGenerateContent`` with ``alt=sse``, as documented: the
key in ``x-goog-api-key`` (or ``?key=``), ``GenerateContentResponse`` JSON objects as
CRLF-framed SSE ``data:`` events with no end marker, the text and ``functionCall``
parts in ``candidates[0].content.parts``, ``usageMetadata`` (cumulative, complete on
the last chunk) and google.rpc ``{"error": {code, message, status, details}}`` bodies:
a bad key is ``400 INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``, a rate limit
``429 RESOURCE_EXHAUSTED`` with a ``RetryInfo.retryDelay`` and no ``Retry-After``.

Enforced as the API does: ``user``/``model`` roles, non-empty parts, as many
``functionResponse`` parts as the model turn had ``functionCall`` parts, only known
``generationConfig`` fields, penalties only on gemini-2.0 models, and (as Gemini 3
does) a function call sent back without the ``thoughtSignature`` it came with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.vendor_fakes import Received, Reply, VendorFake, sse

__all__ = ["FakeGemini"]

_PREFIX = "/v1beta/models/"
_SUFFIX = ":streamGenerateContent"
_CONFIG_FIELDS = {
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "thinkingConfig",
}


@dataclass
class FakeGemini(VendorFake):
    """The streaming generateContent endpoint; ``signatures`` are the thought
    signatures it handed out, by function call (see ``call_key``)."""

    signatures: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def call_key(name: str, args: Any, call_id: str | None = None) -> str:
        """A function call's identity: its id, else its name and arguments."""
        return call_id or json.dumps([name, args], sort_keys=True)

    def route(self, method: str, path: str) -> bool:
        return method == "POST" and path.startswith(_PREFIX) and path.endswith(_SUFFIX)

    def authorized(self, request: Received) -> bool:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        return key == self.api_key

    def error(self, kind: str, message: str) -> tuple[int, dict[str, str], Any]:
        details: list[dict[str, Any]] = []
        if kind == "auth":
            code, status = 400, "INVALID_ARGUMENT"
            message = "API key not valid. Please pass a valid API key."
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ]
        elif kind == "rate":
            code, status = 429, "RESOURCE_EXHAUSTED"
            message = "You exceeded your current quota, please check your plan and billing details."
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{self.retry_after_s}s",
                }
            ]
        elif kind == "server":
            code, status = 500, "INTERNAL"
            message = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
        elif kind == "missing":
            code, status = 404, "NOT_FOUND"
        else:
            code, status = 400, "INVALID_ARGUMENT"
        error: dict[str, Any] = {"code": code, "message": message, "status": status}
        if details:
            error["details"] = details
        return code, {}, {"error": error}

    def invalid(self, request: Received) -> str | None:
        if request.query.get("alt") != "sse":
            return "this fake streams server-sent events only: add ?alt=sse"
        body = request.body
        if not isinstance(body, dict):
            return "Invalid JSON payload received."
        model = request.path.removeprefix(_PREFIX).removesuffix(_SUFFIX)
        config = body.get("generationConfig", {})
        for name in config:
            if name not in _CONFIG_FIELDS:
                return (
                    f'Invalid JSON payload received. Unknown name "{name}" at '
                    "'generation_config': Cannot find field."
                )
        penalties = [config.get("presencePenalty"), config.get("frequencyPenalty")]
        if any(penalties) and not model.startswith("gemini-2.0"):
            return f"Penalty is not enabled for models/{model}"
        if len(config.get("stopSequences", [])) > 5:
            return "stop_sequences: at most 5 stop sequences are allowed"
        system = body.get("systemInstruction")
        if system is not None and not system.get("parts"):
            return "system_instruction.parts: contents.parts must not be empty."
        for tool in body.get("tools", []):
            for declaration in tool.get("functionDeclarations", []):
                if not declaration.get("name"):
                    return "tools[0].function_declarations[0].name: Name cannot be empty."
                if "parameters" in declaration and "parametersJsonSchema" in declaration:
                    return "parameters and parametersJsonSchema are mutually exclusive"
        return self._invalid_contents(body.get("contents"))

    def _invalid_contents(self, contents: Any) -> str | None:
        if not isinstance(contents, list) or not contents:
            return "contents: contents is not specified"
        calls = 0  # function calls of the previous model turn, awaiting their responses
        for index, content in enumerate(contents):
            role, parts = content.get("role"), content.get("parts")
            if role not in ("user", "model"):
                return f"Please use a valid role: user, model. (contents[{index}])"
            if not parts:
                return f"contents[{index}].parts: contents.parts must not be empty."
            responses = sum(1 for part in parts if "functionResponse" in part)
            if calls and responses != calls:
                return (
                    "Please ensure that the number of function response parts is equal to "
                    "the number of function call parts of the function call turn."
                )
            calls = 0
            for part in parts:
                if "functionCall" not in part:
                    continue
                if role != "model":
                    return f"contents[{index}]: function calls belong to the model"
                calls += 1
                call = part["functionCall"]
                key = self.call_key(call["name"], call.get("args", {}), call.get("id"))
                issued = self.signatures.get(key)
                if issued is not None and part.get("thoughtSignature") != issued:
                    return (
                        f"Function call is missing a thought_signature in functionCall parts. "
                        f"Additional data, function call `{call['name']}`, position {index}."
                    )
        return None

    def frames(self, reply: Reply, request: Received) -> list[bytes]:
        model = request.path.removeprefix(_PREFIX).removesuffix(_SUFFIX)
        partial = {"promptTokenCount": reply.prompt_tokens, "totalTokenCount": reply.prompt_tokens}

        def chunk(
            parts: list[dict[str, Any]], usage: dict[str, Any], finish: str | None = None
        ) -> bytes:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            body = {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": model,
                "responseId": "fake-response-0001",
            }
            return sse(body, crlf=True)

        frames = [chunk([{"text": piece}], partial) for piece in reply.text]
        if reply.calls:
            parts = []
            for number, call in enumerate(reply.calls):
                function_call: dict[str, Any] = {"name": call.name, "args": dict(call.arguments)}
                if call.id:
                    function_call["id"] = call.id
                part: dict[str, Any] = {"functionCall": function_call}
                if number == 0:  # the first call of a turn carries the turn's signature
                    signature = f"c2lnbmF0dXJl-{len(self.signatures)}"
                    key = self.call_key(call.name, dict(call.arguments), call.id)
                    self.signatures[key] = signature
                    part["thoughtSignature"] = signature
                parts.append(part)
            frames.append(chunk(parts, partial))
        final = {
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": reply.completion_tokens,
            "totalTokenCount": reply.prompt_tokens + reply.completion_tokens,
        }
        frames.append(chunk([{"text": ""}], final, "STOP"))
        return frames
