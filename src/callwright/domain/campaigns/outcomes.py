"""What a finished call means for its recipient: the outcome its end reason stands for,
and whether (and when) the recipient is called again under the campaign's retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from callwright.engine.events import EndReason

__all__ = ["CALL_LEASE", "INTERRUPTED", "UNREPORTED", "NextStep", "next_step", "outcome_of"]

# A dial cut off mid-way (its lease expired) is settled failed with this detail.
INTERRUPTED = (
    "the scheduler stopped while dialling this number; it is not dialled again, as the "
    "carrier may already have placed the call"
)
# A placed call whose end is not recorded by then (the carrier's final callback never
# came) stops holding a slot: settled failed, not retried, as it may still be up.
CALL_LEASE = timedelta(hours=6)
UNREPORTED = (
    "the call's end was never reported; it is not dialled again, as the call may have taken place"
)

_OUTCOMES: dict[str, str] = {
    EndReason.CUSTOMER_BUSY: "busy",
    EndReason.CUSTOMER_DID_NOT_ANSWER: "no-answer",
    EndReason.CARRIER_FAILED_TO_CONNECT: "failed",
    EndReason.VOICEMAIL: "voicemail",
    EndReason.MANUALLY_CANCELED: "canceled",
    # The call broke on our side: the recipient did not get the conversation.
    EndReason.PIPELINE_ERROR: "failed",
    EndReason.LLM_FAILED: "failed",
    EndReason.TRANSPORT_DROPPED: "failed",
    EndReason.SERVER_SHUTDOWN: "failed",
    EndReason.SERVER_RESTARTED: "failed",
}


def outcome_of(end_reason: str | None) -> str:
    """``busy`` | ``no-answer`` | ``failed`` | ``voicemail`` | ``canceled`` |
    ``completed``: every other reason (either side hung up, an end-call phrase, silence,
    the maximum duration, a transfer) means the conversation took place."""
    if end_reason is None:
        return "failed"
    if end_reason.startswith("pipeline-error"):
        return "failed"
    return _OUTCOMES.get(end_reason, "completed")


@dataclass(frozen=True, slots=True)
class NextStep:
    """The recipient's new status, when it is called again (retrying only), and its
    retries per outcome."""

    status: str
    next_attempt_at: datetime | None
    retries: dict[str, int]


def next_step(
    outcome: str,
    retries: dict[str, int],
    policy: dict[str, Any],
    now: datetime,
    *,
    campaign_open: bool,
) -> NextStep:
    """A completed call is done; a canceled one (or any call of a canceled campaign)
    is not retried; otherwise the outcome's rule decides: another try after its delay
    while its retries last, else ``failed``."""
    if outcome == "completed":
        return NextStep("completed", None, retries)
    rule = policy.get(outcome)
    if outcome == "canceled" or not campaign_open or rule is None:
        return NextStep("failed" if campaign_open else "canceled", None, retries)
    used = retries.get(outcome, 0)
    if used >= int(rule["max_retries"]):
        return NextStep("failed", None, retries)
    later = now + timedelta(seconds=int(rule["retry_after_seconds"]))
    return NextStep("retrying", later, {**retries, outcome: used + 1})
