"""Every write of a call row (the reads are ``domain.calls.queries``): for the
service, the runtime and the carrier's webhooks, which act on a call they already
identified (by a signed stream token or a carrier's verified request).

A call's status changes only here (``set_status`` and the writes built on it), and
only as ``CallStatus.can_become`` allows: anything else is an
``IllegalCallTransition``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import KeyScope
from callwright.errors import Conflict
from callwright.store.base import UtcDateTime, utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call, Node

__all__ = [
    "CallProgress",
    "CallRecord",
    "IllegalCallTransition",
    "add_call",
    "calls_no_longer_waiting",
    "complete_swept_record",
    "consume_stream_nonce",
    "end_call",
    "new_call",
    "remember_assistant",
    "save_progress",
    "set_carrier_call_id",
    "set_status",
    "set_stream_nonce",
    "start_call",
    "stream_connected",
    "sweep_orphaned_calls",
    "write_analysis",
    "write_record",
]


class IllegalCallTransition(Conflict):
    """A change of a call's status that ``CallStatus.can_become`` does not allow (an
    ended call never starts again)."""

    code = "illegal_call_transition"


def new_call(
    *,
    organization_id: int,
    user_id: int | None,
    assistant_id: int,
    type: str,
    status: CallStatus,
    node_id: str,
    variables: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    from_number: str | None = None,
    to_number: str | None = None,
    phone_number_id: int | None = None,
    provider_call_id: str | None = None,
    placed_by_scope: KeyScope | None = None,
) -> Call:
    """A call row with an empty record, not yet added (``add_call``). ``placed_by_scope``
    is the scope of the principal placing an API call (with ``user_id``, who it is);
    None when none did. ``node_id`` is the node issuing it, which holds it until its
    stream connects."""
    now = utcnow()
    return Call(
        organization_id=organization_id,
        user_id=user_id,
        placed_by_scope=placed_by_scope,
        assistant_id=assistant_id,
        phone_number_id=phone_number_id,
        type=type,
        status=status,
        node_id=node_id,
        from_number=from_number,
        to_number=to_number,
        provider_call_id=provider_call_id,
        variables=variables or {},
        overrides=overrides or {},
        messages=[],
        tool_calls=[],
        knowledge=[],
        tools_left_out=[],
        assistant_context={},
        turns=[],
        usage={},
        providers=[],
        created_at=now,
        updated_at=now,
    )


async def consume_stream_nonce(
    session: AsyncSession, call_id: int, nonce: str, node_id: str
) -> bool:
    """Clear the call's stream nonce if it is ``nonce``: True exactly once per token,
    on whichever node the stream reaches, and never for a call that has ended. That
    node (``node_id``) holds the call from now on."""
    result = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.stream_nonce == nonce, Call.status != CallStatus.ENDED)
        .values(stream_nonce=None, node_id=node_id, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def calls_no_longer_waiting(session: AsyncSession, call_ids: Sequence[int]) -> list[int]:
    """Of ``call_ids`` (issued calls), those whose stream has connected (on any node)
    or that have ended: they no longer wait for a stream."""
    if not call_ids:
        return []
    rows = await session.execute(
        select(Call.id).where(
            Call.id.in_(call_ids),
            or_(Call.stream_nonce.is_(None), Call.status == CallStatus.ENDED),
        )
    )
    return list(rows.scalars())


async def sweep_orphaned_calls(
    session: AsyncSession, *, live_since: datetime, now: datetime
) -> list[int]:
    """End the calls no live node holds: their node's heartbeat is older than
    ``live_since``, their node stopped, or they name no node (made before nodes
    existed). Each ends with reason ``server-restarted`` at its node's last heartbeat
    (never before the call was created; ``now`` when the node is unknown). A live
    node's calls are never touched. Returns the ids of the calls this sweep ended.

    One conditional UPDATE: two processes sweeping at once end each call once
    (PostgreSQL re-checks ``status`` on the rows the other just locked and ended;
    SQLite runs one writer at a time)."""
    live_nodes = select(Node.id).where(Node.stopped_at.is_(None), Node.heartbeat_at >= live_since)
    last_beat = func.coalesce(
        select(Node.heartbeat_at).where(Node.id == Call.node_id).scalar_subquery(),
        literal(now, UtcDateTime()),
    )
    result = await session.execute(
        update(Call)
        .where(
            Call.status != CallStatus.ENDED,
            or_(Call.node_id.is_(None), Call.node_id.not_in(live_nodes)),
        )
        .values(
            status=CallStatus.ENDED,
            end_reason="server-restarted",
            end_detail="the server holding the call stopped while it was open",
            ended_at=case((last_beat < Call.created_at, Call.created_at), else_=last_beat),
            stream_nonce=None,
            updated_at=now,
        )
        .returning(Call.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())


async def add_call(session: AsyncSession, call: Call) -> Call:
    """Insert a call built by ``new_call``; its id is known on return."""
    session.add(call)
    await session.flush()
    return call


def set_status(call: Call, status: CallStatus) -> None:
    """Change the call's status: the one place it changes."""
    current = CallStatus(call.status)
    if not current.can_become(status):
        raise IllegalCallTransition(
            f"call {call.id} is {current.value} and cannot become {status.value}"
        )
    call.status = status
    call.updated_at = utcnow()


def set_stream_nonce(call: Call, nonce: str) -> None:
    """The nonce of the stream token just issued for ``call`` (``consume_stream_nonce``
    clears it when the stream connects)."""
    call.stream_nonce = nonce


def set_carrier_call_id(call: Call, call_sid: str | None) -> None:
    """The carrier's id of the call (Twilio's CallSid), once the carrier gave one."""
    call.provider_call_id = call_sid or None


def stream_connected(call: Call, call_sid: str, parameters: Mapping[str, str]) -> None:
    """A carrier's stream opened for ``call``: the parameters its TwiML passed along
    join the call's variables, and the CallSid is recorded if it was not yet known."""
    if parameters:
        call.variables = {**call.variables, **parameters}
    if call_sid and not call.provider_call_id:
        call.provider_call_id = call_sid
    call.updated_at = utcnow()


def start_call(call: Call, tools_left_out: Sequence[Mapping[str, Any]]) -> None:
    """The call's session starts: in progress from now, with the stored tools it may
    not use."""
    set_status(call, CallStatus.IN_PROGRESS)
    call.started_at = call.updated_at
    call.tools_left_out = [dict(left) for left in tools_left_out]


def remember_assistant(
    call: Call, *, name: str, metadata: Mapping[str, Any], custom_settings: Mapping[str, Any]
) -> None:
    """What the call's record and webhooks say of its assistant, as the call runs it
    (its overrides merged): its name, ``metadata`` and ``custom_settings``."""
    call.assistant_context = {
        "name": name,
        "metadata": dict(metadata),
        "custom_settings": dict(custom_settings),
    }


def end_call(call: Call, reason: str, detail: str | None) -> None:
    """End a call that had no session (never answered, refused, failed to start)."""
    set_status(call, CallStatus.ENDED)
    call.ended_at = call.updated_at
    call.end_reason = reason
    call.end_detail = detail
    call.stream_nonce = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What a finished session leaves: why it ended, the transcript, tool calls,
    knowledge used, per-turn timings, usage, the providers chosen and failed over, and
    where its recording is (None when it could not be stored)."""

    end_reason: str
    end_detail: str | None
    messages: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    knowledge: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    usage: dict[str, Any]
    providers: list[dict[str, Any]]
    recording_key: str | None


def write_record(call: Call, record: CallRecord) -> None:
    """Write a finished session's record, once, and end the call. A call already ended
    meanwhile (swept as orphaned by another process's start) keeps its status and
    still gets the record: the session did run."""
    if call.status != CallStatus.ENDED:
        set_status(call, CallStatus.ENDED)
    ended = call.updated_at = utcnow()
    call.ended_at = ended
    if call.started_at is not None:
        call.duration_seconds = round((ended - call.started_at).total_seconds(), 3)
    call.end_reason = record.end_reason
    call.end_detail = record.end_detail
    call.messages = record.messages
    call.tool_calls = record.tool_calls
    call.knowledge = record.knowledge
    call.turns = record.turns
    call.usage = record.usage
    call.providers = record.providers
    call.recording_key = record.recording_key
    call.stream_nonce = None


@dataclass(frozen=True, slots=True)
class CallProgress:
    """A live call's record so far: what a crash must not lose."""

    messages: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    knowledge: list[dict[str, Any]]
    turns: list[dict[str, Any]]


async def save_progress(session: AsyncSession, call_id: int, progress: CallProgress) -> bool:
    """Write a live call's record so far; an ended call's record is left alone (the
    final record, or the sweep's, wins). True when it was written."""
    result = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.status != CallStatus.ENDED)
        .values(
            messages=progress.messages,
            tool_calls=progress.tool_calls,
            knowledge=progress.knowledge,
            turns=progress.turns,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete_swept_record(call: Call, recording_key: str | None) -> None:
    """Round off the record of a call a sweep ended (its node died): its duration up
    to its end, and the recording recovered from its spool, if any. Its transcript,
    tool calls and timings are what its node saved turn by turn."""
    if call.started_at is not None and call.ended_at is not None:
        duration = (call.ended_at - call.started_at).total_seconds()
        call.duration_seconds = round(max(duration, 0.0), 3)
    if recording_key is not None:
        call.recording_key = recording_key
    call.updated_at = utcnow()


def write_analysis(call: Call, analysis: Mapping[str, Any]) -> None:
    """Set the call's post-call analysis (``domain.analysis``), replacing any before."""
    call.analysis = dict(analysis)
    call.updated_at = utcnow()
