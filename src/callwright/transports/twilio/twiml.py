"""The TwiML documents callwright answers Twilio with, or sends it for a live call:
connect a Media Stream, transfer (``<Dial>``), refuse an incoming call.
Every value is escaped: numbers, URLs and parameters come from users."""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

__all__ = ["connect_stream_twiml", "dial_twiml", "reject_twiml"]

_XML = '<?xml version="1.0" encoding="UTF-8"?>'


def connect_stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """TwiML that connects the call to a bidirectional Media Stream; ``parameters``
    arrive in the stream's ``start`` message as ``customParameters``."""
    params = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in parameters.items()
    )
    return (
        f"{_XML}<Response><Connect><Stream url={quoteattr(stream_url)}>{params}"
        "</Stream></Connect></Response>"
    )


def dial_twiml(destination: str) -> str:
    """TwiML that transfers the call to ``destination`` (a phone number or SIP URI)."""
    noun = "Sip" if destination.startswith("sip:") else "Number"
    return f"{_XML}<Response><Dial><{noun}>{escape(destination)}</{noun}></Dial></Response>"


def reject_twiml(reason: str = "busy") -> str:
    """TwiML that refuses an incoming call with a busy (or rejected) signal."""
    return f"{_XML}<Response><Reject reason={quoteattr(reason)}/></Response>"
