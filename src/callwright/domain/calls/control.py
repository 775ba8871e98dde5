"""Live control of a call, wherever it runs: the commands (end, say), what came of one,
and the error for a call whose node cannot be reached. The node holding a call acts on
its session; the others relay the command to it (``runtime.control``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from callwright.errors import CallwrightError

__all__ = ["CallCommand", "CallOwnerUnreachable", "CommandOutcome"]


@dataclass(frozen=True, slots=True)
class CallCommand:
    """One command for a live call: ``end`` it, or ``say`` ``message`` (then hang up
    with ``end_after``)."""

    kind: Literal["end", "say"]
    message: str = ""
    end_after: bool = False


class CommandOutcome(StrEnum):
    """What came of a command: carried out by the session holding the call; the call
    is not live there (not yet connected, or already ending); or no node answered."""

    DONE = "done"
    NOT_LIVE = "not-live"
    UNREACHABLE = "unreachable"


class CallOwnerUnreachable(CallwrightError):
    """The node holding a call does not answer (it stopped, or cannot be reached
    without Redis): nothing was done. Its calls are ended once its heartbeat expires."""

    status_code = 503
    code = "call_owner_unreachable"
