"""Outbound calls and live control: ``POST /api/v1/calls`` places the call through
Twilio's REST API, answering-machine detection feeds ``voicemail_message``, status
callbacks finish calls that were never answered, and ``end`` / ``say`` act on a live
call."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from callwright.settings import Settings
from tests.calls.harness import (
    ACCOUNT_SID,
    API_TIMEOUT,
    AUTH_TOKEN,
    FakeProviders,
    PhoneLab,
    media_stream,
    parse_stream_twiml,
    phone_lab,
    twilio_post,
)
from tests.conftest import Tenant, make_tenant

OUR_NUMBER = "+14155550199"
CUSTOMER = "+447700900123"


async def _setup(lab: PhoneLab, tenant: Tenant, **assistant: Any) -> tuple[int, int]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        created = await api.post(
            "/api/v1/assistants",
            json={
                "name": "Caller",
                "llm_settings": {"welcome_message": "Hi {{name}}, this is Acme calling."},
                "twilio_config": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
                "idle_timeout": None,
                **assistant,
            },
        )
        assert created.status_code == 201, created.text
        lab.twilio.own(OUR_NUMBER)
        number = await api.post(
            "/api/v1/phone-numbers",
            json={"number": OUR_NUMBER, "assistant_id": created.json()["id"]},
        )
        assert number.status_code == 201, number.text
    return created.json()["id"], number.json()["id"]


async def _place(lab: PhoneLab, tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        return await api.post("/api/v1/calls", json=body)


async def _record(lab: PhoneLab, tenant: Tenant, call_id: int, status: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
    ) as api:
        deadline = time.monotonic() + 10
        while True:
            record: dict[str, Any] = (await api.get(f"/api/v1/calls/{call_id}")).json()
            if record["status"] == status:
                return record
            assert time.monotonic() < deadline, record
            await asyncio.sleep(0.05)


async def test_outbound_call_reaches_voicemail(settings: Settings) -> None:
    """The callee's voicemail answers: AMD says so, the assistant leaves the message and
    hangs up through Twilio's REST API."""
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(
            lab, tenant, voicemail_message="Please call Acme back on 555 0199."
        )
        placed = await _place(
            lab,
            tenant,
            {
                "assistant_id": assistant_id,
                "phone_number_id": number_id,
                "customer_number": CUSTOMER,
                "variables": {"name": "Ada"},
            },
        )
        assert placed.status_code == 201, placed.text
        call = placed.json()
        assert (call["direction"], call["status"], call["customer_number"]) == (
            "outbound",
            "queued",
            CUSTOMER,
        )
        (create,) = [r for r in lab.twilio.requests if r[1].endswith("/Calls.json")]
        form = create[2]
        assert (form["To"], form["From"]) == ([CUSTOMER], [OUR_NUMBER])
        assert (form["MachineDetection"], form["AsyncAmd"]) == (["DetectMessageEnd"], ["true"])
        assert form["AsyncAmdStatusCallback"] == [f"{lab.base_url}/telephony/twilio/amd"]
        assert form["StatusCallback"] == [f"{lab.base_url}/telephony/twilio/status"]
        assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
        call_sid = call["provider_call_id"]
        assert call_sid.startswith("CA")
        stream_url, parameters = parse_stream_twiml(form["Twiml"][0])

        ringing = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "CallStatus": "ringing"}
        assert (
            await twilio_post(lab.base_url, "/telephony/twilio/status", ringing)
        ).status_code == 204
        await _record(lab, tenant, call["id"], "ringing")

        async with media_stream(stream_url, parameters, call_sid) as phone:
            await phone.silence_until(lambda: phone.received_media > 0)
            amd = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "AnsweredBy": "machine_end_beep"}
            answer = await twilio_post(lab.base_url, "/telephony/twilio/amd", amd)
            assert answer.status_code == 204
            await phone.silence_until(lambda: phone.closed.is_set(), limit_s=20)

        record = await _record(lab, tenant, call["id"], "ended")
        assert record["end_reason"] == "voicemail"
        said = [m for m in record["messages"] if m["role"] == "assistant"]
        assert said[-1]["text"] == "Please call Acme back on 555 0199."
        # The greeting (variables filled in) was cut short by the machine's beep.
        assert said[0].get("intended", said[0]["text"]).startswith("Hi Ada, this is Acme")
        hang_ups = [r for r in lab.twilio.requests if r[1].endswith(f"/Calls/{call_sid}.json")]
        assert hang_ups
        assert hang_ups[-1][2]["Status"] == ["completed"]


async def test_unanswered_calls_end_with_the_carriers_reason(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(lab, tenant)
        body = {"assistant_id": assistant_id, "phone_number_id": number_id}
        for status, reason in (
            ("no-answer", "customer-did-not-answer"),
            ("busy", "customer-busy"),
            ("failed", "twilio-failed-to-connect-call"),
        ):
            call = (await _place(lab, tenant, body | {"customer_number": CUSTOMER})).json()
            params = {"AccountSid": ACCOUNT_SID, "CallSid": call["provider_call_id"]}
            response = await twilio_post(
                lab.base_url, "/telephony/twilio/status", params | {"CallStatus": status}
            )
            assert response.status_code == 204
            record = await _record(lab, tenant, call["id"], "ended")
            assert record["end_reason"] == reason
            assert (record["started_at"], record["messages"]) == (None, [])


async def test_end_and_say_act_on_a_live_call(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(lab, tenant)
        call = (
            await _place(
                lab,
                tenant,
                {
                    "assistant_id": assistant_id,
                    "phone_number_id": number_id,
                    "customer_number": CUSTOMER,
                },
            )
        ).json()
        create = next(r for r in lab.twilio.requests if r[1].endswith("/Calls.json"))
        assert "MachineDetection" not in create[2]  # no voicemail message: no AMD
        stream_url, parameters = parse_stream_twiml(create[2]["Twiml"][0])
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            not_live = await api.post(f"/api/v1/calls/{call['id']}/say", json={"message": "Hi"})
            assert not_live.status_code == 409
            async with media_stream(stream_url, parameters, call["provider_call_id"]) as phone:
                await phone.silence_until(lambda: len(phone.marks_echoed) >= 1)
                before = phone.received_audio_bytes
                said = await api.post(
                    f"/api/v1/calls/{call['id']}/say",
                    json={"message": "A message from the operator."},
                )
                assert said.status_code == 200, said.text
                await phone.silence_until(lambda: len(phone.marks_echoed) >= 2)
                assert phone.received_audio_bytes > before
                ended = await api.post(f"/api/v1/calls/{call['id']}/end")
                assert ended.status_code == 200
                await phone.silence_until(lambda: phone.closed.is_set())
        record = await _record(lab, tenant, call["id"], "ended")
        assert record["end_reason"] == "manually-canceled"
        assert "A message from the operator." in [m["text"] for m in record["messages"]]


async def test_ending_a_ringing_call_cancels_it_at_twilio(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(lab, tenant)
        call = (
            await _place(
                lab,
                tenant,
                {
                    "assistant_id": assistant_id,
                    "phone_number_id": number_id,
                    "customer_number": CUSTOMER,
                },
            )
        ).json()
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            ended = (await api.post(f"/api/v1/calls/{call['id']}/end")).json()
        assert (ended["status"], ended["end_reason"]) == ("ended", "manually-canceled")
        update = lab.twilio.requests[-1]
        assert update[1].endswith(f"/Calls/{call['provider_call_id']}.json")
        assert update[2]["Status"] == ["canceled"]


async def test_placing_calls_validates_first(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        other = await make_tenant(lab.app, "Globex")
        assistant_id, number_id = await _setup(lab, tenant)
        good = {
            "assistant_id": assistant_id,
            "phone_number_id": number_id,
            "customer_number": CUSTOMER,
        }
        for patch, status in (
            ({"customer_number": "07700 900123"}, 422),
            ({"assistant_id": 999_999}, 422),
            ({"phone_number_id": 999_999}, 422),
            ({"assistant_overrides": {"max_duration_seconds": "soon"}}, 422),
            ({"unknown_field": 1}, 422),
        ):
            response = await _place(lab, tenant, good | patch)
            assert response.status_code == status, (patch, response.text)
            assert response.json()["code"]
        # Another organization can use neither the assistant nor the number.
        assert (await _place(lab, other, good)).status_code == 422
        assert not [r for r in lab.twilio.requests if r[1].endswith("/Calls.json")]


async def test_credentials_twilio_refuses_do_not_place_a_call(settings: Settings) -> None:
    """An assistant's twilio_config is not proven when it is saved; placing a call with
    it lets Twilio decide, and a refusal is the caller's 422, with no call stored."""
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(lab, tenant)
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            changed = await api.patch(
                f"/api/v1/assistants/{assistant_id}",
                json={"twilio_config": {"auth_token": "a-token-twilio-never-issued"}},
            )
            assert changed.status_code == 200, changed.text
        placed = await _place(
            lab,
            tenant,
            {
                "assistant_id": assistant_id,
                "phone_number_id": number_id,
                "customer_number": CUSTOMER,
            },
        )
        assert placed.status_code == 422, placed.text
        assert placed.json()["error"].startswith(
            f"Twilio refused the credentials of account {ACCOUNT_SID}"
        )
        assert "the assistant's twilio_config" in placed.json()["error"]
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assert (await api.get("/api/v1/calls")).json() == []


async def test_transfer_and_dtmf_on_a_phone_call(settings: Settings) -> None:
    """The caller presses keys (DTMF reaches the model as a turn); the model transfers
    the call, which goes to Twilio as a call update with ``<Dial>``."""
    from callwright.providers.protocols import ToolCall

    providers = FakeProviders(
        replies=[
            [ToolCall("call_1", "transfer_call", '{"destination": "+14155550142"}')],
        ]
    )
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(
            lab,
            tenant,
            tools_settings={
                "transfer_call": {
                    "enabled": True,
                    "transfer_numbers": ["+14155550142"],
                    "custom_message": "Putting you through.",
                }
            },
        )
        call = (
            await _place(
                lab,
                tenant,
                {
                    "assistant_id": assistant_id,
                    "phone_number_id": number_id,
                    "customer_number": CUSTOMER,
                },
            )
        ).json()
        create = next(r for r in lab.twilio.requests if r[1].endswith("/Calls.json"))
        stream_url, parameters = parse_stream_twiml(create[2]["Twiml"][0])
        async with media_stream(stream_url, parameters, call["provider_call_id"]) as phone:
            await phone.silence_until(lambda: len(phone.marks_echoed) >= 1)
            await phone.dtmf("4")
            await phone.dtmf("#")
            await phone.silence_until(lambda: phone.closed.is_set())
        record = await _record(lab, tenant, call["id"], "ended")
        assert record["end_reason"] == "assistant-forwarded-call"
        assert record["end_detail"] == "+14155550142"
        assert [m["text"] for m in record["messages"] if m["role"] == "user"] == [
            "[The caller pressed the keys: 4#]"
        ]
        assert record["tool_calls"][0]["name"] == "transfer_call"
        updates = [r for r in lab.twilio.requests if "/Calls/CA" in r[1]]
        twiml = updates[0][2]["Twiml"][0]
        assert "<Dial><Number>+14155550142</Number></Dial>" in twiml


async def test_is_active_false_refuses_an_outbound_call(settings: Settings) -> None:
    async with phone_lab(settings, FakeProviders()) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(lab, tenant, is_active=False)
        body = {"assistant_id": assistant_id, "phone_number_id": number_id}
        refused = await _place(lab, tenant, body | {"customer_number": CUSTOMER})
        assert refused.status_code == 409, refused.text
        assert f"assistant {assistant_id} is not active" in refused.json()["error"]
        assert not [r for r in lab.twilio.requests if r[1].endswith("/Calls.json")]
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT, base_url=lab.base_url, headers=tenant.headers
        ) as api:
            assert (await api.get("/api/v1/calls")).json() == []
            activated = await api.patch(
                f"/api/v1/assistants/{assistant_id}", json={"is_active": True}
            )
            assert activated.status_code == 200, activated.text
        placed = await _place(lab, tenant, body | {"customer_number": CUSTOMER})
        assert placed.status_code == 201, placed.text


async def test_send_dtmf_navigates_an_ivr_on_an_outbound_call(settings: Settings) -> None:
    """Called by an IVR menu, the model presses keys with ``send_dtmf``: Twilio's stream
    receives them as touch tones in the μ-law audio, which decode back to the keys."""
    from callwright.audio.codec import mulaw_decode
    from callwright.providers.protocols import ToolCall
    from tests.support.dtmf import detect_dtmf

    providers = FakeProviders(
        utterances=("For sales press one, then the pound key.",),
        replies=[[ToolCall("call_1", "send_dtmf", '{"digits": "1#"}')], "Thank you."],
    )
    async with phone_lab(settings, providers) as lab:
        tenant = await make_tenant(lab.app)
        assistant_id, number_id = await _setup(
            lab,
            tenant,
            llm_settings={"welcome_message": None},
            first_message_mode="assistant-waits-for-user",
            tools_settings={"enabled_tools": ["send_dtmf"]},
        )
        body = {"assistant_id": assistant_id, "phone_number_id": number_id}
        call = (await _place(lab, tenant, body | {"customer_number": CUSTOMER})).json()
        create = next(r for r in lab.twilio.requests if r[1].endswith("/Calls.json"))
        stream_url, parameters = parse_stream_twiml(create[2]["Twiml"][0])
        async with media_stream(stream_url, parameters, call["provider_call_id"]) as phone:
            await phone.speak(1.0)
            await phone.silence_until(lambda: len(phone.marks_echoed) >= 1)
            await phone.stop()
        record = await _record(lab, tenant, call["id"], "ended")
        assert record["tool_calls"][0]["name"] == "send_dtmf"
        assert detect_dtmf(mulaw_decode(bytes(phone.received_mulaw)), 8000) == "1#"
