"""``analysis_plan``: each part's ``timeout_s`` bounds the wait for its model (the rest
of the plan has its tests in tests/analysis/, named after each part). A model that
never answers is given up on after the part's own timeout, which the failure names:
were the setting ignored, the wait would be the default 30 s and the failure would
say so."""

from __future__ import annotations

from typing import Any

import pytest

from callwright.clock import MonotonicClock
from callwright.domain.analysis.analyzer import AnalysisUnavailable, analyze
from callwright.domain.assistants.schemas import AssistantIn
from callwright.providers.fakes import Hang, ScriptedLLM

TRANSCRIPT = [
    {"role": "assistant", "text": "Hello, how can I help?"},
    {"role": "user", "text": "Just checking my order."},
]
SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}}}
# Each part on its own (the others off), its timeout a twentieth of a second.
_PARTS: dict[str, dict[str, Any]] = {
    "summary_plan": {
        "summary_plan": {"timeout_s": 0.05},
        "success_evaluation_plan": {"enabled": False},
    },
    "structured_data_plan": {
        "summary_plan": {"enabled": False},
        "structured_data_plan": {"json_schema": SCHEMA, "timeout_s": 0.05},
        "success_evaluation_plan": {"enabled": False},
    },
    "success_evaluation_plan": {
        "summary_plan": {"enabled": False},
        "success_evaluation_plan": {"timeout_s": 0.05},
    },
}


@pytest.mark.parametrize("part", list(_PARTS))
async def test_analysis_plan_timeout_s(part: str) -> None:
    """``analysis_plan.<part>.timeout_s``, set on the assistant resource."""
    assistant = AssistantIn(name="fields", analysis_plan=_PARTS[part])
    assert assistant.analysis_plan is not None
    silent = ScriptedLLM(MonotonicClock(), [Hang(), Hang()], name="silent")
    with pytest.raises(AnalysisUnavailable) as raised:
        await analyze(assistant.analysis_plan, [silent], TRANSCRIPT)
    assert "silent: no answer within 0.05 s" in str(raised.value)
    assert raised.value.retryable
