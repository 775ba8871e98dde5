"""The call status: Vapi's values, and the one table of the changes a call may go
through (``CallStatus.can_become``), enforced by the call repository."""

from __future__ import annotations

import itertools

import pytest

from callwright.domain.calls.repository import IllegalCallTransition, new_call, set_status
from callwright.store.call_status import CallStatus

QUEUED, RINGING, IN_PROGRESS, FORWARDING, ENDED = (
    CallStatus.QUEUED,
    CallStatus.RINGING,
    CallStatus.IN_PROGRESS,
    CallStatus.FORWARDING,
    CallStatus.ENDED,
)

ALLOWED = {
    (QUEUED, RINGING),  # an outbound call rings
    (QUEUED, IN_PROGRESS),  # a web call connects
    (QUEUED, ENDED),  # canceled, refused, or failed to start
    (RINGING, IN_PROGRESS),  # answered: its stream opened
    (RINGING, ENDED),  # busy, no answer, canceled
    (IN_PROGRESS, FORWARDING),
    (IN_PROGRESS, ENDED),
    (FORWARDING, IN_PROGRESS),  # the transfer failed: back to the assistant
    (FORWARDING, ENDED),
}


def test_the_wire_values_are_vapis() -> None:
    assert [status.value for status in CallStatus] == [
        "queued",
        "ringing",
        "in-progress",
        "forwarding",
        "ended",
    ]
    assert CallStatus("in-progress") == "in-progress"


@pytest.mark.parametrize(
    ("current", "status"), list(itertools.product(CallStatus, CallStatus)), ids=str
)
def test_the_transition_table(current: CallStatus, status: CallStatus) -> None:
    assert current.can_become(status) is ((current, status) in ALLOWED)


def test_ended_is_final_and_nothing_becomes_itself() -> None:
    assert not any(ENDED.can_become(status) for status in CallStatus)
    assert not any(status.can_become(status) for status in CallStatus)
    assert all(status.can_become(ENDED) for status in CallStatus if status is not ENDED)


def test_awaiting_answer_is_queued_or_ringing() -> None:
    assert {status for status in CallStatus if status.awaiting_answer} == {QUEUED, RINGING}


def test_the_repository_changes_a_status_only_as_the_table_allows() -> None:
    call = new_call(
        organization_id=1,
        user_id=None,
        assistant_id=1,
        type="webCall",
        status=QUEUED,
        node_id="node-a",
    )
    call.id = 7
    before = call.updated_at
    set_status(call, IN_PROGRESS)
    assert call.status is IN_PROGRESS
    assert call.updated_at >= before

    set_status(call, ENDED)
    with pytest.raises(
        IllegalCallTransition, match="call 7 is ended and cannot become in-progress"
    ):
        set_status(call, IN_PROGRESS)
    assert call.status is ENDED
    assert IllegalCallTransition.status_code == 409
