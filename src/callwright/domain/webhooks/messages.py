"""Vapi's server messages, built from our call record, so that a webhook handler written
for Vapi works unchanged. Every body is ``{"message": {"type", "timestamp", "call",
...}}``; ``timestamp`` is Unix milliseconds, times inside objects are ISO-8601 UTC.

Field names follow Vapi's API reference (``ServerMessageStatusUpdate``,
``ServerMessageTranscript``, ``ServerMessageToolCalls``, ``ServerMessageEndOfCallReport``,
``Call``, ``Artifact``, ``UserMessage``/``BotMessage``/``ToolCallMessage``/
``ToolCallResultMessage``). A field we have no value for is left out, never made up.
The end-of-call report also carries, beside ``artifact`` and ``analysis``, the flat
fields Vapi has long sent there and many handlers still read (``transcript``,
``messages``, ``recordingUrl``, ``summary``, ``durationSeconds`` ...).

Inputs are the call record's own shapes (``runtime.recorder``): messages
``{role: "user"|"assistant", text, seconds_from_start, interrupted?}`` and tool calls
``{id, name, arguments: <JSON text>, seconds_from_start, result}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from callwright.store.call_status import CallStatus
from callwright.store.models import Call

__all__ = [
    "CALL_OBJECT_FIELDS",
    "END_OF_CALL_REPORT",
    "STATUS_UPDATE",
    "TOOL_CALLS",
    "TRANSCRIPT",
    "end_of_call_report",
    "status_update",
    "tool_calls",
    "transcript",
    "vapi_call_object",
]

STATUS_UPDATE = "status-update"
TRANSCRIPT = "transcript"
TOOL_CALLS = "tool-calls"
END_OF_CALL_REPORT = "end-of-call-report"

_PHONE_CALL_TYPES = frozenset({"inboundPhoneCall", "outboundPhoneCall"})

CALL_OBJECT_FIELDS = (
    "id",
    "organization_id",
    "type",
    "status",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "end_reason",
    "assistant_id",
    "phone_number_id",
    "provider_call_id",
    "from_number",
    "to_number",
    "assistant_context",
    "variables",
    "usage",
)
"""Every ``Call`` attribute the messages but the end-of-call report read (their
``call`` object, a status, the tools' owner): a live call's transcript lines and tool
calls need only these, not its record so far (``messages``, ``turns``...), which grows
with every turn. A test renders each message from a call loaded with just these."""


def _iso(moment: datetime) -> str:
    """``2026-11-22T05:20:00.123Z``: millisecond precision, as Vapi writes them."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now_ms(now: datetime | None) -> int:
    return int(now.timestamp() * 1000) if now is not None else int(time.time() * 1000)


def _customer_number(call: Call) -> str | None:
    # The customer is the far end: who called in, or whom we called.
    if call.type == "inboundPhoneCall":
        return call.from_number
    if call.type == "outboundPhoneCall":
        return call.to_number
    return None


def _cost_breakdown(usage: Mapping[str, Any]) -> dict[str, int]:
    """The usage counts Vapi's ``costBreakdown`` has fields for (no prices: we have none)."""
    llm, tts = usage.get("llm") or {}, usage.get("tts") or {}
    counts = {
        "llmPromptTokens": llm.get("prompt_tokens"),
        "llmCompletionTokens": llm.get("completion_tokens"),
        "ttsCharacters": tts.get("characters"),
    }
    return {name: value for name, value in counts.items() if isinstance(value, int)}


def vapi_call_object(call: Call) -> dict[str, Any]:
    """Vapi's ``Call`` object for our call row (ids as strings)."""
    body: dict[str, Any] = {
        "id": str(call.id),
        "orgId": str(call.organization_id),
        "type": call.type,
        "status": str(call.status),
        "createdAt": _iso(call.created_at),
        "updatedAt": _iso(call.updated_at),
    }
    optional: dict[str, Any] = {
        "startedAt": _iso(call.started_at) if call.started_at else None,
        "endedAt": _iso(call.ended_at) if call.ended_at else None,
        "endedReason": call.end_reason,
        "assistantId": str(call.assistant_id) if call.assistant_id is not None else None,
        "phoneNumberId": str(call.phone_number_id) if call.phone_number_id is not None else None,
        "phoneCallProviderId": call.provider_call_id if call.type in _PHONE_CALL_TYPES else None,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    if (number := _customer_number(call)) is not None:
        body["customer"] = {"number": number}
    if context := call.assistant_context:
        # Vapi's ``call.assistant`` (CreateAssistantDTO) has ``name`` and ``metadata``;
        # ``customSettings`` is callwright's own, beside them.
        body["assistant"] = {
            "name": context["name"],
            "metadata": context["metadata"],
            "customSettings": context["custom_settings"],
        }
    if call.variables:
        body["assistantOverrides"] = {"variableValues": dict(call.variables)}
    if call.status == CallStatus.ENDED and (breakdown := _cost_breakdown(call.usage or {})):
        body["costBreakdown"] = breakdown
    return body


def _message(kind: str, call: Call, now: datetime | None, **fields: Any) -> dict[str, Any]:
    return {
        "message": {"type": kind, "timestamp": _now_ms(now), "call": vapi_call_object(call)}
        | fields
    }


def status_update(call: Call, *, now: datetime | None = None) -> dict[str, Any]:
    """``status-update``: the call's status (queued, ringing, in-progress, forwarding,
    ended), with ``endedReason`` once it has ended."""
    fields: dict[str, Any] = {"status": str(call.status)}
    if call.status == CallStatus.ENDED and call.end_reason:
        fields["endedReason"] = call.end_reason
    return _message(STATUS_UPDATE, call, now, **fields)


def transcript(
    call: Call,
    *,
    role: Literal["user", "assistant"],
    text: str,
    final: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``transcript``: one line of the conversation, partial or final."""
    return _message(
        TRANSCRIPT,
        call,
        now,
        role=role,
        transcriptType="final" if final else "partial",
        transcript=text,
    )


def _parsed_arguments(arguments: Any) -> Any:
    if not isinstance(arguments, str):
        return arguments if arguments is not None else {}
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments  # what the model sent, unparseable: pass it on as text


def tool_calls(
    call: Call,
    calls: Sequence[Mapping[str, Any]],
    *,
    tools: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``tool-calls``: the model's calls in one turn. ``tools`` maps a function name to
    the tool as its server sees it (``CustomTool.public_config()``); a tool not in it
    (a built-in such as ``end_call``) appears as just its function name."""
    known = tools or {}
    tool_call_list: list[dict[str, Any]] = []
    with_calls: list[dict[str, Any]] = []
    for entry in calls:
        name = entry["name"]
        arguments = _parsed_arguments(entry.get("arguments"))
        tool_call = {
            "id": entry["id"],
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        tool = dict(known.get(name) or {"type": "function", "function": {"name": name}})
        tool_call_list.append(tool_call)
        with_calls.append(tool | {"toolCall": tool_call})
    return _message(
        TOOL_CALLS, call, now, toolCallList=tool_call_list, toolWithToolCallList=with_calls
    )


def _artifact_messages(call: Call) -> list[dict[str, Any]]:
    """The conversation as Vapi's ``artifact.messages``, in time order."""
    origin = (call.started_at or call.created_at).timestamp()
    timed: list[tuple[float, int, dict[str, Any]]] = []

    def at(seconds: float) -> dict[str, Any]:
        return {"time": int((origin + seconds) * 1000), "secondsFromStart": seconds}

    for index, line in enumerate(call.messages or []):
        text = line.get("text") or ""
        if not text:
            continue  # an interruption before the first word: nothing was said
        seconds = float(line.get("seconds_from_start") or 0.0)
        role = "bot" if line.get("role") == "assistant" else "user"
        timed.append((seconds, 2 * index, {"role": role, "message": text} | at(seconds)))
    for index, entry in enumerate(call.tool_calls or []):
        seconds = float(entry.get("seconds_from_start") or 0.0)
        arguments = entry.get("arguments")
        function = {"name": entry.get("name"), "arguments": arguments if arguments else "{}"}
        request = {
            "role": "tool_calls",
            "toolCalls": [{"id": entry.get("id"), "type": "function", "function": function}],
            "message": "",
        }
        timed.append((seconds, 2 * index + 1, request | at(seconds)))
        if entry.get("result") is not None:
            # The record keeps no separate time for the answer: it follows the call.
            answer = {
                "role": "tool_call_result",
                "toolCallId": entry.get("id"),
                "name": entry.get("name"),
                "result": entry["result"],
            }
            timed.append((seconds, 2 * index + 1, answer | at(seconds)))
    timed.sort(key=lambda item: (item[0], item[1]))
    return [message for _, _, message in timed]


def _transcript_text(call: Call) -> str:
    lines = []
    for line in call.messages or []:
        if text := line.get("text"):
            lines.append(f"{'AI' if line.get('role') == 'assistant' else 'User'}: {text}\n")
    return "".join(lines)


def end_of_call_report(
    call: Call,
    *,
    recording_url: str | None = None,
    summary: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``end-of-call-report`` for an ended call: end reason, transcript, messages,
    recording (our recording is the stereo WAV: caller left, assistant right), times
    and duration; ``summary`` when one was made."""
    if call.end_reason is None:
        raise ValueError(f"call {call.id} has not ended: no end-of-call report yet")
    messages = _artifact_messages(call)
    text = _transcript_text(call)
    artifact: dict[str, Any] = {"messages": messages, "transcript": text}
    fields: dict[str, Any] = {
        "endedReason": call.end_reason,
        "artifact": artifact,
        "analysis": {"summary": summary} if summary else {},
        "transcript": text,
        "messages": messages,
    }
    if recording_url:
        artifact.update(recordingUrl=recording_url, stereoRecordingUrl=recording_url)
        fields.update(recordingUrl=recording_url, stereoRecordingUrl=recording_url)
    if summary:
        fields["summary"] = summary
    if call.started_at:
        fields["startedAt"] = _iso(call.started_at)
    if call.ended_at:
        fields["endedAt"] = _iso(call.ended_at)
    duration = call.duration_seconds
    if duration is None and call.started_at and call.ended_at:
        duration = (call.ended_at - call.started_at).total_seconds()
    if duration is not None:
        fields.update(
            durationMs=round(duration * 1000),
            durationSeconds=round(duration, 3),
            durationMinutes=round(duration / 60, 4),
        )
    if (number := _customer_number(call)) is not None:
        fields["customer"] = {"number": number}
    return _message(END_OF_CALL_REPORT, call, now, **fields)
