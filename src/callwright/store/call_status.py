"""A call's status (Vapi's values, unchanged on the wire and in the ``calls.status``
column) and the one table of the changes it may go through.

::

    queued ──▶ ringing ──▶ in-progress ◀──▶ forwarding
      │           │            │                │
      └───────────┴────────────┴────────────────┴──▶ ended

A web call goes from queued straight to in-progress; an inbound phone call starts
ringing; any call that is not over may end (hung up, never answered, swept after a
crash). Ended is final. The call repository (``domain.calls.repository``) is the
only writer and asks ``can_become`` before every change."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CallStatus"]


class CallStatus(StrEnum):
    """Where a call is in its life. A ``str``: compares equal to its wire value."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    FORWARDING = "forwarding"
    ENDED = "ended"

    def can_become(self, status: CallStatus) -> bool:
        """Whether a call in this status may change to ``status`` (never to itself)."""
        return status in _NEXT[self]

    @property
    def awaiting_answer(self) -> bool:
        """Queued or ringing: nobody has answered yet, so the carrier cancels the call
        rather than hanging it up, and no session has started."""
        return self in (CallStatus.QUEUED, CallStatus.RINGING)


_NEXT: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.QUEUED: frozenset({CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.ENDED}),
    CallStatus.RINGING: frozenset({CallStatus.IN_PROGRESS, CallStatus.ENDED}),
    CallStatus.IN_PROGRESS: frozenset({CallStatus.FORWARDING, CallStatus.ENDED}),
    CallStatus.FORWARDING: frozenset({CallStatus.IN_PROGRESS, CallStatus.ENDED}),
    CallStatus.ENDED: frozenset(),
}
