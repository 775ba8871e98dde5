"""The slice of Twilio's REST API (2010-04-01) callwright uses, on httpx's async client:
proving an account's credentials (fetching the Account) and that the account owns a
number (reading its IncomingPhoneNumbers), placing a call (with answering-machine
detection), updating a live call (hang up, redirect to new TwiML for a transfer or a
message), and pointing a number's voice webhook at this server. Requests are
form-encoded with HTTP basic auth (AccountSid, AuthToken), as Twilio documents;
``base_url`` is the operator's ``twilio_api_base_url`` (a local fake in tests).

Errors, all ``TwilioError`` (502 to our API's caller unless a service translates them)::

    TwilioError (502, carrier_error)                  Twilio refused the request
    ├── TwilioAuthenticationFailed (502, carrier_authentication_failed)
    │                                                 401: these credentials do not
    │                                                 authenticate (or name no account)
    └── TwilioUnavailable (502, carrier_unavailable)  unreachable, timed out, or 5xx
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from callwright.errors import CallwrightError

from .accounts import TwilioAccount

__all__ = [
    "TwilioAuthenticationFailed",
    "TwilioClient",
    "TwilioError",
    "TwilioUnavailable",
]

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# The AccountSid is part of every URL path: anything else must never reach one.
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_NUMBER_SID = re.compile(r"PN[0-9a-fA-F]{32}")


class TwilioError(CallwrightError):
    """Twilio refused a request (502 to our API's caller)."""

    status_code = 502
    code = "carrier_error"


class TwilioAuthenticationFailed(TwilioError):
    """Twilio did not accept the AccountSid and AuthToken (HTTP 401), or they name no
    account it knows. Services turn this into a 422 naming where the credentials live."""

    code = "carrier_authentication_failed"


class TwilioUnavailable(TwilioError):
    """Twilio could not be reached, did not answer in time, or failed (5xx): nothing
    about the request is known, so nothing that depends on it is stored."""

    code = "carrier_unavailable"


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
        if not _ACCOUNT_SID.fullmatch(account_sid):
            raise TwilioAuthenticationFailed(f"{account_sid!r} is not a Twilio AccountSid")
        self.account_sid = account_sid
        self._account = f"/Accounts/{account_sid}"
        self._client = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/2010-04-01",
            auth=(account_sid, auth_token),
            timeout=_TIMEOUT,
            transport=transport,
        )

    @classmethod
    def for_account(
        cls,
        account: TwilioAccount,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> TwilioClient:
        """The client of ``account`` on the API at ``base_url``."""
        return cls(account.account_sid, account.auth_token, base_url=base_url, transport=transport)

    async def __aenter__(self) -> TwilioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        # Repeated keys (StatusCallbackEvent) are how Twilio takes a list.
        try:
            response = await self._client.post(
                self._account + path, content=urlencode(list(form)), headers=_FORM
            )
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        return _json_or_raise(response)

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        try:
            response = await self._client.get(self._account + path, params=dict(params or {}))
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        if response.status_code == 404:
            # Every read here is of the account or one of its lists, so only the account
            # itself can be missing: these credentials name none that Twilio knows.
            raise TwilioAuthenticationFailed(
                f"Twilio knows no account {self.account_sid} for these credentials"
            )
        return _json_or_raise(response)

    async def fetch_account(self) -> dict[str, Any]:
        """The Account resource: proves that the AccountSid and AuthToken authenticate
        (``TwilioAuthenticationFailed`` when they do not)."""
        return await self._get(".json")

    async def find_incoming_number(self, phone_number: str) -> dict[str, Any] | None:
        """The account's IncomingPhoneNumber resource for exactly ``phone_number`` (E.164),
        or None when the account does not own it. Twilio's ``PhoneNumber`` filter also
        matches partial numbers, so only an entry for this very number, of this very
        account, counts."""
        found = await self._get("/IncomingPhoneNumbers.json", {"PhoneNumber": phone_number})
        entries = found.get("incoming_phone_numbers")
        for entry in entries if isinstance(entries, list) else []:
            if (
                isinstance(entry, dict)
                and entry.get("phone_number") == phone_number
                and entry.get("account_sid", self.account_sid) == self.account_sid
                and _NUMBER_SID.fullmatch(str(entry.get("sid")))
            ):
                return entry
        return None

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
        self, number_sid: str, *, voice_url: str, status_callback: str
    ) -> dict[str, Any]:
        """Point a number's voice webhook (and status callback) at this server;
        ``number_sid`` is its IncomingPhoneNumber SID (``find_incoming_number``)."""
        return await self._post(
            f"/IncomingPhoneNumbers/{number_sid}.json",
            [
                ("VoiceUrl", voice_url),
                ("VoiceMethod", "POST"),
                ("StatusCallback", status_callback),
                ("StatusCallbackMethod", "POST"),
            ],
        )


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _unreachable(exc: httpx.HTTPError) -> TwilioUnavailable:
    reason = str(exc) or type(exc).__name__
    return TwilioUnavailable(f"Twilio could not be reached ({reason}); try again later")


def _json_or_raise(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.is_success:
        return body if isinstance(body, dict) else {}
    message = body.get("message") if isinstance(body, dict) else None
    text = f"Twilio answered {response.status_code}: {message or response.text[:200]}"
    details = [{"twilio_code": body.get("code")}] if isinstance(body, dict) else None
    if response.status_code == 401:
        raise TwilioAuthenticationFailed(text, details=details)
    if response.status_code >= 500:
        raise TwilioUnavailable(f"{text}; try again later", details=details)
    raise TwilioError(text, details=details)
