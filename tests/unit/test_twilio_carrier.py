"""The Twilio package's own pieces: the TwiML it writes (every user-given value
escaped), what the answering-machine callback means for a stream, and live-call
control through the REST API (hang-up never raises, a refused transfer does)."""

from __future__ import annotations

import logging
from base64 import b64encode
from urllib.parse import parse_qs
from xml.etree import ElementTree

import httpx
import pytest

from callwright.transports.protocol import AnsweringMachine
from callwright.transports.twilio.accounts import TwilioAccount
from callwright.transports.twilio.callbacks import answering_machine
from callwright.transports.twilio.control import TwilioCallControl
from callwright.transports.twilio.rest import TwilioError
from callwright.transports.twilio.twiml import connect_stream_twiml, dial_twiml, reject_twiml

ACCOUNT = TwilioAccount("AC" + "0" * 32, "secret-token", "organization")
CALL_SID = "CA" + "1" * 32


def _element(twiml: str, path: str) -> ElementTree.Element:
    found = ElementTree.fromstring(twiml).find(path)  # noqa: S314 (our own TwiML)
    assert found is not None, twiml
    return found


def test_connect_stream_carries_url_and_parameters_escaped() -> None:
    url = "wss://example.com/telephony/twilio/stream?a=1&b=2"
    twiml = connect_stream_twiml(url, {"token": 'x"<&>y', "lang": "fr"})
    stream = _element(twiml, "Connect/Stream")
    assert stream.get("url") == url
    assert {p.get("name"): p.get("value") for p in stream.findall("Parameter")} == {
        "token": 'x"<&>y',
        "lang": "fr",
    }


@pytest.mark.parametrize(
    ("destination", "noun"),
    [("+14155550100", "Number"), ("sip:desk@example.com;transport=tls&x=<1>", "Sip")],
)
def test_dial_names_a_number_or_a_sip_uri(destination: str, noun: str) -> None:
    [target] = list(_element(dial_twiml(destination), "Dial"))
    assert (target.tag, target.text) == (noun, destination)


def test_reject_gives_the_reason() -> None:
    assert _element(reject_twiml("rejected"), "Reject").get("reason") == "rejected"


@pytest.mark.parametrize(
    ("answered_by", "kind"),
    [
        ("human", "human"),
        ("unknown", "human"),  # spoken to, rather than waiting for a beep
        ("machine_end_beep", "machine_end_beep"),
        ("machine_end_other", "machine_end_silence"),
        ("fax", "fax"),
    ],
)
def test_answered_by_becomes_the_streams_event(answered_by: str, kind: str) -> None:
    assert answering_machine(answered_by) == AnsweringMachine(kind)  # type: ignore[arg-type]


def test_an_undocumented_answered_by_is_no_event() -> None:
    assert answering_machine("robot") is None
    assert answering_machine("") is None


def test_credentials_serve_only_their_own_complete_account() -> None:
    assert ACCOUNT.serves(None)
    assert ACCOUNT.serves(ACCOUNT.account_sid)
    assert not ACCOUNT.serves("AC" + "9" * 32)
    assert not TwilioAccount(ACCOUNT.account_sid, "", "assistant").serves(None)


class _Twilio:
    """Twilio's Calls update endpoint, answering ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status >= 400:
            return httpx.Response(self.status, json={"code": 21220, "message": "not in progress"})
        return httpx.Response(200, json={"sid": CALL_SID, "status": "completed"})

    def form(self) -> dict[str, list[str]]:
        [request] = self.requests
        assert (
            request.url.path == f"/2010-04-01/Accounts/{ACCOUNT.account_sid}/Calls/{CALL_SID}.json"
        )
        credentials = f"{ACCOUNT.account_sid}:{ACCOUNT.auth_token}".encode()
        assert request.headers["authorization"] == "Basic " + b64encode(credentials).decode()
        return parse_qs(request.content.decode())


def _control(twilio: _Twilio) -> TwilioCallControl:
    return TwilioCallControl(
        ACCOUNT, CALL_SID, base_url="https://twilio.test", transport=httpx.MockTransport(twilio)
    )


async def test_hang_up_completes_the_call() -> None:
    twilio = _Twilio(200)
    await _control(twilio).hang_up()
    assert twilio.form() == {"Status": ["completed"]}


async def test_a_failed_hang_up_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    twilio = _Twilio(500)
    with caplog.at_level(logging.WARNING, logger="callwright.transports.twilio.control"):
        await _control(twilio).hang_up()
    assert f"hanging up {CALL_SID} through Twilio failed" in caplog.text


async def test_transfer_redirects_the_call_to_dial() -> None:
    twilio = _Twilio(200)
    await _control(twilio).transfer("+14155550100")
    [twiml] = twilio.form()["Twiml"]
    assert twiml == dial_twiml("+14155550100")


async def test_a_refused_transfer_is_raised() -> None:
    with pytest.raises(TwilioError, match="not in progress"):
        await _control(_Twilio(400)).transfer("+14155550100")
