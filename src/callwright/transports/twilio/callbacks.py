"""What Twilio's call callbacks say, in the transport's terms: answering-machine
detection's ``AnsweredBy`` as an ``AnsweringMachine`` event for the call's stream."""

from __future__ import annotations

from callwright.transports.protocol import AnsweringMachine

__all__ = ["answering_machine"]

# AnsweredBy values (DetectMessageEnd). "unknown" is taken for a human, so that the
# assistant speaks rather than waiting for a beep that never comes.
_ANSWERED_BY = {
    "human": AnsweringMachine("human"),
    "unknown": AnsweringMachine("human"),
    "machine_start": AnsweringMachine("machine_start"),
    "machine_end_beep": AnsweringMachine("machine_end_beep"),
    "machine_end_silence": AnsweringMachine("machine_end_silence"),
    "machine_end_other": AnsweringMachine("machine_end_silence"),
    "fax": AnsweringMachine("fax"),
}


def answering_machine(answered_by: str) -> AnsweringMachine | None:
    """The event for an ``AnsweredBy`` value; None for one Twilio does not document."""
    return _ANSWERED_BY.get(answered_by)
