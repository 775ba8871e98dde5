"""The slice of Twilio's REST API (2010-04-01) callwright uses, on httpx's async client:
placing a call (with answering-machine detection), updating a live call (hang up,
redirect to new TwiML for a transfer or a message), and pointing a number's voice
webhook at this server. Requests are form-encoded with HTTP basic auth (AccountSid,
AuthToken), as Twilio documents; ``base_url`` points the client at a local fake in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

import httpx

from callwright.errors import CallwrightError

__all__ = [
    "TwilioClient",
    "TwilioError",
    "connect_stream_twiml",
    "dial_twiml",
    "hangup_twiml",
    "reject_twiml",
]

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_XML = '<?xml version="1.0" encoding="UTF-8"?>'


class TwilioError(CallwrightError):
    """Twilio refused a request or could not be reached (502 to our API's caller)."""

    status_code = 502
    code = "carrier_error"


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
    escaped = destination.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"{_XML}<Response><Dial><{noun}>{escaped}</{noun}></Dial></Response>"


def hangup_twiml() -> str:
    return f"{_XML}<Response><Hangup/></Response>"


def reject_twiml(reason: str = "busy") -> str:
    """TwiML that refuses an incoming call with a busy (or rejected) signal."""
    return f"{_XML}<Response><Reject reason={quoteattr(reason)}/></Response>"


class TwilioClient:
    """One Twilio account's REST client. Use as an async context manager, or call
    ``aclose``."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str = "https://api.twilio.com",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account_sid = account_sid
        self._client = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}",
            auth=(account_sid, auth_token),
            timeout=_TIMEOUT,
            transport=transport,
        )

    async def __aenter__(self) -> TwilioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        # Repeated keys (StatusCallbackEvent) are how Twilio takes a list.
        try:
            response = await self._client.post(path, content=urlencode(list(form)), headers=_FORM)
        except httpx.HTTPError as exc:
            raise TwilioError(f"Twilio could not be reached: {exc}") from exc
        return _json_or_raise(response)

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.get(path, params=dict(params))
        except httpx.HTTPError as exc:
            raise TwilioError(f"Twilio could not be reached: {exc}") from exc
        return _json_or_raise(response)

    async def create_call(
        self,
        *,
        to: str,
        from_: str,
        twiml: str,
        status_callback: str,
        machine_detection: bool = False,
        amd_callback: str | None = None,
        timeout_s: int = 30,
    ) -> dict[str, Any]:
        """Place a call that runs ``twiml`` once answered; returns Twilio's Call resource."""
        form: list[tuple[str, str]] = [
            ("To", to),
            ("From", from_),
            ("Twiml", twiml),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"),
            ("Timeout", str(timeout_s)),
        ]
        form += [
            ("StatusCallbackEvent", event)
            for event in ("initiated", "ringing", "answered", "completed")
        ]
        if machine_detection and amd_callback:
            form += [
                ("MachineDetection", "DetectMessageEnd"),
                ("AsyncAmd", "true"),
                ("AsyncAmdStatusCallback", amd_callback),
                ("AsyncAmdStatusCallbackMethod", "POST"),
            ]
        return await self._post("/Calls.json", form)

    async def update_call(
        self, call_sid: str, *, status: str | None = None, twiml: str | None = None
    ) -> dict[str, Any]:
        """Hang up (``status="completed"``) or redirect a live call to new ``twiml``."""
        form: list[tuple[str, str]] = []
        if status is not None:
            form.append(("Status", status))
        if twiml is not None:
            form.append(("Twiml", twiml))
        return await self._post(f"/Calls/{call_sid}.json", form)

    async def configure_number(
        self, phone_number: str, *, voice_url: str, status_callback: str
    ) -> dict[str, Any]:
        """Point ``phone_number``'s voice webhook (and status callback) at this server."""
        found = await self._get("/IncomingPhoneNumbers.json", {"PhoneNumber": phone_number})
        numbers = found.get("incoming_phone_numbers") or []
        if not numbers:
            raise TwilioError(
                f"{phone_number} is not a number of Twilio account {self.account_sid}"
            )
        sid = numbers[0]["sid"]
        return await self._post(
            f"/IncomingPhoneNumbers/{sid}.json",
            [
                ("VoiceUrl", voice_url),
                ("VoiceMethod", "POST"),
                ("StatusCallback", status_callback),
                ("StatusCallbackMethod", "POST"),
            ],
        )


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _json_or_raise(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.is_success:
        return body if isinstance(body, dict) else {}
    message = body.get("message") if isinstance(body, dict) else None
    raise TwilioError(
        f"Twilio answered {response.status_code}: {message or response.text[:200]}",
        details=[{"twilio_code": body.get("code")}] if isinstance(body, dict) else None,
    )
