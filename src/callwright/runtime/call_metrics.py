"""A finished call in the process metrics: how it ended, its turns, every provider
that failed during it, and the turns a fallback LLM answered."""

from __future__ import annotations

from callwright.engine.events import EndReason
from callwright.observability import metrics
from callwright.runtime.recorder import CallRecorder

__all__ = ["observe_finished_call"]


def observe_finished_call(call_type: str, recorder: CallRecorder, lead_llm: str | None) -> None:
    """Count the call ``recorder`` recorded; ``lead_llm`` is the name of the LLM asked
    first (a turn another one answered is a fallback)."""
    reason = recorder.end_reason or EndReason.PIPELINE_ERROR
    metrics.call_ended(call_type, reason.value)
    for row in recorder.turns:
        metrics.turn_recorded(row)
        for failed in row.get("llm_errors") or ():
            metrics.provider_error("llm", failed["provider"])
        answered = row.get("llm_provider")
        if lead_llm and answered and answered != lead_llm:
            metrics.llm_fallback(lead_llm, answered)
    for failover in recorder.failovers:
        metrics.provider_error(failover["kind"], failover["requested"])
    if reason is EndReason.PIPELINE_ERROR and recorder.end_detail:
        provider, _, _ = recorder.end_detail.partition(":")
        metrics.provider_error("call", provider.strip()[:40] or "unknown")
