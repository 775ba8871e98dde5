"""Vapi server-message shapes built from a call record: the keys Vapi's API reference
documents, ids as strings, ISO-8601 Z times, millisecond timestamps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callwright.domain.webhooks import messages
from callwright.store.models import Call

STARTED = datetime(2026, 11, 22, 5, 20, 0, 500_000, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 5, 30, tzinfo=UTC)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _call(**fields: Any) -> Call:
    values: dict[str, Any] = {
        "id": 42,
        "organization_id": 7,
        "user_id": 3,
        "assistant_id": 11,
        "phone_number_id": 5,
        "type": "inboundPhoneCall",
        "status": "in-progress",
        "from_number": "+14155550100",
        "to_number": "+14155550199",
        "provider_call_id": "CA0123456789abcdef0123456789abcdef",
        "variables": {},
        "overrides": {},
        "messages": [],
        "tool_calls": [],
        "turns": [],
        "usage": {},
        "providers": [],
        "started_at": STARTED,
        "created_at": STARTED - timedelta(seconds=2),
        "updated_at": STARTED,
    }
    values.update(fields)
    return Call(**values)


def _ended(**fields: Any) -> Call:
    return _call(
        status="ended",
        ended_at=STARTED + timedelta(seconds=61.25),
        duration_seconds=61.25,
        end_reason="customer-ended-call",
        messages=[
            {"role": "assistant", "text": "Hi! How can I help?", "seconds_from_start": 0.4},
            {"role": "user", "text": "What time do you open?", "seconds_from_start": 3.2},
            {
                "role": "assistant",
                "text": "We open at",
                "seconds_from_start": 5.0,
                "interrupted": True,
                "intended": "We open at nine.",
            },
            {"role": "assistant", "text": "", "seconds_from_start": 6.0, "interrupted": True},
        ],
        tool_calls=[
            {
                "id": "call_1",
                "name": "get_hours",
                "arguments": '{"day": "monday"}',
                "seconds_from_start": 4.1,
                "result": "9am-5pm",
            }
        ],
        usage={
            "llm": {"provider": "openai", "prompt_tokens": 812, "completion_tokens": 40},
            "tts": {"provider": "elevenlabs", "characters": 57},
            "stt": {"provider": "deepgram", "seconds": 61.0},
        },
        **fields,
    )


def test_call_object() -> None:
    body = messages.vapi_call_object(_call(variables={"name": "Ada"}))
    assert body == {
        "id": "42",
        "orgId": "7",
        "type": "inboundPhoneCall",
        "status": "in-progress",
        "createdAt": "2026-11-22T05:19:58.500Z",
        "updatedAt": "2026-11-22T05:20:00.500Z",
        "startedAt": "2026-11-22T05:20:00.500Z",
        "assistantId": "11",
        "phoneNumberId": "5",
        "phoneCallProviderId": "CA0123456789abcdef0123456789abcdef",
        "customer": {"number": "+14155550100"},  # inbound: the caller
        "assistantOverrides": {"variableValues": {"name": "Ada"}},
    }


def test_call_object_of_other_call_types() -> None:
    outbound = messages.vapi_call_object(_call(type="outboundPhoneCall"))
    assert outbound["customer"] == {"number": "+14155550199"}  # outbound: whom we called
    web = messages.vapi_call_object(
        _call(type="webCall", from_number=None, to_number=None, phone_number_id=None)
    )
    assert not {"customer", "phoneNumberId", "phoneCallProviderId"} & set(web)
    ended = messages.vapi_call_object(_ended())
    assert ended["endedReason"] == "customer-ended-call"
    assert ISO_Z.match(ended["endedAt"])
    assert ended["costBreakdown"] == {
        "llmPromptTokens": 812,
        "llmCompletionTokens": 40,
        "ttsCharacters": 57,
    }


def test_status_update() -> None:
    running = messages.status_update(_call(), now=NOW)["message"]
    assert set(running) == {"type", "timestamp", "call", "status"}
    assert running["type"] == "status-update"
    assert running["status"] == "in-progress"
    assert running["timestamp"] == int(NOW.timestamp() * 1000)
    ended = messages.status_update(_ended(), now=NOW)["message"]
    assert (ended["status"], ended["endedReason"]) == ("ended", "customer-ended-call")


def test_transcript() -> None:
    body = messages.transcript(_call(), role="user", text="What time do you open?", now=NOW)
    message = body["message"]
    assert set(message) == {"type", "timestamp", "call", "role", "transcriptType", "transcript"}
    assert (message["type"], message["role"], message["transcriptType"]) == (
        "transcript",
        "user",
        "final",
    )
    partial = messages.transcript(_call(), role="assistant", text="We", final=False)["message"]
    assert partial["transcriptType"] == "partial"


def test_tool_calls() -> None:
    weather = {
        "type": "function",
        "function": {"name": "get_hours", "description": "Opening hours.", "parameters": {}},
        "server": {"url": "https://tools.example.com/hours", "timeoutSeconds": 20},
    }
    body = messages.tool_calls(
        _call(),
        [
            {"id": "call_1", "name": "get_hours", "arguments": '{"day": "monday"}'},
            {"id": "call_2", "name": "end_call", "arguments": ""},
        ],
        tools={"get_hours": weather},
        now=NOW,
    )
    message = body["message"]
    assert set(message) == {"type", "timestamp", "call", "toolCallList", "toolWithToolCallList"}
    assert message["toolCallList"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_hours", "arguments": {"day": "monday"}},
        },
        {"id": "call_2", "type": "function", "function": {"name": "end_call", "arguments": {}}},
    ]
    first, second = message["toolWithToolCallList"]
    assert first == weather | {"toolCall": message["toolCallList"][0]}
    assert second == {
        "type": "function",
        "function": {"name": "end_call"},
        "toolCall": message["toolCallList"][1],
    }


def test_end_of_call_report() -> None:
    url = "https://cw.example.com/api/v1/calls/42/recording"
    body = messages.end_of_call_report(
        _ended(), recording_url=url, summary="Asked for hours.", now=NOW
    )
    message = body["message"]
    assert set(message) == {
        "type",
        "timestamp",
        "call",
        "endedReason",
        "artifact",
        "analysis",
        "transcript",
        "messages",
        "recordingUrl",
        "stereoRecordingUrl",
        "summary",
        "startedAt",
        "endedAt",
        "durationMs",
        "durationSeconds",
        "durationMinutes",
        "customer",
    }
    assert message["type"] == "end-of-call-report"
    assert message["endedReason"] == "customer-ended-call"
    assert message["transcript"] == (
        "AI: Hi! How can I help?\nUser: What time do you open?\nAI: We open at\n"
    )
    assert message["artifact"] == {
        "messages": message["messages"],
        "transcript": message["transcript"],
        "recordingUrl": url,
        "stereoRecordingUrl": url,
    }
    assert message["analysis"] == {"summary": "Asked for hours."}
    assert (message["durationSeconds"], message["durationMs"]) == (61.25, 61250)
    assert message["durationMinutes"] == pytest.approx(61.25 / 60, abs=1e-4)
    assert (message["startedAt"], message["endedAt"]) == (
        "2026-11-22T05:20:00.500Z",
        "2026-11-22T05:21:01.750Z",
    )
    origin_ms = int(STARTED.timestamp() * 1000)
    roles = [(m["role"], m["secondsFromStart"]) for m in message["messages"]]
    # In time order; the interruption before any word is left out.
    assert roles == [
        ("bot", 0.4),
        ("user", 3.2),
        ("tool_calls", 4.1),
        ("tool_call_result", 4.1),
        ("bot", 5.0),
    ]
    bot, user, call, result, _ = message["messages"]
    assert bot == {
        "role": "bot",
        "message": "Hi! How can I help?",
        "time": origin_ms + 400,
        "secondsFromStart": 0.4,
    }
    assert set(user) == {"role", "message", "time", "secondsFromStart"}
    assert call == {
        "role": "tool_calls",
        "toolCalls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_hours", "arguments": '{"day": "monday"}'},
            }
        ],
        "message": "",
        "time": origin_ms + 4100,
        "secondsFromStart": 4.1,
    }
    assert result == {
        "role": "tool_call_result",
        "toolCallId": "call_1",
        "name": "get_hours",
        "result": "9am-5pm",
        "time": origin_ms + 4100,
        "secondsFromStart": 4.1,
    }
    json.dumps(body, allow_nan=False)  # it is JSON as it stands


def test_end_of_call_report_leaves_out_what_we_do_not_have() -> None:
    message = messages.end_of_call_report(_ended(type="webCall", from_number=None))["message"]
    assert not {"recordingUrl", "stereoRecordingUrl", "summary", "customer"} & set(message)
    assert message["analysis"] == {}
    assert set(message["artifact"]) == {"messages", "transcript"}
    with pytest.raises(ValueError, match="has not ended"):
        messages.end_of_call_report(_call())
